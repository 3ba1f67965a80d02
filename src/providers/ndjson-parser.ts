import { FrameTooLargeError, MAX_FRAME_CHARS } from './frame-too-large.js';
import { createUtf8ChunkDecoder } from './utf8-chunks.js';

const MAX_PREVIEW = 200;

/** A line of an NDJSON stream that is not valid JSON. */
export class NdjsonParseError extends Error {
  /** The offending line (without its line end). */
  readonly line: string;
  /** 1-based, counting every line including blank ones. */
  readonly lineNumber: number;

  constructor(line: string, lineNumber: number, cause: unknown) {
    const preview = line.length > MAX_PREVIEW ? `${line.slice(0, MAX_PREVIEW)}…` : line;
    super(`malformed NDJSON on line ${lineNumber}: ${JSON.stringify(preview)}`, { cause });
    this.name = 'NdjsonParseError';
    this.line = line;
    this.lineNumber = lineNumber;
  }
}

/** How an NDJSON stream ended, from {@link NdjsonParser.end}. */
export interface NdjsonEnd {
  /** The last line had no line end (it was still parsed, and emitted if valid). */
  truncated: boolean;
}

/**
 * An incremental NDJSON (newline-delimited JSON) parser, as Ollama streams. Feed it byte or
 * string chunks split anywhere; it emits each line's parsed value. Lines end with `\n` (a `\r`
 * before it is dropped); blank lines are skipped. A malformed line throws {@link NdjsonParseError}
 * after the values before it were emitted; the parser stays usable, and the lines after the bad
 * one are parsed on the next `push` or `end`. A line longer than `maxLineChars` (default
 * {@link MAX_FRAME_CHARS}) throws {@link FrameTooLargeError}.
 */
export class NdjsonParser {
  constructor(private readonly maxLineChars = MAX_FRAME_CHARS) {}

  private readonly decoder = createUtf8ChunkDecoder();
  /** Text not yet parsed: an unterminated line, or lines left after a malformed one threw. */
  private buffer = '';
  /** Where in `buffer` a `\n` may first appear (the part before was searched already). */
  private searchFrom = 0;
  private lineNumber = 0;

  /** Parses a chunk and calls `emit` for each complete line's value. */
  push(chunk: Uint8Array | string, emit: (value: unknown) => void): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk);
    this.buffer = this.buffer === '' ? text : this.buffer + text;
    this.drain(emit);
    // What is left is one unfinished line (or lines after a malformed one, checked next time).
    if (this.buffer.length > this.maxLineChars && this.buffer.indexOf('\n') === -1) throw new FrameTooLargeError(this.maxLineChars);
  }

  /**
   * Ends the input: parses what is left, including a last line without a line end. May throw
   * {@link NdjsonParseError}.
   */
  end(emit: (value: unknown) => void): NdjsonEnd {
    this.buffer += this.decoder.end();
    this.drain(emit);
    const rest = this.buffer;
    this.buffer = '';
    this.searchFrom = 0;
    if (rest.trim() === '') return { truncated: false };
    this.line(rest, emit);
    return { truncated: true };
  }

  private drain(emit: (value: unknown) => void): void {
    const buffer = this.buffer;
    let start = 0;
    let searched = false;
    try {
      let nl = buffer.indexOf('\n', this.searchFrom);
      while (nl !== -1) {
        const line = buffer.slice(start, nl);
        start = nl + 1;
        this.line(line, emit);
        nl = buffer.indexOf('\n', start);
      }
      searched = true;
    } finally {
      // Also on a throw: the bad line is consumed, the lines after it wait for the next call.
      if (start > 0) this.buffer = buffer.slice(start);
      this.searchFrom = searched ? buffer.length - start : 0;
    }
  }

  private line(raw: string, emit: (value: unknown) => void): void {
    this.lineNumber += 1;
    const line = raw.charCodeAt(raw.length - 1) === 13 /* '\r' */ ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line) as unknown;
    } catch (error) {
      throw new NdjsonParseError(line, this.lineNumber, error);
    }
    emit(value);
  }
}

/**
 * Parses a whole byte or text stream into values; throws {@link NdjsonParseError} at the first
 * malformed line. The return value is the {@link NdjsonEnd}.
 */
export async function* readNdjson(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown, NdjsonEnd, undefined> {
  const parser = new NdjsonParser();
  const batch: unknown[] = [];
  const emit = (value: unknown) => void batch.push(value);
  const flush = function* () {
    for (let i = 0; i < batch.length; i++) yield batch[i];
    batch.length = 0;
  };
  for await (const chunk of source) {
    try {
      parser.push(chunk, emit);
    } catch (error) {
      yield* flush();
      throw error;
    }
    yield* flush();
  }
  let end: NdjsonEnd;
  try {
    end = parser.end(emit);
  } catch (error) {
    yield* flush();
    throw error;
  }
  yield* flush();
  return end;
}

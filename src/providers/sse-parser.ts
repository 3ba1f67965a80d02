import { FrameTooLargeError, MAX_FRAME_CHARS } from './frame-too-large.js';
import { createUtf8ChunkDecoder } from './utf8-chunks.js';

/** One Server-Sent Event. */
export interface SseEvent {
  /** The `event:` field; absent for unnamed events (the spec's default type, `message`). */
  event?: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The `id:` field, when this event set one. */
  id?: string;
  /** The `retry:` field (ms), when this event set one. */
  retry?: number;
}

/** How a stream ended, from {@link SseParser.end}. */
export interface SseEnd {
  /**
   * True when the input stopped inside an event: an unterminated line, or fields not followed by
   * the blank line that dispatches them. Callers treat it as a cut stream.
   */
  truncated: boolean;
  /** The event that was being built when the input stopped (not dispatched), if it had data. */
  pending?: SseEvent;
}

const LF = 10;

/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream grammar). Feed it byte or
 * string chunks split anywhere — inside a line, between `\r` and `\n`, inside a UTF-8 character —
 * and it emits the same events as for the whole input. Handles `\n`, `\r\n` and `\r` line ends,
 * multi-line `data:`, comments, a leading BOM, and reports an input that ends mid-event. An event
 * (or line) longer than `maxEventChars` (default {@link MAX_FRAME_CHARS}) throws {@link FrameTooLargeError}.
 */
export class SseParser {
  constructor(private readonly maxEventChars = MAX_FRAME_CHARS) {}

  private readonly decoder = createUtf8ChunkDecoder();
  /** An unterminated line carried over from earlier chunks. */
  private partial = '';
  /** The previous chunk ended with `\r`: a `\n` opening the next one belongs to it. */
  private skipLf = false;
  private started = false;
  private data = '';
  private hasData = false;
  private eventName: string | undefined;
  private id: string | undefined;
  private retry: number | undefined;
  private hasFields = false;

  /** Parses a chunk and calls `emit` for each event it completes. */
  push(chunk: Uint8Array | string, emit: (event: SseEvent) => void): void {
    let text: string;
    if (typeof chunk === 'string') {
      // The byte decoder drops a leading BOM; a string keeps it, so drop it here.
      text = !this.started && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    } else {
      text = this.decoder.decode(chunk);
    }
    if (chunk.length > 0) this.started = true;
    this.feed(text, emit);
  }

  /**
   * Ends the input: flushes the decoder and reports whether it stopped mid-event. Per the spec an
   * unfinished event is not dispatched; it is returned as `pending` for the caller to judge.
   */
  end(emit: (event: SseEvent) => void): SseEnd {
    this.feed(this.decoder.end(), emit);
    let truncated = false;
    if (this.partial !== '') {
      truncated = true;
      const line = this.partial;
      this.partial = '';
      this.line(line, emit);
    }
    if (this.hasFields) truncated = true;
    const pending = this.hasData ? this.current() : undefined;
    this.reset();
    return pending ? { truncated, pending } : { truncated };
  }

  private feed(text: string, emit: (event: SseEvent) => void): void {
    const len = text.length;
    if (len === 0) return;
    let start = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // Two indexOf scans beat a per-character loop; each is redone only when passed.
    let nextLf = text.indexOf('\n', start);
    let nextCr = text.indexOf('\r', start);
    while (nextLf !== -1 || nextCr !== -1) {
      const isCr = nextCr !== -1 && (nextLf === -1 || nextCr < nextLf);
      const eol = isCr ? nextCr : nextLf;
      const piece = text.slice(start, eol);
      const line = this.partial === '' ? piece : this.partial + piece;
      this.partial = '';
      this.line(line, emit);
      start = eol + 1;
      if (isCr) {
        if (start === len) this.skipLf = true;
        else if (text.charCodeAt(start) === LF) start += 1;
      }
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf('\n', start);
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf('\r', start);
    }
    if (start < len) {
      this.partial += text.slice(start);
      if (this.partial.length > this.maxEventChars) throw new FrameTooLargeError(this.maxEventChars);
    }
  }

  private line(line: string, emit: (event: SseEvent) => void): void {
    if (line === '') {
      if (this.hasData) emit(this.current());
      this.reset();
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return; // comment (keep-alive)
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 /* ' ' */ ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case 'data':
        this.data = this.hasData ? `${this.data}\n${value}` : value;
        this.hasData = true;
        if (this.data.length > this.maxEventChars) throw new FrameTooLargeError(this.maxEventChars);
        break;
      case 'event':
        this.eventName = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        return; // unknown fields are ignored, and do not make an event pending
    }
    this.hasFields = true;
  }

  private current(): SseEvent {
    const event: SseEvent = { data: this.data };
    if (this.eventName !== undefined && this.eventName !== '') event.event = this.eventName;
    if (this.id !== undefined) event.id = this.id;
    if (this.retry !== undefined) event.retry = this.retry;
    return event;
  }

  private reset(): void {
    this.data = '';
    this.hasData = false;
    this.eventName = undefined;
    this.id = undefined;
    this.retry = undefined;
    this.hasFields = false;
  }
}

/**
 * Parses a whole byte or text stream (e.g. a fetch body) into events. The generator's return
 * value is the {@link SseEnd}, for callers that iterate by hand and need to know about truncation.
 */
export async function* readSseEvents(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<SseEvent, SseEnd, undefined> {
  const parser = new SseParser();
  const batch: SseEvent[] = [];
  const emit = (event: SseEvent) => void batch.push(event);
  for await (const chunk of source) {
    parser.push(chunk, emit);
    for (let i = 0; i < batch.length; i++) yield batch[i]!;
    batch.length = 0;
  }
  const end = parser.end(emit);
  for (let i = 0; i < batch.length; i++) yield batch[i]!;
  return end;
}

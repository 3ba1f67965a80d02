import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError } from './frame-too-large.js';
import { NdjsonParseError, NdjsonParser, readNdjson, type NdjsonEnd } from './ndjson-parser.js';
import { splitAt } from '../../test/support/provider-test.js';

const encoder = new TextEncoder();

function parseChunks(chunks: Array<Uint8Array | string>): { values: unknown[]; end: NdjsonEnd } {
  const parser = new NdjsonParser();
  const values: unknown[] = [];
  const emit = (v: unknown) => void values.push(v);
  for (const chunk of chunks) parser.push(chunk, emit);
  return { values, end: parser.end(emit) };
}

const OLLAMA_STREAM =
  '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false}\n' +
  '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"lo"},"done":false}\n' +
  '{"model":"llama3.2","created_at":"2025-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":298}\n';

describe('NdjsonParser', () => {
  it('throws FrameTooLargeError for an unfinished line past its limit; whole lines of any count pass', () => {
    const values: unknown[] = [];
    const parser = new NdjsonParser(8);
    parser.push('[1,2,3]\n[4,5,6]\n[7,', (v) => values.push(v));
    expect(values).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(() => parser.push('8,9,10]', () => {})).toThrow(FrameTooLargeError);
  });

  it('parses Ollama’s /api/chat stream', () => {
    const { values, end } = parseChunks([OLLAMA_STREAM]);
    expect(values).toHaveLength(3);
    expect(values[2]).toMatchObject({ done: true, done_reason: 'stop', eval_count: 298 });
    expect(end).toEqual({ truncated: false });
  });

  it('parses Ollama’s mid-stream {"error": …} line like any other value', () => {
    const { values } = parseChunks(['{"done":false}\n{"error":"an error was encountered while running the model"}\n']);
    expect(values).toEqual([{ done: false }, { error: 'an error was encountered while running the model' }]);
  });

  it('accepts \\r\\n and skips blank lines', () => {
    expect(parseChunks(['{"a":1}\r\n\r\n  \n{"b":2}\r\n']).values).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('parses a last line without a line end and reports it', () => {
    expect(parseChunks(['{"a":1}\n{"b":', '2}']).values).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseChunks(['{"a":1}\n{"b":2}']).end).toEqual({ truncated: true });
  });

  it('throws a typed error on a malformed line, after the values before it, and stays usable', () => {
    const parser = new NdjsonParser();
    const values: unknown[] = [];
    const emit = (v: unknown) => void values.push(v);
    let error: unknown;
    try {
      parser.push('{"a":1}\n{"b": nope}\n{"c":3}\n{"d"', emit);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NdjsonParseError);
    expect(error).toMatchObject({ name: 'NdjsonParseError', line: '{"b": nope}', lineNumber: 2 });
    expect((error as NdjsonParseError).cause).toBeInstanceOf(SyntaxError);
    expect(values).toEqual([{ a: 1 }]);
    parser.push(':4}\n', emit);
    expect(values).toEqual([{ a: 1 }, { c: 3 }, { d: 4 }]);
  });

  it('throws on a cut final line at end', () => {
    const parser = new NdjsonParser();
    parser.push('{"a":1}\n{"b":', () => {});
    expect(() => parser.end(() => {})).toThrow(NdjsonParseError);
  });

  it('keeps a UTF-8 character split across byte chunks whole', () => {
    const bytes = encoder.encode('{"t":"🌍 世界"}\n');
    const at = bytes.indexOf(0xf0) + 1;
    expect(parseChunks([bytes.slice(0, at), bytes.slice(at)]).values).toEqual([{ t: '🌍 世界' }]);
  });

  it('limits the preview in the error message', () => {
    const long = `{${'x'.repeat(500)}`;
    const error = new NdjsonParseError(long, 1, undefined);
    expect(error.message.length).toBeLessThan(260);
    expect(error.line).toBe(long);
  });

  it('readNdjson yields values, then throws at a malformed line', async () => {
    async function* body() {
      yield encoder.encode('{"a":1}\n{"b"');
      yield encoder.encode(':2}\n{oops}\n');
    }
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const value of readNdjson(body())) seen.push(value);
      })(),
    ).rejects.toBeInstanceOf(NdjsonParseError);
    expect(seen).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('readNdjson returns the end', async () => {
    async function* body() {
      yield '{"a":1}\n';
    }
    const generator = readNdjson(body());
    expect(await generator.next()).toEqual({ done: false, value: { a: 1 } });
    expect(await generator.next()).toEqual({ done: true, value: { truncated: false } });
  });
});

describe('NdjsonParser properties', () => {
  it('random byte chunk boundaries give the values written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 10 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        (written, lineEnd, blankLines, cuts) => {
          const text = written.map((v) => JSON.stringify(v) + lineEnd + (blankLines ? lineEnd : '')).join('');
          const bytes = encoder.encode(text);
          const chunked = parseChunks(splitAt(bytes, cuts));
          expect(chunked).toEqual(parseChunks([text]));
          expect(chunked.values).toEqual(written.map((v) => JSON.parse(JSON.stringify(v)) as unknown));
          expect(chunked.end).toEqual({ truncated: false });
        },
      ),
    );
  });

  it('random chunking of any text gives the same values, or the same error', () => {
    const outcome = (chunks: string[]) => {
      try {
        return parseChunks(chunks);
      } catch (error) {
        return error instanceof NdjsonParseError ? { line: error.line, lineNumber: error.lineNumber } : error;
      }
    };
    const line = fc.oneof(fc.json(), fc.string({ maxLength: 8 }));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
        const text = lines.join('\n');
        expect(outcome(splitAt(text, cuts))).toEqual(outcome([text]));
      }),
    );
  });
});

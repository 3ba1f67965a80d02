import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError } from './frame-too-large.js';
import { SseParser, readSseEvents, type SseEnd, type SseEvent } from './sse-parser.js';
import { splitAt } from '../../test/support/provider-test.js';

const encoder = new TextEncoder();

function parseChunks(chunks: Array<Uint8Array | string>): { events: SseEvent[]; end: SseEnd } {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  const emit = (e: SseEvent) => void events.push(e);
  for (const chunk of chunks) parser.push(chunk, emit);
  const end = parser.end(emit);
  return { events, end };
}

const parse = (text: string) => parseChunks([text]);

/** Splits `bytes` at the given (sorted, deduplicated) cut points. */

describe('SseParser', () => {
  it('throws FrameTooLargeError for a line or an event past its limit, and not at the limit', () => {
    const emit = () => {};
    expect(() => new SseParser(10).push('data: 12345678901', emit)).toThrow(FrameTooLargeError);
    expect(() => new SseParser(10).push('data: 123456\ndata: 7890\n', emit)).toThrow(FrameTooLargeError);
    const events: SseEvent[] = [];
    const fits = new SseParser(10);
    fits.push('data: 1234\ndata: 56789\n\n', (e) => events.push(e));
    expect(events).toEqual([{ data: '1234\n56789' }]);
  });

  it('parses OpenAI’s data-only stream, [DONE] included', () => {
    const text =
      'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n' +
      'data: [DONE]\n\n';
    const { events, end } = parse(text);
    expect(events.map((e) => e.data)).toEqual([
      '{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}',
      '{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
      '[DONE]',
    ]);
    expect(events.every((e) => e.event === undefined)).toBe(true);
    expect(end).toEqual({ truncated: false });
  });

  it('parses Anthropic’s named events, ping included', () => {
    const text =
      'event: message_start\ndata: {"type":"message_start"}\n\n' +
      'event: ping\ndata: {"type":"ping"}\n\n' +
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n' +
      'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    expect(parse(text).events).toEqual([
      { event: 'message_start', data: '{"type":"message_start"}' },
      { event: 'ping', data: '{"type":"ping"}' },
      { event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}' },
      { event: 'message_stop', data: '{"type":"message_stop"}' },
    ]);
  });

  it('handles \\r\\n (Gemini) and bare \\r line ends', () => {
    expect(parse('data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n').events).toEqual([{ data: '{"a":1}' }, { data: '{"b":2}' }]);
    expect(parse('event: x\rdata: 1\r\r').events).toEqual([{ event: 'x', data: '1' }]);
  });

  it('joins multi-line data with \\n', () => {
    expect(parse('data: first\ndata: second\ndata:\ndata:  fourth\n\n').events).toEqual([{ data: 'first\nsecond\n\n fourth' }]);
  });

  it('ignores comments and unknown fields', () => {
    expect(parse(': keep-alive\n\n:\nfoo: bar\ndata: x\n: mid\n\n').events).toEqual([{ data: 'x' }]);
  });

  it('reads id and retry; a field without a colon has an empty value', () => {
    expect(parse('id: 7\nretry: 1500\ndata\n\n').events).toEqual([{ data: '', id: '7', retry: 1500 }]);
    expect(parse('retry: soon\ndata: x\n\n').events).toEqual([{ data: 'x' }]);
  });

  it('does not dispatch an event without data', () => {
    expect(parse('event: lonely\n\ndata: x\n\n').events).toEqual([{ data: 'x' }]);
  });

  it('strips a leading BOM from strings and bytes', () => {
    expect(parse('\uFEFFdata: x\n\n').events).toEqual([{ data: 'x' }]);
    expect(parseChunks([new Uint8Array([0xef, 0xbb, 0xbf]), encoder.encode('data: x\n\n')]).events).toEqual([{ data: 'x' }]);
  });

  it('reports a missing final blank line as truncation, with the pending event', () => {
    const { events, end } = parse('data: {"a":1}\n\ndata: {"candidates":[]}\n');
    expect(events).toEqual([{ data: '{"a":1}' }]);
    expect(end).toEqual({ truncated: true, pending: { data: '{"candidates":[]}' } });
  });

  it('reports an unterminated last line as truncation', () => {
    expect(parse('data: {"a":1}\n\ndata: {"b"').end).toEqual({ truncated: true, pending: { data: '{"b"' } });
    expect(parse('data: x\n\n: ping').end).toEqual({ truncated: true });
    expect(parse('').end).toEqual({ truncated: false });
  });

  it('keeps a UTF-8 character split across byte chunks whole', () => {
    const bytes = encoder.encode('data: héllo 🌍 世界\n\n');
    const at = bytes.indexOf(0xf0) + 2; // inside the 4-byte emoji
    expect(parseChunks([bytes.slice(0, at), bytes.slice(at)]).events).toEqual([{ data: 'héllo 🌍 世界' }]);
  });

  it('treats \\r then \\n in the next chunk as one line end', () => {
    expect(parseChunks(['data: a\r', '\ndata: b\r', '\n\r', '\n']).events).toEqual([{ data: 'a\nb' }]);
  });

  it('emits events as soon as their blank line arrives', () => {
    const parser = new SseParser();
    const events: SseEvent[] = [];
    parser.push('data: 1\n', (e) => events.push(e));
    expect(events).toEqual([]);
    parser.push('\nda', (e) => events.push(e));
    expect(events).toEqual([{ data: '1' }]);
  });

  it('readSseEvents yields the events of a byte stream and returns the end', async () => {
    async function* body() {
      yield encoder.encode('event: a\nda');
      yield encoder.encode('ta: 1\n\ndata: 2\n\n');
      yield encoder.encode('data: 3');
    }
    const generator = readSseEvents(body());
    const events: SseEvent[] = [];
    let result = await generator.next();
    while (!result.done) {
      events.push(result.value);
      result = await generator.next();
    }
    expect(events).toEqual([{ event: 'a', data: '1' }, { data: '2' }]);
    expect(result.value).toEqual({ truncated: true, pending: { data: '3' } });
  });
});

describe('SseParser properties', () => {
  // Field values never contain line ends; a mix of ASCII, multi-byte and astral characters.
  const valueChar = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ019 {}":,[]-_é'.split('')) },
    { weight: 1, arbitrary: fc.constantFrom('世', '界', '🌍', '😀', 'ß', '\u00a0') },
  );
  const value = fc.string({ unit: valueChar, maxLength: 30 });
  const eventArb = fc.record(
    {
      event: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnop_'.split('')), minLength: 1, maxLength: 12 }),
      dataLines: fc.array(value, { minLength: 1, maxLength: 4 }),
      id: fc.string({ unit: fc.constantFrom(...'0123456789abc'.split('')), maxLength: 5 }),
      comment: value,
    },
    { requiredKeys: ['dataLines'] },
  );
  const eol = fc.constantFrom('\n', '\r\n', '\r');

  function serialise(events: Array<typeof eventArb extends fc.Arbitrary<infer T> ? T : never>, lineEnd: string): string {
    let text = '';
    for (const e of events) {
      if (e.comment !== undefined) text += `:${e.comment}${lineEnd}`;
      if (e.event !== undefined) text += `event: ${e.event}${lineEnd}`;
      if (e.id !== undefined) text += `id:${e.id}${lineEnd}`;
      for (const line of e.dataLines) text += `data: ${line}${lineEnd}`;
      text += lineEnd;
    }
    return text;
  }

  it('random byte chunk boundaries give the events of the whole input, which are the events written', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), eol, fc.array(fc.nat(), { maxLength: 12 }), (written, lineEnd, cuts) => {
        const text = serialise(written, lineEnd);
        const bytes = encoder.encode(text);
        const whole = parse(text);
        const chunked = parseChunks(splitAt(bytes, cuts));
        expect(chunked).toEqual(whole);
        expect(whole.end).toEqual({ truncated: false });
        expect(whole.events).toEqual(
          written.map((e) => {
            const out: SseEvent = { data: e.dataLines.join('\n') };
            if (e.event !== undefined) out.event = e.event;
            if (e.id !== undefined) out.id = e.id;
            return out;
          }),
        );
      }),
    );
  });

  it('random string chunk boundaries (between \\r and \\n too) and mixed line ends give the same events', () => {
    const lineish = fc.oneof(
      value.map((v) => `data: ${v}`),
      value.map((v) => `event:${v}`),
      value.map((v) => `:${v}`),
      fc.constant(''),
      fc.constant('id: 1'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(lineish, eol), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 12 }), (lines, cuts) => {
        const text = lines.map(([l, e]) => l + e).join('');
        expect(parseChunks(splitAt(text, cuts))).toEqual(parse(text));
      }),
    );
  });

  it('any byte soup: never throws, chunking never changes the outcome', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        expect(parseChunks(splitAt(bytes, cuts))).toEqual(parseChunks([bytes]));
      }),
    );
  });
});

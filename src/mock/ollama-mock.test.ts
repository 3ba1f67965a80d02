import { afterEach, describe, expect, it } from 'vitest';
import { collectStream } from '../llm/collect-stream.js';
import { isLlmError } from '../llm/llm-error.js';
import { ollama } from '../providers/ollama.js';
import {
  OLLAMA_RUN_ERROR,
  ollamaMockError,
  ollamaMockReply,
  parseOllamaMockScenario,
  splitIntoChunks,
  startOllamaMock,
  type OllamaMock,
  type OllamaMockErrorKind,
  type OllamaMockScenario,
} from './ollama-mock.js';

let mock: OllamaMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function start(scenario: OllamaMockScenario): Promise<OllamaMock> {
  mock = await startOllamaMock(scenario);
  return mock;
}

function chat(url: string, body: Record<string, unknown>, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...init });
}

const lines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

const hello = { model: 'llama3.2', messages: [{ role: 'user', content: 'Hello there' }] };

describe('startOllamaMock: /api/chat success', () => {
  it('streams NDJSON by default: done:false chunks, then a done:true object with metrics', async () => {
    const { url } = await start([{ type: 'text', text: 'Hi there friend', usage: { inputTokens: 26, outputTokens: 3 } }]);
    const res = await chat(url, hello);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const objects = lines(text) as Record<string, unknown>[];
    expect(objects.map((o) => (o.message as { content: string }).content)).toEqual(['Hi ', 'there ', 'friend', '']);
    expect(objects.slice(0, 3).every((o) => o.done === false && o.model === 'llama3.2')).toBe(true);
    expect(objects[3]).toMatchObject({ done: true, done_reason: 'stop', prompt_eval_count: 26, eval_count: 3 });
    expect(typeof objects[3]!.total_duration).toBe('number');
    expect(typeof objects[0]!.created_at).toBe('string');
  });

  it('answers one JSON object for "stream": false', async () => {
    const { url } = await start([{ type: 'text', text: 'Hi there', thinking: 'hmm', doneReason: 'length' }]);
    const res = await chat(url, { ...hello, stream: false });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({
      model: 'llama3.2',
      message: { role: 'assistant', content: 'Hi there', thinking: 'hmm' },
      done: true,
      done_reason: 'length',
    });
  });

  it('streams thinking first, then given chunks, then tool calls with object arguments', async () => {
    const { url } = await start([
      {
        type: 'text',
        text: 'ab',
        chunks: ['a', 'b'],
        thinking: 'let me see',
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Tokyo' } }],
      },
    ]);
    const objects = lines(await (await chat(url, hello)).text()) as { message: Record<string, unknown>; done: boolean }[];
    expect(objects.map((o) => o.message)).toEqual([
      { role: 'assistant', content: '', thinking: 'let ' },
      { role: 'assistant', content: '', thinking: 'me ' },
      { role: 'assistant', content: '', thinking: 'see' },
      { role: 'assistant', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] },
      { role: 'assistant', content: '' },
    ]);
  });

  it('estimates usage when the scenario gives none', async () => {
    const { url } = await start([{ type: 'text', text: 'one two' }]);
    const body = (await (await chat(url, { ...hello, stream: false })).json()) as Record<string, number>;
    expect(body.prompt_eval_count).toBe(Math.ceil('Hello there'.length / 4));
    expect(body.eval_count).toBe(2);
  });

  it('uses the reply model when given', async () => {
    const { url } = await start([{ type: 'text', text: 'x', model: 'qwen3:8b' }]);
    expect(await (await chat(url, { ...hello, stream: false })).json()).toMatchObject({ model: 'qwen3:8b' });
  });
});

describe('startOllamaMock: failures', () => {
  const kinds: [OllamaMockErrorKind, number, RegExp][] = [
    ['not_found', 404, /^model "llama3\.2" not found, try pulling it first$/],
    ['overloaded', 503, /^server busy, please try again\. {2}maximum pending requests exceeded$/],
    ['server', 500, /terminated/],
    ['context_length', 400, /^the prompt is longer than the context length currently available to the model;/],
    ['invalid_request', 400, /invalid/],
    ['rate_limit', 429, /too many requests/],
  ];
  for (const [kind, status, message] of kinds) {
    it(`answers error ${kind} with ${status} and {"error": "…"}`, async () => {
      const { url } = await start([{ type: 'error', kind }]);
      for (const stream of [true, false]) {
        const res = await chat(url, { ...hello, stream });
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        const body = (await res.json()) as { error: string };
        expect(Object.keys(body)).toEqual(['error']);
        expect(body.error).toMatch(message);
      }
    });
  }

  it('lets an error reply override status and message', async () => {
    const { url } = await start([{ type: 'error', kind: 'server', status: 502, message: 'cloud model unreachable' }]);
    const res = await chat(url, hello);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: 'cloud model unreachable' });
  });

  it('writes a final {"error"} line after output, with status 200', async () => {
    const { url } = await start([{ type: 'stream-error-after', text: 'partial answer' }]);
    const res = await chat(url, hello);
    expect(res.status).toBe(200);
    const objects = lines(await res.text());
    expect(objects).toHaveLength(3);
    expect(objects[2]).toEqual({ error: OLLAMA_RUN_ERROR });
  });

  it('sends a stream error before any output as a 500, as Ollama does', async () => {
    const { url } = await start([
      { type: 'stream-error-after', text: '', message: 'boom' },
      { type: 'stream-error-after', text: 'some text' },
    ]);
    const early = await chat(url, hello);
    expect(early.status).toBe(500);
    expect(await early.json()).toEqual({ error: 'boom' });
    const nonStreaming = await chat(url, { ...hello, stream: false });
    expect(nonStreaming.status).toBe(500);
    expect(await nonStreaming.json()).toEqual({ error: OLLAMA_RUN_ERROR });
  });

  it('cuts the connection after the text (no done:true)', async () => {
    const { url } = await start([{ type: 'cut-after', text: 'a b' }]);
    const res = await chat(url, hello);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('truncate-after streams the text, then ends the body cleanly with no done:true line', async () => {
    const m = await start([{ type: 'truncate-after', text: 'half an' }]);
    const res = await chat(m.url, hello);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const objects = lines(await res.text()) as Record<string, unknown>[];
    expect(objects.map((o) => (o.message as { content: string }).content)).toEqual(['half ', 'an']);
    expect(objects.every((o) => o.done === false)).toBe(true);
    expect(m.requests[0]!.disconnected).toBe(false);
  });

  it('truncate-after answers "stream": false with half a JSON body, ended cleanly', async () => {
    const { url } = await start([{ type: 'truncate-after', text: 'half an answer' }]);
    const res = await chat(url, { ...hello, stream: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text.startsWith('{"model":"llama3.2"')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
  });

  it("truncate-after is what Ballast's ollama adapter classifies as a truncated stream", async () => {
    const { url } = await start([{ type: 'truncate-after', text: 'half an' }]);
    const provider = ollama({ baseURL: url });
    const error = await collectStream(provider.stream({ messages: [{ role: 'user', content: 'hi' }] }, { model: 'llama3.2', signal: new AbortController().signal })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLlmError(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'connection', code: 'stream_truncated', provider: 'ollama' });
  });

  it('stalls after the text until the client leaves, and records the disconnect', async () => {
    const m = await start([{ type: 'stall-after', text: 'a b' }]);
    const controller = new AbortController();
    const res = await chat(m.url, hello, { signal: controller.signal });
    const reader = res.body!.getReader();
    let received = '';
    while ((received.match(/\n/g) ?? []).length < 2) {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
    }
    expect(lines(received)).toHaveLength(2);
    expect(m.requests[0]!.disconnected).toBe(false);
    controller.abort();
    await m.requests[0]!.disconnect;
    expect(m.requests[0]!.disconnected).toBe(true);
  });

  it('holds a non-streaming stall before any header', async () => {
    const m = await start([{ type: 'stall-after', text: 'a' }]);
    const controller = new AbortController();
    const pending = chat(m.url, { ...hello, stream: false }, { signal: controller.signal });
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await m.requests[0]!.disconnect;
  });

  it('writes a malformed line, then holds the connection open', async () => {
    const m = await start([{ type: 'malformed-line', text: 'ok' }]);
    const controller = new AbortController();
    const res = await chat(m.url, hello, { signal: controller.signal });
    const reader = res.body!.getReader();
    let received = '';
    while ((received.match(/\n/g) ?? []).length < 2) {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
    }
    const [good, bad] = received.split('\n');
    expect(JSON.parse(good!)).toMatchObject({ message: { content: 'ok' } });
    expect(() => JSON.parse(bad!)).toThrow();
    controller.abort();
    await m.requests[0]!.disconnect;
  });
});

describe('startOllamaMock: routes and scripting', () => {
  it('lists models on GET /api/tags and answers GET /', async () => {
    const { url } = await start({ replies: [], models: ['llama3.2:latest', 'qwen3:8b'] });
    const tags = (await (await fetch(`${url}/api/tags`)).json()) as { models: { name: string; model: string }[] };
    expect(tags.models.map((m) => m.name)).toEqual(['llama3.2:latest', 'qwen3:8b']);
    expect(tags.models[1]!.model).toBe('qwen3:8b');
    expect(await (await fetch(url)).text()).toBe('Ollama is running');
  });

  it("answers Ollama's 400s for a missing body, a non-JSON body and a missing model, without using a reply", async () => {
    const m = await start([{ type: 'text', text: 'first' }, { type: 'text', text: 'second' }]);
    const empty = await fetch(`${m.url}/api/chat`, { method: 'POST' });
    expect([empty.status, await empty.json()]).toEqual([400, { error: 'missing request body' }]);
    const garbage = await fetch(`${m.url}/api/chat`, { method: 'POST', body: 'nope' });
    expect([garbage.status, await garbage.json()]).toEqual([400, { error: 'invalid request body' }]);
    const noModel = await chat(m.url, { messages: [] });
    expect([noModel.status, await noModel.json()]).toEqual([400, { error: 'model is required' }]);
    const ok = await chat(m.url, { ...hello, stream: false });
    expect(await ok.json()).toMatchObject({ message: { content: 'first' } });
  });

  it("answers Gin's 404 for unknown paths", async () => {
    const { url } = await start([]);
    const res = await fetch(`${url}/v1/unknown`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('404 page not found');
  });

  it('records what it received', async () => {
    const m = await start([{ type: 'text', text: 'x' }]);
    await (await chat(m.url, { ...hello, stream: false }, { headers: { authorization: 'Bearer k', 'content-type': 'application/json' } })).text();
    expect(m.requests[0]).toMatchObject({ method: 'POST', path: '/api/chat', json: { ...hello, stream: false } });
    expect(m.requests[0]!.headers.authorization).toBe('Bearer k');
  });

  const texts = async (url: string, n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await chat(url, { ...hello, stream: false });
      out.push(res.ok ? ((await res.json()) as { message: { content: string } }).message.content : `HTTP ${res.status}`);
    }
    return out;
  };
  const ab = [
    { type: 'text', text: 'a' },
    { type: 'text', text: 'b' },
  ] as const;

  it('repeats the last reply when the list runs out, by default', async () => {
    const { url } = await start([...ab]);
    expect(await texts(url, 4)).toEqual(['a', 'b', 'b', 'b']);
  });

  it('cycles, or fails with a 500, when told to', async () => {
    const cycling = await startOllamaMock({ replies: [...ab], whenExhausted: 'cycle' });
    try {
      expect(await texts(cycling.url, 4)).toEqual(['a', 'b', 'a', 'b']);
    } finally {
      await cycling.close();
    }
    const { url } = await start({ replies: [...ab], whenExhausted: 'error' });
    expect(await texts(url, 3)).toEqual(['a', 'b', 'HTTP 500']);
  });

  it('asks a reply function, with the request facts', async () => {
    const seen: unknown[] = [];
    const { url } = await start((call) => {
      seen.push({ index: call.index, model: call.model, stream: call.stream });
      return { type: 'text', text: `reply ${call.index}` };
    });
    expect(await texts(url, 2)).toEqual(['reply 0', 'reply 1']);
    expect(seen).toEqual([
      { index: 0, model: 'llama3.2', stream: false },
      { index: 1, model: 'llama3.2', stream: false },
    ]);
  });
});

describe('ollamaMockReply (the translation, without a server)', () => {
  const ctx = { model: 'm', stream: true, createdAt: '2025-01-01T00:00:00Z' };

  it('puts the latency before the status, the first-token delay on the first chunk, the chunk delay on later ones', () => {
    const reply = ollamaMockReply({ type: 'text', text: 'a b c', delayMs: 50, firstTokenDelayMs: 200, chunkDelayMs: 10 }, ctx);
    expect(reply.delayMs).toBe(50);
    expect(reply.frames?.map((f) => ('write' in f ? f.delayMs : 'other'))).toEqual([200, 10, 10, 10]);
  });

  it('adds every delay up for a non-streaming answer', () => {
    const reply = ollamaMockReply({ type: 'text', text: 'a b c', delayMs: 50, firstTokenDelayMs: 200, chunkDelayMs: 10 }, { ...ctx, stream: false });
    expect(reply.delayMs).toBe(50 + 200 + 2 * 10);
    expect(reply.frames).toBeUndefined();
  });

  it('has no delays unless asked', () => {
    const reply = ollamaMockReply({ type: 'text', text: 'a b' }, ctx);
    expect(reply.delayMs).toBeUndefined();
    expect(reply.frames?.every((f) => !('delayMs' in f))).toBe(true);
  });

  it('ends stalls with a stall and cuts with a cut; truncations just end', () => {
    expect(ollamaMockReply({ type: 'stall-after', text: 'a' }, ctx).frames?.at(-1)).toEqual({ stall: true });
    expect(ollamaMockReply({ type: 'cut-after', text: 'a' }, ctx).frames?.at(-1)).toEqual({ cut: true });
    const truncated = ollamaMockReply({ type: 'truncate-after', text: 'a b' }, ctx).frames ?? [];
    expect(truncated).toHaveLength(2);
    expect(truncated.every((f) => 'write' in f && !f.write.includes('"done":true'))).toBe(true);
  });

  it('maps every error kind to a status and message', () => {
    expect(ollamaMockError('not_found', 'x')).toEqual({ status: 404, message: 'model "x" not found, try pulling it first' });
    expect(ollamaMockError('overloaded', 'x').status).toBe(503);
    expect(ollamaMockError('rate_limit', 'x').status).toBe(429);
  });

  it('splits text into word chunks that concatenate back', () => {
    expect(splitIntoChunks('Hello  big\nworld ')).toEqual(['Hello  ', 'big\n', 'world ']);
    expect(splitIntoChunks('')).toEqual([]);
    expect(splitIntoChunks(' lead').join('')).toBe(' lead');
  });
});

describe('parseOllamaMockScenario', () => {
  it('accepts a list or an object, and returns the object form', () => {
    const replies = [
      { type: 'text', text: 'hi', chunks: ['h', 'i'], usage: { inputTokens: 1 }, toolCalls: [{ name: 'f', arguments: {} }] },
      { type: 'error', kind: 'overloaded' },
      { type: 'stream-error-after', text: 'x', message: 'm' },
      { type: 'stall-after', text: 'x' },
      { type: 'cut-after', text: 'x' },
      { type: 'truncate-after', text: 'x' },
      { type: 'malformed-line' },
    ];
    expect(parseOllamaMockScenario(JSON.parse(JSON.stringify(replies)))).toEqual({ replies });
    expect(parseOllamaMockScenario({ replies: [], models: ['a'], whenExhausted: 'cycle' })).toEqual({ replies: [], models: ['a'], whenExhausted: 'cycle' });
  });

  it('takes the fault replies without text, as the other mocks do (nothing streams before the fault)', () => {
    const replies = ['stream-error-after', 'stall-after', 'cut-after', 'truncate-after'].map((type) => ({ type }));
    expect(parseOllamaMockScenario(replies)).toEqual({ replies });
    const ctx = { stream: true, model: 'm' };
    expect(ollamaMockReply({ type: 'stream-error-after' }, ctx)).toMatchObject({ status: 500 });
    expect(ollamaMockReply({ type: 'cut-after' }, ctx).frames?.at(-1)).toEqual({ cut: true });
  });

  it.each([
    [{ replies: [{ type: 'nope' }] }, /scenario\.replies\[0\]\.type: expected one of text, error/],
    [[{ type: 'error', kind: 'teapot' }], /scenario\.replies\[0\]\.kind: expected one of not_found/],
    [[{ type: 'text' }], /scenario\.replies\[0\]\.text: expected a string, got undefined/],
    [[{ type: 'text', text: 'x', delayMs: -1 }], /delayMs: expected a number of milliseconds/],
    [[{ type: 'text', text: 'x', toolCalls: [{ name: 'f', arguments: '{}' }] }], /toolCalls\[0\]\.arguments: expected an object/],
    [[{ type: 'cut-after', text: 'x', extra: 1 }], /scenario\.replies\[0\]\.extra: expected no such field/],
    [[{ type: 'truncate-after', text: 1 }], /scenario\.replies\[0\]\.text: expected a string, got 1/],
    [{ replies: [], cycle: true }, /^scenario\.cycle: expected no such field, got true$/],
    [{ replies: [], whenExhausted: 'loop' }, /whenExhausted/],
    ['text', /scenario: expected a list of replies/],
  ])('rejects %j with a precise message', (value, message) => {
    expect(() => parseOllamaMockScenario(value)).toThrow(message);
  });
});

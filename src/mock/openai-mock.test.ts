import { afterEach, describe, expect, it } from 'vitest';
import type { MockFrame } from './mock-server.js';
import {
  renderOpenAiReply,
  startOpenAiMock,
  type OpenAiMock,
  type OpenAiMockReply,
  type OpenAiMockRequest,
  type OpenAiMockScenario,
} from './openai-mock.js';

const KEY = 'sk-mock-key-0123456789';
let mock: OpenAiMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

/** Starts the mock with `KEY` required, unless the scenario is a full object. */
async function start(scenario: OpenAiMockScenario) {
  mock = await startOpenAiMock(Array.isArray(scenario) || typeof scenario === 'function' ? { replies: scenario, apiKey: KEY } : scenario);
  return mock;
}

function post(body: unknown, init: { key?: string | null; path?: string; signal?: AbortSignal } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.key !== null) headers.authorization = `Bearer ${init.key ?? KEY}`;
  return fetch(`${mock!.url}${init.path ?? '/chat/completions'}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });
const streaming = (includeUsage = true) => chat({ stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });

/** The `data:` payloads of an SSE body, JSON-parsed except `[DONE]`. */
function dataFrames(body: string): unknown[] {
  return body
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => frame.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

type Chunk = { choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: unknown };

describe('openai mock: chat completions', () => {
  it('answers JSON exactly in OpenAI shape, with the usual headers', async () => {
    await start([{ type: 'text', text: 'Hello!', usage: { promptTokens: 9, completionTokens: 3, cachedTokens: 2, reasoningTokens: 1 } }]);
    const res = await post(chat());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toMatch(/^req_mock\d+$/);
    expect(res.headers.get('openai-version')).toBe('2020-10-01');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.stringMatching(/^chatcmpl-mock/) as unknown,
      object: 'chat.completion',
      created: expect.any(Number) as unknown,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 9,
        completion_tokens: 3,
        total_tokens: 12,
        prompt_tokens_details: { cached_tokens: 2, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 1, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_mock',
    });
  });

  it('answers tool calls with string arguments and content null', async () => {
    await start([{ type: 'text', toolCalls: [{ id: 'call_x', name: 'get_weather', arguments: { city: 'Tokyo' } }, { name: 'raw', arguments: '{bad' }] }]);
    const body = (await (await post(chat())).json()) as { choices: { message: Record<string, unknown>; finish_reason: string }[] };
    expect(body.choices[0]!.finish_reason).toBe('tool_calls');
    expect(body.choices[0]!.message.content).toBeNull();
    expect(body.choices[0]!.message.tool_calls).toEqual([
      { id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
      { id: expect.stringMatching(/^call_/) as unknown, type: 'function', function: { name: 'raw', arguments: '{bad' } },
    ]);
  });

  it('streams role, content chunks, finish, the usage chunk and [DONE]', async () => {
    await start([{ type: 'text', text: 'Hello big world', usage: { promptTokens: 5, completionTokens: 3 } }]);
    const res = await post(streaming());
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const frames = dataFrames(text);
    const chunks = frames.slice(0, -1) as Chunk[];
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '', refusal: null },
      { content: 'Hello ' },
      { content: 'big ' },
      { content: 'world' },
      {},
      undefined,
    ]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, null, null, null, 'stop', undefined]);
    // Every chunk but the last carries "usage": null; the last has choices [] and the totals.
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
  });

  it('sends no usage at all unless include_usage was asked for', async () => {
    await start([{ type: 'text', text: 'a b' }]);
    const chunks = dataFrames(await (await post(streaming(false))).text()).slice(0, -1) as Chunk[];
    expect(chunks).toHaveLength(4);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
  });

  it('streams tool calls by index: id and name first, then argument fragments', async () => {
    await start([{ type: 'text', toolCalls: [{ id: 'call_1', name: 'f', arguments: { city: 'Tokyo' } }, { id: 'call_2', name: 'g' }] }]);
    const chunks = dataFrames(await (await post(streaming(false))).text()).slice(0, -1) as Chunk[];
    const calls = chunks.flatMap((c) => (c.choices[0]?.delta.tool_calls as Record<string, unknown>[] | undefined) ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } });
    const args0 = calls.filter((c) => c.index === 0).map((c) => (c.function as { arguments: string }).arguments);
    expect(args0.join('')).toBe('{"city":"Tokyo"}');
    expect(args0.length).toBeGreaterThan(2);
    expect(calls.filter((c) => c.index === 1)[0]).toMatchObject({ id: 'call_2', function: { name: 'g' } });
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('splits text as told: explicit pieces or a size', async () => {
    await start([{ type: 'text', chunks: ['He', 'llo'] }, { type: 'text', text: 'abcdefg', chunks: 3 }]);
    const pieces = async () =>
      (dataFrames(await (await post(streaming(false))).text()).slice(1, -2) as Chunk[]).map((c) => c.choices[0]!.delta.content);
    expect(await pieces()).toEqual(['He', 'llo']);
    expect(await pieces()).toEqual(['abc', 'def', 'g']);
  });

  it('streams refusals and content filters', async () => {
    await start([{ type: 'text', refusal: 'No.' }, { type: 'content-filter', text: 'Part' }, { type: 'content-filter' }]);
    const refusal = dataFrames(await (await post(streaming(false))).text()) as Chunk[];
    expect(refusal[1]!.choices[0]!.delta).toEqual({ refusal: 'No.' });
    const filtered = dataFrames(await (await post(streaming(false))).text()).slice(0, -1) as Chunk[];
    expect(filtered.map((c) => c.choices[0]!.finish_reason).at(-1)).toBe('content_filter');
    expect(filtered[1]!.choices[0]!.delta).toEqual({ content: 'Part' });
    const whole = (await (await post(chat())).json()) as { choices: { message: { content: unknown }; finish_reason: string }[] };
    expect(whole.choices[0]).toMatchObject({ message: { content: null }, finish_reason: 'content_filter' });
  });

  it('can leave out [DONE] and the usage chunk', async () => {
    await start([{ type: 'text', text: 'x', omitDone: true, omitUsage: true }]);
    const text = await (await post(streaming())).text();
    expect(text).not.toContain('[DONE]');
    expect((dataFrames(text) as Chunk[]).every((c) => c.choices.length > 0)).toBe(true);
  });
});

describe('openai mock: scenarios', () => {
  it('plays a list in order and repeats the last reply', async () => {
    await start([{ type: 'error', kind: 'server' }, { type: 'text', text: 'ok' }]);
    expect((await post(chat())).status).toBe(500);
    expect((await post(chat())).status).toBe(200);
    expect((await post(chat())).status).toBe(200);
  });

  it('calls a function with the request, its index and whether it streams', async () => {
    const seen: Omit<OpenAiMockRequest, 'recorded' | 'body'>[] = [];
    await start((request) => {
      seen.push({ index: request.index, model: request.model, stream: request.stream });
      return request.model === 'missing' ? { type: 'error', kind: 'not_found' } : { type: 'text', text: 'ok' };
    });
    expect((await post(chat())).status).toBe(200);
    const res = await post(chat({ model: 'missing', stream: true }));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'The model `missing` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' },
    });
    expect(seen).toEqual([
      { index: 0, model: 'gpt-4o-mini', stream: false },
      { index: 1, model: 'missing', stream: true },
    ]);
  });

  it('cycles, or answers 500, when the list runs out, if told to', async () => {
    await start({ replies: [{ type: 'error', kind: 'server' }, { type: 'text', text: 'ok' }], whenExhausted: 'cycle', apiKey: KEY });
    expect([(await post(chat())).status, (await post(chat())).status, (await post(chat())).status]).toEqual([500, 200, 500]);
    await mock!.close();
    await start({ replies: [{ type: 'text', text: 'ok' }], whenExhausted: 'error', apiKey: KEY });
    expect((await post(chat())).status).toBe(200);
    const extra = await post(chat());
    expect(extra.status).toBe(500);
    // Counted from 1, as the other mocks count: the second request found no second reply.
    expect(await extra.text()).toContain('openai mock: scenario exhausted (no reply for request 2)');
  });

  it('runs from plain JSON (what `ballast mock` will load)', async () => {
    const file = `{"apiKey":"${KEY}","replies":[{"type":"error","kind":"rate_limit","retryAfter":1},{"type":"text","text":"after"}]}`;
    await start(JSON.parse(file) as OpenAiMockScenario);
    expect((await post(chat(), { key: 'sk-other-0000000000' })).status).toBe(401);
    expect((await post(chat())).status).toBe(429);
    expect(((await (await post(chat())).json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('after');
  });

  it('refuses an empty list and reports an unknown reply type', async () => {
    await expect(startOpenAiMock([])).rejects.toThrow(/at least one reply/);
    await expect(startOpenAiMock({ replies: [] })).rejects.toThrow(/at least one reply/);
    await start([{ type: 'nonsense' } as unknown as OpenAiMockReply]);
    const res = await post(chat());
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('unknown reply type');
  });
});

describe('openai mock: errors', () => {
  const errorCases: [OpenAiMockReply & { type: 'error' }, number, Record<string, unknown>][] = [
    [{ type: 'error', kind: 'rate_limit' }, 429, { type: 'tokens', code: 'rate_limit_exceeded', param: null }],
    [{ type: 'error', kind: 'quota' }, 429, { type: 'insufficient_quota', code: 'insufficient_quota' }],
    [{ type: 'error', kind: 'request_too_large' }, 429, { type: 'tokens', code: 'rate_limit_exceeded' }],
    [{ type: 'error', kind: 'overloaded' }, 503, { type: 'service_unavailable_error', code: 'server_is_overloaded' }],
    [{ type: 'error', kind: 'server' }, 500, { type: 'server_error', code: null }],
    [{ type: 'error', kind: 'auth' }, 401, { type: 'invalid_request_error', code: 'invalid_api_key' }],
    [{ type: 'error', kind: 'not_found' }, 404, { type: 'invalid_request_error', code: 'model_not_found' }],
    [{ type: 'error', kind: 'context_length' }, 400, { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' }],
    [{ type: 'error', kind: 'invalid_request' }, 400, { type: 'invalid_request_error', param: 'temperature' }],
  ];

  it.each(errorCases)('%o → %i with the OpenAI error body', async (reply, status, fields) => {
    await start([reply]);
    const res = await post(chat());
    expect(res.status).toBe(status);
    expect(res.headers.get('x-request-id')).toMatch(/^req_mock/);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toMatchObject(fields);
    expect(typeof body.error.message).toBe('string');
  });

  it('rate_limit says "try again in 644ms" and sends x-ratelimit headers; retryAfter adds retry-after', async () => {
    await start([{ type: 'error', kind: 'rate_limit' }, { type: 'error', kind: 'rate_limit', retryAfter: 2, headers: { 'x-extra': '1' } }]);
    const first = await post(chat());
    expect(((await first.json()) as { error: { message: string } }).error.message).toContain('Please try again in 644ms.');
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('63');
    expect(first.headers.get('x-ratelimit-reset-tokens')).toBe('644ms');
    expect(first.headers.get('retry-after')).toBeNull();
    const second = await post(chat());
    expect(second.headers.get('retry-after')).toBe('2');
    expect(second.headers.get('retry-after-ms')).toBe('2000');
    expect(second.headers.get('x-extra')).toBe('1');
    expect(((await second.json()) as { error: { message: string } }).error.message).toContain('Please try again in 2s.');
  });

  it('request_too_large and quota say what the real service says', async () => {
    await start([{ type: 'error', kind: 'request_too_large' }, { type: 'error', kind: 'quota' }]);
    expect(await (await post(chat())).text()).toContain('Request too large for gpt-4o-mini');
    expect(await (await post(chat())).text()).toContain('You exceeded your current quota');
  });

  it('bad_gateway_html is a 502 HTML page', async () => {
    await start([{ type: 'error', kind: 'bad_gateway_html' }]);
    const res = await post(chat());
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toContain('<h1>502 Bad Gateway</h1>');
  });

  it('lets a reply override status, message, code, type and param', async () => {
    await start([{ type: 'error', kind: 'rate_limit', code: 'slow_down', errorType: 'rate_limit_error', message: 'Slow down', param: 'x', status: 429 }]);
    expect(await (await post(chat())).json()).toEqual({ error: { message: 'Slow down', type: 'rate_limit_error', param: 'x', code: 'slow_down' } });
  });
});

describe('openai mock: broken streams', () => {
  it('stream-error-after: text, then a data error frame, then [DONE]', async () => {
    await start([{ type: 'stream-error-after', text: 'Hi there' }]);
    const frames = dataFrames(await (await post(streaming())).text());
    expect((frames[1] as Chunk).choices[0]!.delta).toEqual({ content: 'Hi ' });
    expect(frames.at(-2)).toEqual({ error: { message: expect.stringContaining('The server had an error') as unknown, type: 'server_error', param: null, code: null } });
    expect(frames.at(-1)).toBe('[DONE]');
  });

  it('stream-error-after as an `event: error` frame, and as HTTP 500 when not streaming', async () => {
    await start([{ type: 'stream-error-after', text: 'x', asEvent: true, omitDone: true, error: { type: 'server_error', message: 'boom' } }]);
    const text = await (await post(streaming())).text();
    expect(text.endsWith('event: error\ndata: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n')).toBe(true);
    const res = await post(chat());
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('boom');
  });

  it('truncate-after ends the body cleanly with no finish and no [DONE]', async () => {
    await start([{ type: 'truncate-after', text: 'partial answer' }]);
    const frames = dataFrames(await (await post(streaming())).text()) as Chunk[];
    expect(frames).toHaveLength(3);
    expect(frames.every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
  });

  it('cut-after destroys the connection mid-stream', async () => {
    await start([{ type: 'cut-after', text: 'partial' }]);
    const res = await post(streaming());
    await expect(res.text()).rejects.toThrow();
  });

  it('stall-after and malformed-frame hold the connection until the client leaves', async () => {
    await start([{ type: 'stall-after', text: 'Hi' }, { type: 'malformed-frame', text: 'Hi' }]);
    for (const index of [0, 1]) {
      const controller = new AbortController();
      const res = await post(streaming(), { signal: controller.signal });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes(index === 0 ? '"Hi"' : '"content":\n')) text += new TextDecoder().decode((await reader.read()).value);
      if (index === 1) expect(() => JSON.parse(text.split('data: ').at(-1)!)).toThrow();
      controller.abort();
      await mock!.requests[index]!.disconnect;
      expect(mock!.requests[index]!.disconnected).toBe(true);
    }
  });

  it('non-streaming broken replies: half a body (stall, cut, truncate) or a body that is not JSON', async () => {
    await start([{ type: 'truncate-after', text: 'abc' }, { type: 'malformed-frame' }, { type: 'cut-after' }]);
    const half = await (await post(chat())).text();
    expect(half.startsWith('{"id":"chatcmpl-mock')).toBe(true);
    expect(() => JSON.parse(half)).toThrow();
    const malformed = await post(chat());
    expect(malformed.status).toBe(200);
    await expect(malformed.json()).rejects.toThrow();
    await expect((await post(chat())).text()).rejects.toThrow();
  });
});

describe('openai mock: timing (rendered, not slept)', () => {
  const request = (stream: boolean): OpenAiMockRequest => ({
    index: 0,
    body: { model: 'm', messages: [], stream },
    model: 'm',
    stream,
    recorded: { method: 'POST', path: '/v1/chat/completions', headers: {}, body: '', json: undefined, disconnected: false, disconnect: new Promise(() => {}) },
  });
  const timing = { type: 'text', text: 'a b c', delayMs: 100, firstTokenDelayMs: 50, chunkDelayMs: 10 } as const;

  it('streams: latency before headers, first-token delay, then a delay per chunk', () => {
    const reply = renderOpenAiReply(timing, request(true));
    expect(reply.delayMs).toBe(100);
    const delays = (reply.frames as MockFrame[]).map((f) => ('delayMs' in f ? f.delayMs : undefined));
    expect(delays).toEqual([undefined, 50, 10, 10, undefined, undefined]);
  });

  it('non-streaming: the whole generation time before the answer', () => {
    expect(renderOpenAiReply(timing, request(false)).delayMs).toBe(100 + 50 + 10 * 2);
  });
});

describe('openai mock: auth, models and unknown paths', () => {
  it('401 without a key, and invalid_api_key (masked) for a wrong one', async () => {
    await start([{ type: 'text', text: 'never' }]);
    const none = await post(chat(), { key: null });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain("You didn't provide an API key");
    const wrong = await post(chat(), { key: 'sk-wrong-key-abcdefgh1234' });
    expect(wrong.status).toBe(401);
    const body = (await wrong.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('invalid_api_key');
    expect(body.error.message).toContain('Incorrect API key provided: sk-*');
    expect(body.error.message).not.toContain('sk-wrong-key-abcdefgh1234');
  });

  it('accepts anything when no key is configured', async () => {
    await start({ replies: [{ type: 'text', text: 'open' }] });
    expect((await post(chat(), { key: null })).status).toBe(200);
  });

  it('lists models and finds one', async () => {
    await start({ replies: [{ type: 'text', text: 'x' }], apiKey: KEY, models: ['m1', 'm2'] });
    const auth = { headers: { authorization: `Bearer ${KEY}` } };
    expect(await (await fetch(`${mock!.url}/models`, auth)).json()).toEqual({
      object: 'list',
      data: [
        { id: 'm1', object: 'model', created: expect.any(Number) as unknown, owned_by: 'system' },
        { id: 'm2', object: 'model', created: expect.any(Number) as unknown, owned_by: 'system' },
      ],
    });
    expect(await (await fetch(`${mock!.url}/models/m2`, auth)).json()).toMatchObject({ id: 'm2', object: 'model' });
    const missing = await fetch(`${mock!.url}/models/nope`, auth);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    expect((await fetch(`${mock!.url}/models`)).status).toBe(401);
  });

  it('404s other paths with OpenAI’s "Invalid URL" body', async () => {
    await start([{ type: 'text', text: 'x' }]);
    const res = await post(chat(), { path: '/embeddingz' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'Invalid URL (POST /v1/embeddingz)', type: 'invalid_request_error', param: null, code: null } });
  });

  it('400s bodies that are not JSON or lack model / messages', async () => {
    await start([{ type: 'text', text: 'x' }]);
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('We could not parse the JSON body');
    expect((await post({ messages: [] })).status).toBe(400);
    const noMessages = await post({ model: 'm' });
    expect(((await noMessages.json()) as { error: { code: string } }).error.code).toBe('missing_required_parameter');
    // None of these consumed a scenario reply: the first real request gets reply 0.
    expect((await post(chat())).status).toBe(200);
  });

  it('records every request', async () => {
    await start([{ type: 'text', text: 'x' }]);
    await post(chat({ temperature: 0 }));
    expect(mock!.requests).toHaveLength(1);
    expect(mock!.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', json: chat({ temperature: 0 }) });
    expect(mock!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { collectStream } from '../llm/collect-stream.js';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { startMockServer, type MockReply, type MockServer } from '../mock/mock-server.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../mock/openai-mock.js';
import { openai, toOpenAiBody, type OpenAiOptions } from './openai.js';
import type { ChatProvider } from './provider.js';
import type { Transport } from './transport.js';
import { failure } from '../../test/support/provider-test.js';

const KEY = 'test-key-abcdef123456';
const MODEL = 'gpt-4o-mini';
const hello: ChatRequest = { messages: [{ role: 'user', content: 'Hello' }] };

let mock: OpenAiMock | undefined;
let raw: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  await raw?.close();
  mock = undefined;
  raw = undefined;
});

async function setup(replies: OpenAiMockReply[], options: Partial<OpenAiOptions> = {}) {
  mock = await startOpenAiMock({ replies, apiKey: KEY });
  return openai({ apiKey: KEY, baseURL: mock.url, ...options });
}

async function setupRaw(reply: MockReply | ((n: number) => MockReply), options: Partial<OpenAiOptions> = {}) {
  let n = 0;
  raw = await startMockServer(() => (typeof reply === 'function' ? reply(n++) : reply));
  return openai({ apiKey: KEY, baseURL: `${raw.url}/v1`, ...options });
}

const call = (signal = new AbortController().signal) => ({ model: MODEL, signal });

async function events(provider: ChatProvider, request: ChatRequest = hello): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of provider.stream(request, call())) out.push(event);
  return out;
}

async function caught(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    if (isLlmError(error)) return error;
    throw new Error(`not an LlmError: ${String(error)}`);
  }
  throw new Error('expected a rejection');
}

/** Reads a stream into `seen` until it throws; returns the error. */
async function streamFailure(iterable: AsyncIterable<StreamEvent>, seen: StreamEvent[] = []): Promise<LlmError> {
  return caught(
    (async () => {
      for await (const event of iterable) seen.push(event);
    })(),
  );
}

const sse = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  sse({ id: 'chatcmpl-raw', object: 'chat.completion.chunk', created: 1, model: MODEL, choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

describe('openai: non-streaming', () => {
  it('sends the OpenAI wire request and maps text, usage, id, model and rate limits', async () => {
    const provider = await setup([
      {
        type: 'text',
        text: 'Hi there',
        usage: { promptTokens: 13, completionTokens: 5, cachedTokens: 4, reasoningTokens: 2 },
        headers: { 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-tokens': '6m0s' },
      },
    ]);
    const answer = await provider.chat(
      { system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }], temperature: 0.2, topP: 0.9, maxTokens: 50, stop: ['END'] },
      call(),
    );
    expect(answer).toMatchObject({
      text: 'Hi there',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { inputTokens: 13, outputTokens: 5, totalTokens: 18, cachedInputTokens: 4, reasoningTokens: 2 },
      model: MODEL,
      rateLimit: { requests: { remaining: 59 }, tokens: { resetMs: 360_000 } },
    });
    expect(answer.id).toMatch(/^chatcmpl-/);

    const req = mock!.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'content-type': 'application/json', accept: 'application/json' });
    expect(req.json).toEqual({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50, // not api.openai.com: the field every compatible server knows
      stop: ['END'],
    });
  });

  it('uses max_completion_tokens against OpenAI itself', () => {
    const body = toOpenAiBody({ ...hello, maxTokens: 7 }, { model: 'm', stream: false, includeUsage: true, maxTokensField: 'max_completion_tokens', name: 'openai', sendMetadata: false });
    expect(body.max_completion_tokens).toBe(7);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('defaults to max_completion_tokens for the default base URL', async () => {
    let sent: unknown;
    const provider = openai({
      apiKey: KEY,
      transport: async (request) => {
        sent = { url: request.url, body: JSON.parse(request.body!) as unknown };
        throw new Error('offline');
      },
    });
    await caught(provider.chat({ ...hello, maxTokens: 9 }, call()));
    expect(sent).toMatchObject({ url: 'https://api.openai.com/v1/chat/completions', body: { max_completion_tokens: 9 } });
  });

  it('parses tool calls (arguments as JSON) and the tool_calls finish', async () => {
    const provider = await setup([
      { type: 'text', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Tokyo' } }, { name: 'bad', arguments: '{"x":' }] },
    ]);
    const answer = await provider.chat(hello, call());
    expect(answer.text).toBe('');
    expect(answer.finishReason).toBe('tool_calls');
    expect(answer.toolCalls).toEqual([
      { id: 'call_1', name: 'get_weather', arguments: { city: 'Tokyo' }, rawArguments: '{"city":"Tokyo"}' },
      { id: expect.stringMatching(/^call_/) as unknown, name: 'bad', arguments: undefined, rawArguments: '{"x":' },
    ]);
  });

  it('maps length, content_filter, a refusal and unknown finish reasons', async () => {
    const provider = await setup([
      { type: 'text', text: 'cut', finishReason: 'length' },
      { type: 'content-filter' },
      { type: 'text', refusal: "I'm sorry, I can't help with that." },
      { type: 'text', text: 'x', finishReason: 'something_new' },
    ]);
    expect(await provider.chat(hello, call())).toMatchObject({ finishReason: 'length', rawFinishReason: 'length' });
    expect(await provider.chat(hello, call())).toMatchObject({ text: '', finishReason: 'content_filter', rawFinishReason: 'content_filter' });
    expect(await provider.chat(hello, call())).toMatchObject({
      text: "I'm sorry, I can't help with that.",
      finishReason: 'content_filter',
      rawFinishReason: 'refusal',
    });
    expect(await provider.chat(hello, call())).toMatchObject({ finishReason: 'other', rawFinishReason: 'something_new' });
  });

  it('takes reasoning text and `stop`-after-tool-calls from compatible servers', async () => {
    const provider = await setupRaw({
      json: {
        id: 'x',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              reasoning_content: 'thinking…',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }],
            },
            finish_reason: 'stop',
          },
        ],
      },
    });
    expect(await provider.chat(hello, call())).toMatchObject({
      reasoning: 'thinking…',
      finishReason: 'tool_calls',
      rawFinishReason: 'stop',
      toolCalls: [{ id: 'c', name: 'f', arguments: { a: 1 }, rawArguments: '{"a":1}' }],
    });
  });

  it('a 200 body that is not JSON, or has no choices, is a server error', async () => {
    const provider = await setup([{ type: 'malformed-frame' }]);
    expect(await caught(provider.chat(hello, call()))).toMatchObject({ kind: 'server', code: 'malformed_response' });
    const other = await setupRaw({ json: { id: 'x', object: 'chat.completion' } });
    expect(await caught(other.chat(hello, call()))).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });

  it('a 200 body carrying an error object is classified like an error frame', async () => {
    const provider = await setupRaw({
      headers: { 'x-request-id': 'req_200' },
      json: { error: { message: 'Rate limit exceeded. Please try again in 2s.', type: 'tokens', code: 'rate_limit_exceeded' } },
    });
    expect(await caught(provider.chat(hello, call()))).toMatchObject({ kind: 'rate_limit', retryAfterMs: 2000, requestId: 'req_200' });
  });
});

describe('openai: request mapping', () => {
  const opts = { model: 'm', stream: false, includeUsage: true, maxTokensField: 'max_completion_tokens', name: 'openai', sendMetadata: false } as const;

  it('maps images, tools, tool choice, tool calls and tool results', () => {
    const body = toOpenAiBody(
      {
        messages: [
          { role: 'system', content: 'sys' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', url: 'https://x/cat.png', detail: 'low' },
              { type: 'image', data: 'AAAA', mediaType: 'image/png' },
            ],
          },
          { role: 'assistant', content: 'Let me look.', toolCalls: [{ id: 'call_1', name: 'lookup', arguments: { q: 'cat' } }] },
          { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: 'a cat' }, { type: 'image', url: 'https://x/more.png' }] },
          { role: 'assistant', toolCalls: [{ id: 'call_2', name: 'raw', arguments: {}, rawArguments: '{ }' }] },
          { role: 'tool', toolCallId: 'call_2', content: 'ok' },
          { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
        ],
        tools: [{ name: 'lookup', description: 'Look up', parameters: { type: 'object' }, strict: true }, { name: 'raw', parameters: {} }],
        toolChoice: { name: 'lookup' },
      },
      opts,
    );
    expect(body.messages).toEqual([
      { role: 'system', content: 'sys' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'https://x/cat.png', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Images returned by tool call call_1:' },
          { type: 'image_url', image_url: { url: 'https://x/more.png' } },
        ],
      },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'raw', arguments: '{ }' } }] },
      { role: 'tool', tool_call_id: 'call_2', content: 'ok' },
      { role: 'assistant', content: 'Done.' },
    ]);
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object' }, strict: true } },
      { type: 'function', function: { name: 'raw', parameters: {} } },
    ]);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'lookup' } });
    expect(toOpenAiBody({ ...hello, toolChoice: 'required' }, opts).tool_choice).toBe('required');
  });

  it('maps response formats', () => {
    expect(toOpenAiBody({ ...hello, responseFormat: { type: 'json' } }, opts).response_format).toEqual({ type: 'json_object' });
    expect(toOpenAiBody({ ...hello, responseFormat: { type: 'text' } }, opts)).not.toHaveProperty('response_format');
    expect(
      toOpenAiBody({ ...hello, responseFormat: { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true } }, opts).response_format,
    ).toEqual({ type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' }, strict: true } });
  });

  it('merges providerOptions (openai, then the target name) but keeps model and stream', () => {
    const request: ChatRequest = {
      ...hello,
      providerOptions: { openai: { seed: 1, user: 'u', model: 'evil', stream: true }, groq: { seed: 2, service_tier: 'flex' }, anthropic: { top_k: 5 } },
    };
    const body = toOpenAiBody(request, { ...opts, name: 'groq' });
    expect(body).toMatchObject({ model: 'm', seed: 2, user: 'u', service_tier: 'flex' });
    expect(body).not.toHaveProperty('stream');
    expect(body).not.toHaveProperty('top_k');
  });

  it('sends metadata only when asked', () => {
    const request: ChatRequest = { ...hello, metadata: { team: 'a' } };
    expect(toOpenAiBody(request, opts)).not.toHaveProperty('metadata');
    expect(toOpenAiBody(request, { ...opts, sendMetadata: true }).metadata).toEqual({ team: 'a' });
  });

  it('asks for usage in streams unless told not to', () => {
    expect(toOpenAiBody(hello, { ...opts, stream: true })).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(toOpenAiBody(hello, { ...opts, stream: true, includeUsage: false })).not.toHaveProperty('stream_options');
  });

  it('sends organization, project and custom headers (custom ones win)', async () => {
    const provider = await setup([{ type: 'text', text: 'ok' }], {
      organization: 'org-1',
      project: 'proj-1',
      headers: { 'X-Trace': 't1', Accept: 'application/json; charset=utf-8' },
    });
    await provider.chat(hello, call());
    expect(mock!.requests[0]!.headers).toMatchObject({
      'openai-organization': 'org-1',
      'openai-project': 'proj-1',
      'x-trace': 't1',
      accept: 'application/json; charset=utf-8',
    });
  });
});

describe('openai: streaming', () => {
  it('streams start, text deltas (no empty ones), usage and finish', async () => {
    const provider = await setup([
      {
        type: 'text',
        text: 'Hello there, world',
        usage: { promptTokens: 3, completionTokens: 4 },
        headers: { 'x-ratelimit-remaining-tokens': '100' },
      },
    ]);
    const seen = await events(provider);
    expect(seen).toEqual([
      { type: 'start', id: expect.stringMatching(/^chatcmpl-/) as unknown, model: MODEL, rateLimit: { tokens: { remaining: 100 } } },
      { type: 'text', text: 'Hello ' },
      { type: 'text', text: 'there, ' },
      { type: 'text', text: 'world' },
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7, cachedInputTokens: 0, reasoningTokens: 0 } },
      { type: 'finish', finishReason: 'stop', rawFinishReason: 'stop' },
    ]);
    expect(mock!.requests[0]!.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('assembles tool calls by index; collectStream(stream) equals chat()', async () => {
    const reply = {
      type: 'text' as const,
      id: 'chatcmpl-same',
      text: 'Checking.',
      toolCalls: [
        { id: 'call_a', name: 'get_weather', arguments: { city: 'Tokyo', unit: 'celsius' } },
        { id: 'call_b', name: 'get_time', arguments: { zone: 'Asia/Tokyo' } },
      ],
    };
    const provider = await setup([reply]);
    const seen = await events(provider);
    const types = seen.map((e) => e.type);
    expect(types[0]).toBe('start');
    expect(types.filter((t) => t === 'tool-call-start')).toHaveLength(2);
    expect(types.filter((t) => t === 'tool-call-delta').length).toBeGreaterThan(4);
    expect(seen.filter((e) => e.type === 'tool-call-end')).toEqual([
      { type: 'tool-call-end', index: 0, id: 'call_a', name: 'get_weather', arguments: { city: 'Tokyo', unit: 'celsius' }, rawArguments: '{"city":"Tokyo","unit":"celsius"}' },
      { type: 'tool-call-end', index: 1, id: 'call_b', name: 'get_time', arguments: { zone: 'Asia/Tokyo' }, rawArguments: '{"zone":"Asia/Tokyo"}' },
    ]);
    // Ends come with the finish_reason chunk, before the usage chunk.
    expect(types.slice(-4)).toEqual(['tool-call-end', 'tool-call-end', 'usage', 'finish']);

    const streamed = await collectStream(provider.stream(hello, call()));
    const whole = await provider.chat(hello, call());
    expect(streamed).toEqual(whole);
    expect(whole.finishReason).toBe('tool_calls');
  });

  it('streams refusals and content filters the way chat() reports them', async () => {
    const provider = await setup([
      { type: 'text', refusal: "I can't help with that." },
      { type: 'text', refusal: "I can't help with that." },
      { type: 'content-filter', text: 'Partial ' },
    ]);
    const streamed = await collectStream(provider.stream(hello, call()));
    expect(streamed).toMatchObject({ text: "I can't help with that.", finishReason: 'content_filter', rawFinishReason: 'refusal' });
    const whole = await provider.chat(hello, call());
    expect({ ...streamed, id: undefined }).toEqual({ ...whole, id: undefined });
    expect(await collectStream(provider.stream(hello, call()))).toMatchObject({
      text: 'Partial ',
      finishReason: 'content_filter',
      rawFinishReason: 'content_filter',
    });
  });

  it('without include_usage: no usage event, and the request has no stream_options', async () => {
    const provider = await setup([{ type: 'text', text: 'a b' }], { includeUsage: false });
    const seen = await events(provider);
    expect(seen.some((e) => e.type === 'usage')).toBe(false);
    expect(seen.at(-1)).toEqual({ type: 'finish', finishReason: 'stop', rawFinishReason: 'stop' });
    expect(mock!.requests[0]!.json).not.toHaveProperty('stream_options');
  });

  it('handles compatible-server quirks: no tool index, reasoning deltas, stop after tool calls', async () => {
    const provider = await setupRaw({
      frames: [
        { write: chunk({ role: 'assistant', reasoning_content: 'hmm' }) },
        { write: chunk({ tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }) },
        { write: chunk({ tool_calls: [{ id: 'c2', type: 'function', function: { name: 'g', arguments: '{"b":' } }] }) },
        { write: chunk({ tool_calls: [{ function: { arguments: '2}' } }] }) },
        { write: chunk({}, 'stop') },
        { write: ': keep-alive comment\n\n' },
        { write: sse('[DONE]') },
      ],
    }, { includeUsage: false });
    const answer = await collectStream(provider.stream(hello, call()));
    expect(answer).toMatchObject({
      reasoning: 'hmm',
      finishReason: 'tool_calls',
      toolCalls: [
        { id: 'c1', name: 'f', arguments: { a: 1 } },
        { id: 'c2', name: 'g', arguments: { b: 2 } },
      ],
    });
  });
});

describe('openai: stream requests answered with JSON', () => {
  const completion = {
    id: 'chatcmpl-json',
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'whole', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        finish_reason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  };

  it('a server that ignores stream: true still gives the same answer as chat()', async () => {
    const provider = await setupRaw({ json: completion });
    const streamed = await collectStream(provider.stream(hello, call()));
    expect(streamed).toEqual(await provider.chat(hello, call()));
    expect(streamed).toMatchObject({ text: 'whole', toolCalls: [{ arguments: { a: 1 } }], usage: { totalTokens: 3 } });
  });

  it('a 200 JSON error body on a stream request is classified', async () => {
    const provider = await setupRaw({ json: { error: { message: 'The server is overloaded', type: 'service_unavailable_error', code: 'server_is_overloaded' } } });
    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'overloaded' });
  });
});

describe('openai: stream termination', () => {
  it('a body that ends before finish and [DONE] is a truncated `connection` error', async () => {
    const provider = await setup([{ type: 'truncate-after', text: 'Hello wor' }]);
    const seen: StreamEvent[] = [];
    const error = await streamFailure(provider.stream(hello, call()), seen);
    expect(error).toMatchObject({ kind: 'connection', code: 'stream_truncated', provider: 'openai', model: MODEL });
    expect(seen.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : ''))).toEqual(['Hello ', 'wor']);
    expect(seen.some((e) => e.type === 'finish')).toBe(false);
  });

  it('finish + usage without [DONE] is complete (the sentinel is all that is missing)', async () => {
    const provider = await setup([{ type: 'text', text: 'ok', omitDone: true }]);
    expect(await collectStream(provider.stream(hello, call()))).toMatchObject({ text: 'ok', finishReason: 'stop', usage: { outputTokens: 1 } });
  });

  it('finish without the requested usage and without [DONE] is truncated', async () => {
    const provider = await setup([{ type: 'text', text: 'ok', omitDone: true, omitUsage: true }]);
    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });

  it('finish without [DONE] is complete when no usage was asked for', async () => {
    const provider = await setup([{ type: 'text', text: 'ok', omitDone: true }], { includeUsage: false });
    expect(await collectStream(provider.stream(hello, call()))).toMatchObject({ text: 'ok', finishReason: 'stop' });
  });

  it('an event cut mid-frame is truncated even after a finish', async () => {
    const provider = await setupRaw({ frames: [{ write: chunk({ content: 'a' }) }, { write: chunk({}, 'stop') }, { write: 'data: [DO' }] }, { includeUsage: false });
    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });

  it('a cut connection is a `connection` error after the text that arrived', async () => {
    const provider = await setup([{ type: 'cut-after', text: 'Hello there' }]);
    const seen: StreamEvent[] = [];
    const error = await streamFailure(provider.stream(hello, call()), seen);
    expect(error.kind).toBe('connection');
    expect(seen.some((e) => e.type === 'finish')).toBe(false);
  });

  it('a cut non-streaming body is a `connection` error', async () => {
    const provider = await setup([{ type: 'cut-after', text: 'Hello there' }]);
    expect((await caught(provider.chat(hello, call()))).kind).toBe('connection');
  });

  it('a malformed frame is a `server` error at once, and the connection is released', async () => {
    // The mock holds the connection open after the bad frame: waiting for more would hang.
    const provider = await setup([{ type: 'malformed-frame', text: 'Hi' }]);
    const error = await streamFailure(provider.stream(hello, call()));
    expect(error).toMatchObject({ kind: 'server', code: 'malformed_response', provider: 'openai' });
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('a frame that is JSON but not an object is a `server` error', async () => {
    const provider = await setupRaw({ frames: [{ write: sse('42') }, { stall: true }] });
    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });
});

describe('openai: errors', () => {
  const cases = [
    { kind: 'rate_limit', expected: { kind: 'rate_limit', status: 429, code: 'rate_limit_exceeded', type: 'tokens', retryAfterMs: 644 } },
    { kind: 'quota', expected: { kind: 'quota', status: 429, code: 'insufficient_quota' } },
    { kind: 'overloaded', expected: { kind: 'overloaded', status: 503, code: 'server_is_overloaded' } },
    { kind: 'server', expected: { kind: 'server', status: 500, type: 'server_error' } },
    { kind: 'auth', expected: { kind: 'auth', status: 401, code: 'invalid_api_key' } },
    { kind: 'not_found', expected: { kind: 'not_found', status: 404, code: 'model_not_found' } },
    { kind: 'context_length', expected: { kind: 'context_length', status: 400, code: 'context_length_exceeded' } },
    { kind: 'invalid_request', expected: { kind: 'invalid_request', status: 400, code: 'invalid_value' } },
    // Never retried, but a target with a higher TPM limit can serve it (see classify.ts).
    { kind: 'request_too_large', expected: { kind: 'context_length', status: 429, code: 'rate_limit_exceeded' } },
    { kind: 'bad_gateway_html', expected: { kind: 'server', status: 502 } },
  ] as const;

  it.each(cases)('$kind → $expected.kind (chat and stream)', async ({ kind, expected }) => {
    const provider = await setup([{ type: 'error', kind }]);
    const fromChat = await caught(provider.chat(hello, call()));
    const seen: StreamEvent[] = [];
    const fromStream = await streamFailure(provider.stream(hello, call()), seen);
    for (const error of [fromChat, fromStream]) {
      expect(error).toMatchObject({ ...expected, provider: 'openai', model: MODEL });
      expect(error.requestId).toMatch(/^req_mock/);
      if (!('retryAfterMs' in expected)) expect(error.retryAfterMs).toBeUndefined();
      expect(error.message).not.toMatch(/<html|<\/?center/i);
    }
    expect(seen).toEqual([]);
  });

  it('takes the rate-limit wait from retry-after-ms over the message', async () => {
    const provider = await setup([{ type: 'error', kind: 'rate_limit', retryAfter: 2 }]);
    const error = await caught(provider.chat(hello, call()));
    expect(error).toMatchObject({ kind: 'rate_limit', retryAfterMs: 2000 });
    expect(error.rateLimit).toMatchObject({ retryAfterMs: 2000, tokens: { remaining: 63 } });
  });

  it('takes the wait from an exhausted x-ratelimit bucket when there is no retry-after', async () => {
    const provider = await setup([
      { type: 'error', kind: 'rate_limit', headers: { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1.5s' } },
    ]);
    expect(await caught(provider.chat(hello, call()))).toMatchObject({ kind: 'rate_limit', retryAfterMs: 1500 });
  });

  it('classifies mid-stream error frames after the text that arrived', async () => {
    const provider = await setup([
      { type: 'stream-error-after', text: 'Hello there' },
      { type: 'stream-error-after', text: 'Hi', asEvent: true, error: { message: 'Rate limit reached. Please try again in 20ms.', type: 'tokens', code: 'rate_limit_exceeded' } },
      { type: 'stream-error-after', text: '', error: { message: 'overloaded', type: 'service_unavailable_error', code: 'server_is_overloaded' } },
    ]);
    const seen: StreamEvent[] = [];
    const first = await streamFailure(provider.stream(hello, call()), seen);
    expect(first).toMatchObject({ kind: 'server', type: 'server_error', provider: 'openai', model: MODEL });
    expect(first.status).toBeUndefined();
    expect(first.requestId).toMatch(/^req_mock/);
    expect(seen.map((e) => e.type)).toEqual(['start', 'text', 'text']);

    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'rate_limit', code: 'rate_limit_exceeded', retryAfterMs: 20 });
    expect(await streamFailure(provider.stream(hello, call()))).toMatchObject({ kind: 'overloaded' });
  });

  it('a refused connection is a `connection` error', async () => {
    const closed = await startMockServer(() => ({ json: {} }));
    const url = `${closed.url}/v1`;
    await closed.close();
    const provider = openai({ apiKey: KEY, baseURL: url });
    expect((await caught(provider.chat(hello, call()))).kind).toBe('connection');
    expect((await streamFailure(provider.stream(hello, call()))).kind).toBe('connection');
  });

  it('rejects a configured key that is wrong with 401 (the mock checks it)', async () => {
    const provider = await setup([{ type: 'text', text: 'never' }], { apiKey: 'wrong-key-0000000000' });
    const error = await caught(provider.chat(hello, call()));
    expect(error).toMatchObject({ kind: 'auth', status: 401, code: 'invalid_api_key' });
  });
});

describe('openai: an upstream that sends without end', () => {
  /** A transport answering `status` with `chunks` chunks of 1 MiB (`fill`), counting the chunks read. */
  const flood = (status: number, contentType: string, chunks: number, fill: number) => {
    const read = { chunks: 0 };
    const transport: Transport = async () => ({
      status,
      headers: new Headers({ 'content-type': contentType }),
      body: (async function* () {
        const chunk = new Uint8Array(1024 * 1024).fill(fill);
        for (let i = 0; i < chunks; i++) {
          read.chunks++;
          yield chunk;
        }
      })(),
    });
    return { read, provider: openai({ apiKey: KEY, baseURL: 'http://127.0.0.1:1/v1', transport }) };
  };
  const A = 0x61; // 'a': a body that never ends a line

  it('a JSON answer past 32 MiB is a server error, and the rest is not read', async () => {
    const { read, provider } = flood(200, 'application/json', 100, A);
    const error = await failure(provider.chat(hello, call()));
    expect([error.kind, error.code]).toEqual(['server', 'response_too_large']);
    expect(read.chunks).toBe(33);
  });

  it('an SSE line that never ends is a server error past 16 Mi characters', async () => {
    const { read, provider } = flood(200, 'text/event-stream', 100, A);
    const error = await failure(collectStream(provider.stream(hello, call())));
    expect([error.kind, error.code]).toEqual(['server', 'response_too_large']);
    expect(read.chunks).toBe(17);
  });

  it('a huge error body is classified by its status from its first 64 KiB', async () => {
    const { read, provider } = flood(503, 'text/html', 100, A);
    const error = await failure(provider.chat(hello, call()));
    expect([error.kind, error.status]).toEqual(['overloaded', 503]);
    expect(read.chunks).toBe(1);
  });
});

describe('openai: cancellation', () => {
  it('abort mid-stream: the adapter throws `aborted` and the server sees the disconnect', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hello there' }]);
    const controller = new AbortController();
    const iterator = provider.stream(hello, call(controller.signal))[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: 'start' });
    expect((await iterator.next()).value).toEqual({ type: 'text', text: 'Hello ' });
    controller.abort();
    const error = await caught(iterator.next());
    expect(error.kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('stall + abort: a pending read ends at once with `aborted`', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hi' }]);
    const controller = new AbortController();
    const seen: StreamEvent[] = [];
    const failure = streamFailure(provider.stream(hello, call(controller.signal)), seen);
    // Wait until the stream is known to sit in the stall: both text chunks were delivered.
    while (!seen.some((e) => e.type === 'text')) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('caller gone'));
    const error = await failure;
    expect(error.kind).toBe('aborted');
    expect(error.message).toContain('caller gone');
    await mock!.requests[0]!.disconnect;
  });

  it('abort before the response (latency) and during a stalled non-streaming body', async () => {
    const provider = await setup([{ type: 'text', text: 'late', delayMs: 60_000 }, { type: 'stall-after', text: 'Hello' }]);
    const first = new AbortController();
    const pending = caught(provider.chat(hello, call(first.signal)));
    while (mock!.requests.length < 1) await new Promise((resolve) => setImmediate(resolve));
    first.abort();
    expect((await pending).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;

    const second = new AbortController();
    const stalled = caught(provider.chat(hello, call(second.signal)));
    while (mock!.requests.length < 2) await new Promise((resolve) => setImmediate(resolve));
    second.abort();
    expect((await stalled).kind).toBe('aborted');
    await mock!.requests[1]!.disconnect;
    expect(mock!.requests[1]!.disconnected).toBe(true);
  });

  it('request.signal aborts too', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hi' }]);
    const controller = new AbortController();
    const iterator = provider.stream({ ...hello, signal: controller.signal }, call())[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    expect((await caught(iterator.next())).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
  });

  it('breaking out of for-await releases the connection', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hello there friend' }]);
    for await (const event of provider.stream(hello, call())) if (event.type === 'text') break;
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });
});

describe('openai: compatible servers and Azure', () => {
  it('works against a base URL without a key, named as the user says', async () => {
    mock = await startOpenAiMock([{ type: 'text', text: 'local answer' }, { type: 'error', kind: 'server' }]);
    const provider = openai({ baseURL: `${mock.url}/`, name: 'my-vllm' });
    const answer = await provider.chat({ ...hello, maxTokens: 5, providerOptions: { 'my-vllm': { top_k: 20 } } }, call());
    expect(answer.text).toBe('local answer');
    const req = mock.requests[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers).not.toHaveProperty('authorization');
    expect(req.json).toMatchObject({ max_tokens: 5, top_k: 20 });
    expect(provider.name).toBe('my-vllm');
    expect(provider.protocol).toBe('openai');
    const error = await caught(provider.chat(hello, call()));
    expect(error.provider).toBe('my-vllm');
    expect(error.message).toMatch(/^my-vllm HTTP 500/);
  });

  it('speaks Azure: deployment URL, api-version, api-key header', async () => {
    const completion = { id: 'chatcmpl-az', object: 'chat.completion', model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
    raw = await startMockServer(() => ({ json: completion }));
    const provider = openai({ apiKey: KEY, baseURL: raw.url, azure: { apiVersion: '2024-10-21' } });
    const answer = await provider.chat({ ...hello, maxTokens: 3 }, { model: 'my deployment', signal: new AbortController().signal });
    expect(answer.text).toBe('hi');
    const req = raw.requests[0]!;
    expect(req.path).toBe('/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe(KEY);
    expect(req.headers).not.toHaveProperty('authorization');
    expect(req.json).toMatchObject({ max_completion_tokens: 3 });

    const explicit = openai({ apiKey: KEY, baseURL: `${raw.url}/openai/`, azure: { apiVersion: 'v' } });
    await explicit.chat(hello, call());
    expect(raw.requests[1]!.path).toBe(`/openai/deployments/${MODEL}/chat/completions?api-version=v`);
  });

  it('rejects bad configuration up front', () => {
    expect(() => openai({ azure: { apiVersion: 'v' } })).toThrow(/baseURL/);
    expect(() => openai({ baseURL: 'not a url' })).toThrow(/baseURL/);
  });

  it('anchors absolute rate-limit times with `now`', async () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const provider = await setupRaw(
      {
        headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' },
        json: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] },
      },
      { now: () => now },
    );
    expect((await provider.chat(hello, call())).rateLimit).toEqual({ retryAfterMs: 5000 });
  });
});

describe('openai: the API key never leaks', () => {
  const SECRET = 'plain-secret-token-9f8e7d';

  it('not in errors whose upstream body echoes the key', async () => {
    const body = { error: { message: `Invalid key: ${SECRET}`, type: 'invalid_request_error', code: 'invalid_api_key' } };
    const provider = await setupRaw({ status: 401, json: body }, { apiKey: SECRET });
    for (const error of [await caught(provider.chat(hello, call())), await streamFailure(provider.stream(hello, call()))]) {
      expect(error.kind).toBe('auth');
      expect(error.message).not.toContain(SECRET);
      expect(JSON.stringify(error)).not.toContain(SECRET);
      expect(String(error)).not.toContain(SECRET);
    }
  });

  it('not in mid-stream error frames that echo it', async () => {
    const provider = await setupRaw({ frames: [{ write: sse({ error: { message: `bad token ${SECRET}`, type: 'server_error' } }) }] }, { apiKey: SECRET });
    const error = await streamFailure(provider.stream(hello, call()));
    expect(error.message).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });

  it('not in transport failures that mention it', async () => {
    const provider = openai({
      apiKey: SECRET,
      transport: async (request) => {
        throw new TypeError(`invalid header value ${request.headers.authorization}`);
      },
    });
    const error = await caught(provider.chat(hello, call()));
    expect(error.kind).toBe('connection');
    expect(error.message).not.toContain(SECRET);
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });

  it('not in the configuration error for a key with control characters', () => {
    const bad = `${SECRET}\nx`;
    expect(() => openai({ apiKey: bad })).toThrow(/control characters/);
    try {
      openai({ apiKey: bad });
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
    }
  });

  it('trims whitespace around the key', async () => {
    const provider = await setup([{ type: 'text', text: 'ok' }], { apiKey: `  ${KEY}\n` });
    expect((await provider.chat(hello, call())).text).toBe('ok');
  });
});

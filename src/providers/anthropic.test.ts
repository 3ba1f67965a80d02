import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { collectStream } from '../llm/collect-stream.js';
import type { ErrorKind } from '../llm/error-kind.js';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { startMockServer } from '../mock/mock-server.js';
import {
  startAnthropicMock,
  type AnthropicMock,
  type AnthropicMockErrorKind,
  type AnthropicMockReply,
  type AnthropicMockScenario,
} from '../mock/anthropic-mock.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, anthropic, type AnthropicOptions } from './anthropic.js';
import type { ChatProvider } from './provider.js';
import { fetchTransport, type Transport } from './transport.js';
import { bodyText } from '../../test/support/provider-test.js';

const KEY = 'sk-ant-api03-test-key-0123456789abcdef';
const MODEL = 'claude-sonnet-4-5';
const HELLO: ChatRequest = { messages: [{ role: 'user', content: 'Hello' }] };

let mock: AnthropicMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function setup(
  replies: AnthropicMockReply[] | AnthropicMockScenario,
  options: AnthropicOptions = {},
): Promise<{ provider: ChatProvider; mock: AnthropicMock }> {
  mock = await startAnthropicMock(Array.isArray(replies) ? { apiKey: KEY, replies } : replies);
  return { provider: anthropic({ apiKey: KEY, baseURL: mock.url, ...options }), mock };
}

const call = (signal: AbortSignal = new AbortController().signal) => ({ model: MODEL, signal });
const sent = (index = 0) => mock!.requests[index]!.json as Record<string, unknown>;

async function drain(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** The LlmError a promise rejects with (fails the test if it resolves or rejects with anything else). */
async function failure(pending: Promise<unknown>): Promise<LlmError> {
  const error = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLlmError(error), `expected an LlmError, got ${String(error)}`).toBe(true);
  return error as LlmError;
}

/** The events a stream produced before it threw, and the error. */
async function streamFailure(stream: AsyncIterable<StreamEvent>): Promise<{ events: StreamEvent[]; error: LlmError }> {
  const events: StreamEvent[] = [];
  const error = await failure(
    (async () => {
      for await (const event of stream) events.push(event);
    })(),
  );
  return { events, error };
}

describe('anthropic: non-streaming', () => {
  it('sends the key, version and JSON, and maps the message, usage and rate limits', async () => {
    const { provider } = await setup([
      {
        type: 'text',
        text: 'Hi there',
        id: 'msg_01',
        usage: { inputTokens: 10, outputTokens: 7, cacheCreationInputTokens: 2, cacheReadInputTokens: 3 },
      },
    ]);
    const response = await provider.chat(HELLO, call());

    const request = mock!.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe(KEY);
    expect(request.headers['anthropic-version']).toBe('2023-06-01');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.json).toEqual({ model: MODEL, max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS, messages: [{ role: 'user', content: 'Hello' }] });

    expect(response).toMatchObject({
      text: 'Hi there',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      id: 'msg_01',
      model: MODEL,
      usage: { inputTokens: 15, outputTokens: 7, totalTokens: 22, cachedInputTokens: 3 },
    });
    expect(response.rateLimit?.requests).toMatchObject({ limit: 50, remaining: 49 });
    expect(response.reasoning).toBeUndefined();
  });

  it('anchors RFC 3339 reset headers on the `now` option', async () => {
    const { provider } = await setup([{ type: 'text', text: 'x', headers: { 'anthropic-ratelimit-requests-reset': '2030-01-01T00:00:10Z' } }], {
      now: () => Date.parse('2030-01-01T00:00:00Z'),
    });
    const response = await provider.chat(HELLO, call());
    expect(response.rateLimit?.requests?.resetMs).toBe(10_000);
  });

  it('maps tool_use blocks to tool calls, keeping the input object and its JSON', async () => {
    const input = { city: 'Tokyo', days: 3 };
    const { provider } = await setup([{ type: 'text', text: 'Let me check.', toolCalls: [{ id: 'toolu_01', name: 'get_weather', input }] }]);
    const response = await provider.chat(HELLO, call());
    expect(response.text).toBe('Let me check.');
    expect(response.toolCalls).toEqual([{ id: 'toolu_01', name: 'get_weather', arguments: input, rawArguments: JSON.stringify(input) }]);
    expect(response.finishReason).toBe('tool_calls');
    expect(response.rawFinishReason).toBe('tool_use');
  });

  it('returns thinking as reasoning', async () => {
    const { provider } = await setup([{ type: 'text', text: 'Four.', thinking: 'Two plus two is four.' }]);
    const response = await provider.chat(HELLO, call());
    expect(response.reasoning).toBe('Two plus two is four.');
    expect(response.text).toBe('Four.');
  });

  it('a body that is not JSON is a server error', async () => {
    const { provider } = await setup([{ type: 'malformed-frame' }]);
    const error = await failure(provider.chat(HELLO, call()));
    expect(error).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });

  it('an error body with status 200 (seen behind proxies) is still classified', async () => {
    const server = await startMockServer(() => ({
      json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_body' },
    }));
    try {
      const provider = anthropic({ baseURL: server.url });
      expect(await failure(provider.chat(HELLO, call()))).toMatchObject({ kind: 'overloaded', requestId: 'req_body' });
    } finally {
      await server.close();
    }
  });

  it('a connection cut before the body is complete is a connection error', async () => {
    const { provider } = await setup([{ type: 'cut-after', text: 'x' }]);
    expect((await failure(provider.chat(HELLO, call()))).kind).toBe('connection');
  });

  it('an abort before the answer is `aborted` and reaches the server', async () => {
    const { provider } = await setup([{ type: 'stall-after', text: 'x' }]);
    const controller = new AbortController();
    const pending = failure(provider.chat(HELLO, call(controller.signal)));
    await expect.poll(() => mock!.requests.length).toBe(1);
    controller.abort();
    expect((await pending).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
  });
});

describe('anthropic: request mapping', () => {
  it('maps system prompts, images, tools, tool calls and results onto alternating Messages turns', async () => {
    const { provider } = await setup([{ type: 'text', text: 'ok' }]);
    const request: ChatRequest = {
      system: 'Be brief.',
      messages: [
        { role: 'system', content: 'Answer in English.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
            { type: 'image', url: 'https://example.com/cat.jpg' },
            { type: 'image', url: 'data:image/jpeg;base64,/9j/4AAQ' },
          ],
        },
        { role: 'user', content: 'And the weather?' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'toolu_a', name: 'get_weather', arguments: { city: 'Tokyo' } },
            { id: 'toolu_b', name: 'get_weather', arguments: undefined, rawArguments: '{"city":"Paris"}' },
          ],
        },
        { role: 'tool', toolCallId: 'toolu_a', content: 'Sunny' },
        { role: 'tool', toolCallId: 'toolu_b', content: [{ type: 'text', text: 'Service down' }], isError: true },
        { role: 'user', content: 'Thanks!' },
      ],
      tools: [
        { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        { name: 'noop', parameters: { type: 'object' }, strict: true },
      ],
      toolChoice: { name: 'get_weather' },
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 321,
      stop: ['END'],
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } },
      providerOptions: { anthropic: { top_k: 5, metadata: { user_id: 'u1' } }, openai: { seed: 1 } },
      metadata: { tenant: 'acme' },
    };
    await provider.chat(request, call());
    expect(sent()).toEqual({
      model: MODEL,
      max_tokens: 321,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in English.' },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
            { type: 'text', text: 'And the weather?' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Tokyo' } },
            { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_a', content: 'Sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_b', content: [{ type: 'text', text: 'Service down' }], is_error: true },
            { type: 'text', text: 'Thanks!' },
          ],
        },
      ],
      tools: [
        { name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
        { name: 'noop', input_schema: { type: 'object' }, strict: true },
      ],
      tool_choice: { type: 'tool', name: 'get_weather' },
      temperature: 0.2,
      top_p: 0.9,
      top_k: 5,
      stop_sequences: ['END'],
      output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
      metadata: { user_id: 'u1' },
    });
  });

  it('puts tool results first in a user turn, and drops empty text', async () => {
    const { provider } = await setup([{ type: 'text', text: 'ok' }]);
    await provider.chat(
      {
        system: 'One system prompt',
        messages: [
          { role: 'assistant', content: '', toolCalls: [{ id: 't1', name: 'f', arguments: 'not an object' }] },
          { role: 'user', content: 'Note first' },
          { role: 'tool', toolCallId: 't1', content: '42' },
        ],
      },
      call(),
    );
    expect(sent().system).toBe('One system prompt');
    expect(sent().messages).toEqual([
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: '42' },
          { type: 'text', text: 'Note first' },
        ],
      },
    ]);
  });

  it('maps every tool choice, and sends none without tools', async () => {
    const { provider } = await setup([{ type: 'text', text: 'ok' }]);
    const tools = [{ name: 'f', parameters: { type: 'object' } }];
    const choices = [
      ['auto', { type: 'auto' }],
      ['none', { type: 'none' }],
      ['required', { type: 'any' }],
      [{ name: 'f' }, { type: 'tool', name: 'f' }],
    ] as const;
    for (const [toolChoice] of choices) await provider.chat({ ...HELLO, tools, toolChoice }, call());
    await provider.chat({ ...HELLO, toolChoice: 'required' }, call());
    expect(mock!.requests.map((r) => (r.json as { tool_choice?: unknown }).tool_choice)).toEqual([...choices.map(([, wire]) => wire), undefined]);
    expect(sent(4).tools).toBeUndefined();
  });

  it('merges provider options under the provider name, and never lets them change model or stream', async () => {
    const { provider } = await setup([{ type: 'text', text: 'ok' }], { name: 'claude-eu', defaultMaxTokens: 1000 });
    await provider.chat(
      { ...HELLO, providerOptions: { anthropic: { top_k: 3 }, 'claude-eu': { service_tier: 'auto', model: 'x', stream: true } } },
      call(),
    );
    expect(sent()).toMatchObject({ model: MODEL, max_tokens: 1000, top_k: 3, service_tier: 'auto' });
    expect(sent().stream).toBeUndefined();
  });

  it('sends extra headers and honours a base URL with a trailing slash', async () => {
    mock = await startAnthropicMock([{ type: 'text', text: 'ok' }]);
    const provider = anthropic({ baseURL: `${mock.url}/`, headers: { 'anthropic-beta': 'feature-1' } });
    await provider.chat(HELLO, call());
    expect(mock.requests[0]!.path).toBe('/v1/messages');
    expect(mock.requests[0]!.headers['anthropic-beta']).toBe('feature-1');
    expect(mock.requests[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('version 2026-10-21 drops temperature, top_p and top_k (which that version rejects)', async () => {
    const { provider } = await setup([{ type: 'text', text: 'ok' }], { version: '2026-10-21' });
    const request: ChatRequest = { ...HELLO, temperature: 0.7, topP: 0.5, providerOptions: { anthropic: { top_k: 4 } } };
    const response = await provider.chat(request, call());
    expect(response.text).toBe('ok');
    for (const event of await drain(provider.stream(request, call()))) expect(event.type).not.toBe('error');
    for (const index of [0, 1]) {
      expect(mock!.requests[index]!.headers['anthropic-version']).toBe('2026-10-21');
      expect(sent(index)).not.toHaveProperty('temperature');
      expect(sent(index)).not.toHaveProperty('top_p');
      expect(sent(index)).not.toHaveProperty('top_k');
    }
    // The default version keeps them.
    const old = anthropic({ apiKey: KEY, baseURL: mock!.url });
    await old.chat(request, call());
    expect(sent(2)).toMatchObject({ temperature: 0.7, top_p: 0.5, top_k: 4 });
  });
});

describe('anthropic: streaming', () => {
  const input = { city: 'Tokyo', units: 'metric', days: [1, 2, 3] };
  const toolReply: AnthropicMockReply = {
    type: 'text',
    id: 'msg_stream',
    text: 'Let me look that up.',
    thinking: 'Use the tool.',
    toolCalls: [{ id: 'toolu_1', name: 'get_weather', input }],
    usage: { inputTokens: 20, outputTokens: 30, cacheReadInputTokens: 5 },
  };

  it('emits start, reasoning, text, tool-call start/delta/end by block index, usage and finish', async () => {
    const { provider } = await setup([toolReply]);
    const events = await drain(provider.stream(HELLO, call()));
    expect(sent().stream).toBe(true);

    expect(events[0]).toMatchObject({ type: 'start', id: 'msg_stream', model: MODEL, rateLimit: { requests: { remaining: 49 } } });
    expect(events.at(-1)).toEqual({ type: 'finish', finishReason: 'tool_calls', rawFinishReason: 'tool_use' });
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
    const reasoning = events.flatMap((e) => (e.type === 'reasoning' ? [e.text] : []));
    expect(reasoning.join('')).toBe('Use the tool.');
    const text = events.flatMap((e) => (e.type === 'text' ? [e.text] : []));
    expect(text).toEqual(['Let ', 'me ', 'look ', 'that ', 'up.']);

    const tool = events.filter((e) => e.type.startsWith('tool-call'));
    expect(tool[0]).toEqual({ type: 'tool-call-start', index: 2, id: 'toolu_1', name: 'get_weather' });
    const deltas = tool.filter((e) => e.type === 'tool-call-delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((e) => e.index === 2 && e.argumentsDelta !== '')).toBe(true);
    expect(tool.at(-1)).toEqual({
      type: 'tool-call-end',
      index: 2,
      id: 'toolu_1',
      name: 'get_weather',
      arguments: input,
      rawArguments: JSON.stringify(input),
    });

    const usage = events.filter((e) => e.type === 'usage');
    expect(usage[0]).toEqual({ type: 'usage', usage: { inputTokens: 25, outputTokens: 1, totalTokens: 26, cachedInputTokens: 5 } });
    expect(usage.at(-1)).toEqual({ type: 'usage', usage: { inputTokens: 25, outputTokens: 30, totalTokens: 55, cachedInputTokens: 5 } });
  });

  it('collectStream(stream) equals chat()', async () => {
    const { provider } = await setup([toolReply]);
    const fromChat = await provider.chat(HELLO, call());
    const fromStream = await collectStream(provider.stream(HELLO, call()));
    const strip = ({ rateLimit, ...rest }: ChatResponse) => {
      expect(rateLimit).toBeDefined();
      return rest;
    };
    expect(strip(fromStream)).toEqual(strip(fromChat));
    expect(fromChat.toolCalls).toHaveLength(1);
    expect(fromChat.reasoning).toBe('Use the tool.');
  });

  it('a tool call without arguments ends with `{}`', async () => {
    const { provider } = await setup([{ type: 'text', toolCalls: [{ id: 't', name: 'now' }] }]);
    const response = await collectStream(provider.stream(HELLO, call()));
    expect(response.toolCalls).toEqual([{ id: 't', name: 'now', arguments: {}, rawArguments: '{}' }]);
    expect(response.text).toBe('');
  });

  const stopReasons = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['model_context_window_exceeded', 'length'],
    ['pause_turn', 'other'],
  ] as const;

  it.each(stopReasons)('stop reason %s → %s, in chat and stream', async (raw, finishReason) => {
    const { provider } = await setup([{ type: 'text', text: 'partial', stopReason: raw }]);
    const chat = await provider.chat({ ...HELLO, stop: ['END'] }, call());
    expect([chat.finishReason, chat.rawFinishReason]).toEqual([finishReason, raw]);
    const events = await drain(provider.stream({ ...HELLO, stop: ['END'] }, call()));
    expect(events.at(-1)).toEqual({ type: 'finish', finishReason, rawFinishReason: raw });
  });

  it('a refusal is a content_filter finish, not an error', async () => {
    const { provider } = await setup([{ type: 'refusal', text: 'I cannot help with that.', category: 'cyber' }]);
    const response = await collectStream(provider.stream(HELLO, call()));
    expect(response).toMatchObject({ text: 'I cannot help with that.', finishReason: 'content_filter', rawFinishReason: 'refusal' });
  });

  it('a mid-stream overloaded_error after text is an overloaded error', async () => {
    const { provider } = await setup([{ type: 'stream-error-after', text: 'Partial answer', error: 'overloaded_error' }]);
    const { events, error } = await streamFailure(provider.stream(HELLO, call()));
    expect(events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('')).toBe('Partial answer');
    expect(events.some((e) => e.type === 'finish')).toBe(false);
    expect(error).toMatchObject({ kind: 'overloaded', type: 'overloaded_error', provider: 'anthropic', model: MODEL });
    expect(error.status).toBeUndefined();
    expect(error.requestId).toMatch(/^req_/);
    expect(error.retryable).toBe(true);
  });

  it('other mid-stream error types keep their kinds', async () => {
    const { provider } = await setup([
      { type: 'stream-error-after', text: 'x', error: 'api_error' },
      { type: 'stream-error-after', text: 'x', error: 'rate_limit_error' },
      { type: 'stream-error-after', text: 'x', error: 'invalid_request_error' },
    ]);
    const kinds: ErrorKind[] = [];
    for (let i = 0; i < 3; i++) kinds.push((await streamFailure(provider.stream(HELLO, call()))).error.kind);
    expect(kinds).toEqual(['server', 'rate_limit', 'invalid_request']);
  });

  it('an abort mid-stream throws `aborted` and disconnects from the server', async () => {
    const { provider } = await setup([{ type: 'stall-after', text: 'Hello there' }]);
    const controller = new AbortController();
    const iterator = provider.stream(HELLO, call(controller.signal))[Symbol.asyncIterator]();
    let next = await iterator.next();
    while (!next.done && next.value.type !== 'text') next = await iterator.next();
    expect(next.value).toEqual({ type: 'text', text: 'Hello ' });
    const rest = failure(
      (async () => {
        while (!(await iterator.next()).done);
      })(),
    );
    controller.abort();
    expect((await rest).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('an abort stops the stream even when the rest of the body is already buffered', async () => {
    const { provider } = await setup([{ type: 'text', text: 'one two three four five' }]);
    const controller = new AbortController();
    const iterator = provider.stream(HELLO, call(controller.signal))[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: 'start' });
    controller.abort();
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) seen.push(next.value.type);
      })(),
    );
    expect(error.kind).toBe('aborted');
    expect(seen).not.toContain('text'); // at most what the frame being handled still carried (its usage)
  });

  it('breaking out of the loop early releases the connection', async () => {
    const { provider } = await setup([{ type: 'stall-after', text: 'Hello there' }]);
    for await (const event of provider.stream(HELLO, call())) if (event.type === 'text') break;
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('a cut connection is a connection error', async () => {
    const { provider } = await setup([{ type: 'cut-after', text: 'Hello there' }]);
    const { events, error } = await streamFailure(provider.stream(HELLO, call()));
    expect(events.some((e) => e.type === 'text')).toBe(true);
    expect(error.kind).toBe('connection');
  });

  it('a malformed frame is a server error at once (the server then stalls: no hang)', async () => {
    const { provider } = await setup([{ type: 'malformed-frame', text: 'Hi' }]);
    const { events, error } = await streamFailure(provider.stream(HELLO, call()));
    expect(events.some((e) => e.type === 'text')).toBe(true);
    expect(error).toMatchObject({ kind: 'server', code: 'malformed_response' });
    await mock!.requests[0]!.disconnect; // the connection is released too
  });

  it('a stream that ends without message_stop is a truncated `connection` error', async () => {
    const { provider } = await setup([{ type: 'truncate-after', text: 'Hello there' }]);
    const { events, error } = await streamFailure(provider.stream(HELLO, call()));
    expect(events.some((e) => e.type === 'finish')).toBe(false);
    expect(error).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });

  it('message_delta alone does not finish a stream: only message_stop does', async () => {
    mock = await startAnthropicMock([{ type: 'text', text: 'Hello there' }]);
    // A transport that drops everything from message_stop on, as a truncating proxy would.
    const transport: Transport = async (request) => {
      const response = await fetchTransport(request);
      const full = await bodyText(response);
      const cut = full.slice(0, full.indexOf('event: message_stop'));
      expect(cut).toContain('event: message_delta');
      const body = (async function* () {
        yield new TextEncoder().encode(cut);
      })();
      return { status: response.status, headers: response.headers, body };
    };
    const provider = anthropic({ baseURL: mock.url, transport });
    const { events, error } = await streamFailure(provider.stream(HELLO, call()));
    expect(events.filter((e) => e.type === 'usage')).toHaveLength(2);
    expect(events.some((e) => e.type === 'finish')).toBe(false);
    expect(error).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });
});

describe('anthropic: errors', () => {
  const table: Array<[AnthropicMockErrorKind, ErrorKind, number, string, Partial<LlmError>?]> = [
    ['rate_limit', 'rate_limit', 429, 'rate_limit_error'],
    ['quota', 'quota', 429, 'rate_limit_error', { code: 'enforced_spend_limit_reached' }],
    ['billing', 'quota', 402, 'billing_error'],
    ['overloaded', 'overloaded', 529, 'overloaded_error'],
    ['server', 'server', 500, 'api_error'],
    ['timeout', 'server', 504, 'timeout_error'],
    ['auth', 'auth', 401, 'authentication_error'],
    ['permission', 'auth', 403, 'permission_error'],
    ['not_found', 'not_found', 404, 'not_found_error'],
    ['context_length', 'context_length', 400, 'invalid_request_error'],
    ['invalid_request', 'invalid_request', 400, 'invalid_request_error'],
  ];

  it.each(table)('%s → kind %s (HTTP %i %s), from chat and stream, never retried', async (mockKind, kind, status, type, extra) => {
    const { provider } = await setup([{ type: 'error', kind: mockKind, ...(mockKind === 'rate_limit' ? { retryAfter: 7 } : {}) }]);
    const errors = [
      await failure(provider.chat(HELLO, call())),
      (await streamFailure(provider.stream(HELLO, call()))).error,
    ];
    for (const error of errors) {
      expect(error).toMatchObject({ kind, status, type, provider: 'anthropic', model: MODEL, ...extra });
      expect(error.requestId).toMatch(/^req_\w{24}$/);
      expect(error.retryAfterMs).toBe(mockKind === 'rate_limit' ? 7000 : undefined);
      expect(error.message).toContain(`HTTP ${status}`);
      expect(JSON.stringify(error)).not.toContain(KEY);
    }
    expect(mock!.requests).toHaveLength(2); // one per call: the adapter never retries
  });

  it('takes the request id from the request-id header', async () => {
    const { provider } = await setup([{ type: 'error', kind: 'server', headers: { 'request-id': 'req_from_header' } }]);
    expect((await failure(provider.chat(HELLO, call()))).requestId).toBe('req_from_header');
  });

  it('an overloaded 529 with retry-after carries the wait', async () => {
    const { provider } = await setup([{ type: 'error', kind: 'overloaded', retryAfter: 2 }]);
    expect(await failure(provider.chat(HELLO, call()))).toMatchObject({ kind: 'overloaded', retryAfterMs: 2000 });
  });

  it('a refused connection is a connection error', async () => {
    mock = await startAnthropicMock([{ type: 'text', text: 'x' }]);
    const url = mock.url;
    await mock.close();
    mock = undefined;
    const provider = anthropic({ apiKey: KEY, baseURL: url });
    const error = await failure(provider.chat(HELLO, call()));
    expect(error.kind).toBe('connection');
    expect(JSON.stringify(error)).not.toContain(KEY);
  });

  it('the API key never appears in an error, even when the upstream echoes it', async () => {
    const key = 'plain-secret-value-4242'; // no recognisable key shape: only the adapter knows it is secret
    mock = await startAnthropicMock({
      apiKey: key,
      replies: [
        { type: 'error', kind: 'auth', message: `invalid x-api-key ${key}` },
        { type: 'stream-error-after', text: 'x', error: 'api_error', message: `upstream failed for key ${key}` },
      ],
    });
    const provider = anthropic({ apiKey: key, baseURL: mock.url });
    const errors = [await failure(provider.chat(HELLO, call())), (await streamFailure(provider.stream(HELLO, call()))).error];
    expect(errors.map((e) => e.kind)).toEqual(['auth', 'server']);
    for (const error of errors) {
      expect(error.message).not.toContain(key);
      expect(error.stack ?? '').not.toContain(key);
      expect(JSON.stringify(error)).not.toContain(key);
      expect(error.message).toContain('***');
    }
    // A wrong key is rejected with the service's own words, and is not echoed either.
    const wrong = anthropic({ apiKey: 'sk-ant-api03-wrong-key-000000000', baseURL: mock.url });
    const error = await failure(wrong.chat(HELLO, call()));
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(JSON.stringify(error)).not.toContain('wrong-key');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { collectStream } from '../llm/collect-stream.js';
import type { ErrorKind } from '../llm/error-kind.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { startGeminiMock, type GeminiMock, type GeminiMockErrorKind, type GeminiMockReply, type GeminiMockScenario } from '../mock/gemini-mock.js';
import { startMockServer, type MockFrame, type MockServer } from '../mock/mock-server.js';
import { gemini, SKIP_THOUGHT_SIGNATURE, type GeminiOptions } from './gemini.js';
import type { ChatProvider } from './provider.js';
import { failure } from '../../test/support/provider-test.js';

const KEY = 'test-key-7f3a9c2e'; // not a recognisable key shape, so redaction cannot hide a leak
const MODEL = 'gemini-2.5-flash';
const HI: ChatRequest = { messages: [{ role: 'user', content: 'Hi' }] };

let mock: GeminiMock | undefined;
let raw: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  await raw?.close();
  mock = raw = undefined;
});

async function setup(scenario: GeminiMockScenario | GeminiMockReply[], options: GeminiOptions = {}): Promise<ChatProvider> {
  mock = await startGeminiMock(Array.isArray(scenario) ? { apiKey: KEY, replies: scenario } : { apiKey: KEY, ...scenario });
  return gemini({ apiKey: KEY, baseURL: mock.url, ...options });
}

const call = (signal: AbortSignal = new AbortController().signal) => ({ model: MODEL, signal });

async function events(provider: ChatProvider, request: ChatRequest = HI): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of provider.stream(request, call())) out.push(event);
  return out;
}

const lastBody = (): Record<string, unknown> => mock!.requests.at(-1)!.json as Record<string, unknown>;

describe('gemini chat()', () => {
  it('posts to :generateContent with the key in a header and maps the answer', async () => {
    const provider = await setup([
      {
        type: 'text',
        text: 'Hello there',
        thoughts: 'The user greets me.',
        responseId: 'resp-1',
        usage: { promptTokenCount: 12, candidatesTokenCount: 3, thoughtsTokenCount: 7, cachedContentTokenCount: 4 },
      },
    ]);
    const answer = await provider.chat(HI, call());
    expect(answer).toEqual({
      text: 'Hello there',
      reasoning: 'The user greets me.',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'STOP',
      usage: { inputTokens: 12, outputTokens: 10, reasoningTokens: 7, cachedInputTokens: 4, totalTokens: 22 },
      id: 'resp-1',
      model: MODEL,
    });
    const [request] = mock!.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(request!.headers['x-goog-api-key']).toBe(KEY);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.json).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
    expect(provider.name).toBe('gemini');
    expect(provider.protocol).toBe('gemini');
  });

  it('returns function calls with their ids, or generated ones, and finish tool_calls', async () => {
    const provider = await setup([
      {
        type: 'text',
        text: '',
        toolCalls: [
          { name: 'get_weather', args: { city: 'Tokyo' } },
          { name: 'get_time', args: { zone: 'JST' }, id: 'fc-2' },
        ],
      },
    ]);
    const answer = await provider.chat(HI, call());
    expect(answer.finishReason).toBe('tool_calls');
    expect(answer.rawFinishReason).toBe('STOP');
    expect(answer.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_[0-9a-f]{24}$/), name: 'get_weather', arguments: { city: 'Tokyo' }, rawArguments: '{"city":"Tokyo"}' },
      { id: 'fc-2', name: 'get_time', arguments: { zone: 'JST' }, rawArguments: '{"zone":"JST"}' },
    ]);
  });

  it('takes the model path as given when it names a collection', async () => {
    const provider = await setup([{ type: 'text', text: 'ok' }]);
    await expect(provider.chat(HI, { model: 'models/gemini-2.5-pro', signal: new AbortController().signal })).resolves.toMatchObject({ text: 'ok' });
    expect(mock!.requests[0]!.path).toBe('/v1beta/models/gemini-2.5-pro:generateContent');
  });

  it('sends no key header without a key and merges extra headers', async () => {
    mock = await startGeminiMock([{ type: 'text', text: 'ok' }]);
    const provider = gemini({ baseURL: `${mock.url}/`, headers: { 'x-proxy': 'p' } });
    await provider.chat(HI, call());
    expect(mock.requests[0]!.headers['x-goog-api-key']).toBeUndefined();
    expect(mock.requests[0]!.headers['x-proxy']).toBe('p');
    expect(mock.requests[0]!.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
  });
});

describe('gemini request mapping', () => {
  it('maps system, images, tool calls, tool results, tools and generation settings', async () => {
    const provider = await setup({ replies: [{ type: 'text', text: 'ok' }], loop: true });
    await provider.chat(
      {
        system: 'Be brief.',
        messages: [
          { role: 'system', content: 'Answer in English.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these?' },
              { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
              { type: 'image', url: 'https://example.com/cat.JPG?size=large' },
              { type: 'image', url: 'https://example.com/blob' },
              { type: 'image', data: 'R0lGOD', mediaType: 'image/gif' },
            ],
          },
          {
            role: 'assistant',
            content: 'Checking.',
            toolCalls: [
              { id: 'c1', name: 'get_weather', arguments: { city: 'Tokyo' } },
              { id: 'c2', name: 'get_time', arguments: undefined, rawArguments: '{"zone":"JST"}' },
            ],
          },
          { role: 'tool', toolCallId: 'c1', content: 'sunny' },
          { role: 'tool', toolCallId: 'c2', name: 'get_time', content: [{ type: 'text', text: 'clock broken' }], isError: true },
          { role: 'user', content: 'Thanks' },
          { role: 'assistant', toolCalls: [{ id: 'c3', name: 'get_weather', arguments: {} }] },
          { role: 'tool', toolCallId: 'c3', content: [{ type: 'text', text: 'see map' }, { type: 'image', data: 'AAAA', mediaType: 'image/png' }] },
        ],
        tools: [
          { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } },
          { name: 'get_time', parameters: { type: 'object', properties: {} } },
        ],
        toolChoice: 'auto',
        temperature: 0.2,
        topP: 0.9,
        maxTokens: 256,
        stop: ['END'],
        responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } },
        metadata: { user: 'u1' },
      },
      call(),
    );
    expect(lastBody()).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in English.' }] },
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'What is in these?' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
            { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.JPG?size=large' } },
            { fileData: { fileUri: 'https://example.com/blob' } },
            { inlineData: { mimeType: 'image/gif', data: 'R0lGOD' } },
          ],
        },
        {
          role: 'model',
          parts: [
            { text: 'Checking.' },
            { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } }, thoughtSignature: SKIP_THOUGHT_SIGNATURE },
            { functionCall: { name: 'get_time', args: { zone: 'JST' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { content: 'sunny' } } },
            { functionResponse: { name: 'get_time', response: { error: 'clock broken' } } },
          ],
        },
        { role: 'user', parts: [{ text: 'Thanks' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: {} }, thoughtSignature: SKIP_THOUGHT_SIGNATURE }] },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { content: 'see map' } } },
            { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
          ],
        },
      ],
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Weather by city',
              parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false },
            },
            { name: 'get_time', parametersJsonSchema: { type: 'object', properties: {} } },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
      generationConfig: {
        temperature: 0.2,
        topP: 0.9,
        maxOutputTokens: 256,
        stopSequences: ['END'],
        responseMimeType: 'application/json',
        responseJsonSchema: { type: 'object' },
      },
    });
  });

  it.each([
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
    [{ name: 'get_time' }, { mode: 'ANY', allowedFunctionNames: ['get_time'] }],
  ] as const)('maps tool choice %j', async (toolChoice, expected) => {
    const provider = await setup([{ type: 'text', text: 'ok' }]);
    await provider.chat({ ...HI, tools: [{ name: 'get_time', parameters: { type: 'object' } }], toolChoice }, call());
    expect(lastBody().toolConfig).toEqual({ functionCallingConfig: expected });
  });

  it('asks for JSON and merges providerOptions.gemini one level deep', async () => {
    const provider = await setup([{ type: 'text', text: '{}' }]);
    await provider.chat(
      {
        ...HI,
        maxTokens: 100,
        responseFormat: { type: 'json' },
        providerOptions: {
          gemini: {
            generationConfig: { thinkingConfig: { includeThoughts: true }, responseMimeType: undefined },
            safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
          },
          openai: { seed: 1 },
        },
      },
      call(),
    );
    expect(lastBody()).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
      generationConfig: { maxOutputTokens: 100, thinkingConfig: { includeThoughts: true } },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
    });
  });

  it('rejects a tool result it cannot name, before sending anything', async () => {
    const provider = await setup([{ type: 'text', text: 'ok' }]);
    const request: ChatRequest = { messages: [{ role: 'tool', toolCallId: 'nope', content: 'x' }] };
    const error = await failure(provider.chat(request, call()));
    expect(error.kind).toBe('invalid_request');
    expect(error.message).toContain('"nope"');
    const streamError = await failure(collectStream(provider.stream(request, call())));
    expect(streamError.kind).toBe('invalid_request');
    expect(mock!.requests).toHaveLength(0);
  });
});

describe('gemini stream()', () => {
  it('posts to :streamGenerateContent?alt=sse and emits start, deltas, usage and finish', async () => {
    const provider = await setup([
      {
        type: 'text',
        chunks: ['Hel', 'lo ', 'world'],
        thoughts: 'greet',
        responseId: 'resp-s',
        usage: { promptTokenCount: 5, candidatesTokenCount: 30, thoughtsTokenCount: 2 },
      },
    ]);
    const out = await events(provider);
    expect(mock!.requests[0]!.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    expect(mock!.requests[0]!.headers['x-goog-api-key']).toBe(KEY);
    expect(out).toEqual([
      { type: 'start', id: 'resp-s', model: MODEL },
      { type: 'reasoning', text: 'greet' },
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo ' },
      { type: 'text', text: 'world' },
      // every chunk carried a running total: the last one counts, nothing is summed
      { type: 'usage', usage: { inputTokens: 5, outputTokens: 32, reasoningTokens: 2, totalTokens: 37 } },
      { type: 'finish', finishReason: 'stop', rawFinishReason: 'STOP' },
    ]);
  });

  it('emits start, delta and end for each function call', async () => {
    const provider = await setup([
      { type: 'text', text: 'Let me see.', toolCalls: [{ name: 'a', args: { x: 1 } }, { name: 'b', id: 'fc-b' }] },
    ]);
    const out = (await events(provider)).filter((e) => e.type.startsWith('tool-call') || e.type === 'finish');
    const id = (out[0] as { id: string }).id;
    expect(id).toMatch(/^call_/);
    expect(out).toEqual([
      { type: 'tool-call-start', index: 0, id, name: 'a' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{"x":1}' },
      { type: 'tool-call-end', index: 0, id, name: 'a', arguments: { x: 1 }, rawArguments: '{"x":1}' },
      { type: 'tool-call-start', index: 1, id: 'fc-b', name: 'b' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '{}' },
      { type: 'tool-call-end', index: 1, id: 'fc-b', name: 'b', arguments: {}, rawArguments: '{}' },
      { type: 'finish', finishReason: 'tool_calls', rawFinishReason: 'STOP' },
    ]);
  });

  it('collects into exactly what chat() returns', async () => {
    const reply: GeminiMockReply = {
      type: 'text',
      text: 'The weather in Tokyo is sunny today.',
      thoughts: 'Need the weather.',
      toolCalls: [{ name: 'get_weather', args: { city: 'Tokyo' }, id: 'fc-1' }],
      responseId: 'same',
      usage: { promptTokenCount: 9, cachedContentTokenCount: 3 },
    };
    const provider = await setup({ replies: [reply], loop: true });
    const streamed = await collectStream(provider.stream(HI, call()));
    const whole = await provider.chat(HI, call());
    expect(streamed).toEqual(whole);
    expect(whole.text).toBe('The weather in Tokyo is sunny today.');
    expect(whole.usage?.cachedInputTokens).toBe(3);
  });
});

describe('gemini finish reasons', () => {
  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['SPII', 'content_filter'],
    ['IMAGE_SAFETY', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'error'],
    ['TOO_MANY_TOOL_CALLS', 'error'],
    ['LANGUAGE', 'other'],
    ['OTHER', 'other'],
    ['SOMETHING_NEW', 'other'],
  ])('%s → %s', async (raw, expected) => {
    const provider = await setup({ replies: [{ type: 'text', text: 'x', finishReason: raw }], loop: true });
    expect(await provider.chat(HI, call())).toMatchObject({ finishReason: expected, rawFinishReason: raw });
    expect((await events(provider)).at(-1)).toEqual({ type: 'finish', finishReason: expected, rawFinishReason: raw });
  });

  it('keeps length when a cut-off answer also has a call', async () => {
    const provider = await setup([{ type: 'text', text: 'x', toolCalls: [{ name: 'f' }], finishReason: 'MAX_TOKENS' }]);
    expect((await provider.chat(HI, call())).finishReason).toBe('length');
  });

  it('reports a safety stop as content_filter with the text so far', async () => {
    const provider = await setup({ replies: [{ type: 'safety', text: 'Partial ' }], loop: true });
    expect(await provider.chat(HI, call())).toMatchObject({ text: 'Partial ', finishReason: 'content_filter', rawFinishReason: 'SAFETY' });
    const streamed = await collectStream(provider.stream(HI, call()));
    expect(streamed).toMatchObject({ text: 'Partial ', finishReason: 'content_filter', rawFinishReason: 'SAFETY' });
  });

  it('returns a blocked prompt (HTTP 200, no candidates) as content_filter, not an error', async () => {
    const provider = await setup({ replies: [{ type: 'blocked', blockReason: 'PROHIBITED_CONTENT' }], loop: true });
    const answer = await provider.chat(HI, call());
    expect(answer).toMatchObject({ text: '', toolCalls: [], finishReason: 'content_filter', rawFinishReason: 'PROHIBITED_CONTENT', model: MODEL });
    expect(answer.usage?.outputTokens).toBe(0);
    const out = await events(provider);
    expect(out.map((e) => e.type)).toEqual(['start', 'usage', 'finish']);
    expect(out.at(-1)).toEqual({ type: 'finish', finishReason: 'content_filter', rawFinishReason: 'PROHIBITED_CONTENT' });
  });
});

describe('gemini errors', () => {
  const cases: [GeminiMockErrorKind, ErrorKind, number][] = [
    ['rate_limit', 'rate_limit', 429],
    ['quota', 'quota', 429],
    ['precondition', 'quota', 400],
    ['overloaded', 'overloaded', 503],
    ['server', 'server', 500],
    ['timeout', 'server', 504],
    ['auth', 'auth', 400],
    ['permission', 'auth', 403],
    ['not_found', 'not_found', 404],
    ['context_length', 'context_length', 400],
    ['invalid_request', 'invalid_request', 400],
  ];

  it.each(cases)('%s → %s (HTTP %i), from chat() and stream()', async (kind, expected, status) => {
    const provider = await setup({ replies: [{ type: 'error', kind }], loop: true });
    for (const attempt of [provider.chat(HI, call()), collectStream(provider.stream(HI, call()))]) {
      const error = await failure(attempt);
      expect(error.kind).toBe(expected);
      expect(error.status).toBe(status);
      expect(error.provider).toBe('gemini');
      expect(error.model).toBe(MODEL);
    }
  });

  it('takes the wait of a rate limit from RetryInfo', async () => {
    const provider = await setup([{ type: 'error', kind: 'rate_limit' }, { type: 'error', kind: 'rate_limit', retryDelay: '2.5s' }]);
    const first = await failure(provider.chat(HI, call()));
    expect(first).toMatchObject({ kind: 'rate_limit', retryAfterMs: 43_000, type: 'RESOURCE_EXHAUSTED' });
    expect((await failure(provider.chat(HI, call()))).retryAfterMs).toBe(2500);
  });

  it('gives a daily quota no wait and names API_KEY_INVALID for a bad key', async () => {
    const provider = await setup([{ type: 'error', kind: 'quota' }, { type: 'error', kind: 'auth' }]);
    expect((await failure(provider.chat(HI, call()))).retryAfterMs).toBeUndefined();
    expect(await failure(provider.chat(HI, call()))).toMatchObject({ kind: 'auth', code: 'API_KEY_INVALID' });
  });

  it('is auth when the service rejects the key, and the key appears nowhere', async () => {
    mock = await startGeminiMock({ apiKey: 'the-right-one', replies: [] });
    const provider = gemini({ apiKey: KEY, baseURL: mock.url });
    for (const attempt of [provider.chat(HI, call()), collectStream(provider.stream(HI, call()))]) {
      const error = await failure(attempt);
      expect(error).toMatchObject({ kind: 'auth', status: 400, code: 'API_KEY_INVALID' });
      expect(error.message).not.toContain(KEY);
      expect(JSON.stringify(error)).not.toContain(KEY);
      expect(String(error.stack)).not.toContain(KEY);
    }
    for (const request of mock.requests) {
      expect(request.path).not.toContain(KEY);
      expect(request.path).not.toContain('key=');
    }
    const missing = await failure(gemini({ baseURL: mock.url }).chat(HI, call()));
    expect(missing).toMatchObject({ kind: 'auth', status: 403 });
  });

  it('masks the key when the service quotes it in an error message', async () => {
    const provider = await setup({ replies: [{ type: 'error', kind: 'permission', message: `Key ${KEY} was suspended.` }], loop: true });
    for (const attempt of [provider.chat(HI, call()), collectStream(provider.stream(HI, call()))]) {
      const error = await failure(attempt);
      expect(error).toMatchObject({ kind: 'auth', status: 403 });
      expect(error.message).toContain('Key *** was suspended.');
      expect(`${error.message} ${JSON.stringify(error)} ${String(error.stack)}`).not.toContain(KEY);
    }
  });

  it('never puts the key in a connection error', async () => {
    mock = await startGeminiMock([]);
    const url = mock.url;
    await mock.close();
    mock = undefined;
    const error = await failure(gemini({ apiKey: KEY, baseURL: url }).chat(HI, call()));
    expect(error.kind).toBe('connection');
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(KEY);
  });

  it('refuses a key that is not a valid header value without quoting it', async () => {
    const bad = 'abc\ndef-secret';
    const provider = await setup([{ type: 'text', text: 'ok' }], { apiKey: bad });
    const error = await failure(provider.chat(HI, call()));
    expect(error.kind).toBe('auth');
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain('def-secret');
    expect(mock!.requests).toHaveLength(0);
  });

  it('trims whitespace around the key', async () => {
    const provider = await setup([{ type: 'text', text: 'ok' }], { apiKey: ` ${KEY}\n` });
    await expect(provider.chat(HI, call())).resolves.toMatchObject({ text: 'ok' });
  });

  it('throws a mid-stream error frame after the text it followed', async () => {
    const provider = await setup([{ type: 'stream-error-after', text: 'Hello there', error: 'overloaded' }]);
    const seen: StreamEvent[] = [];
    const error = await failure(
      (async () => {
        for await (const event of provider.stream(HI, call())) seen.push(event);
      })(),
    );
    expect(error).toMatchObject({ kind: 'overloaded', status: 503, type: 'UNAVAILABLE' });
    expect(seen.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe('Hello there');
    expect(seen.some((e) => e.type === 'finish')).toBe(false);
  });

  it('is connection when the connection is cut', async () => {
    const provider = await setup({ replies: [{ type: 'cut-after', text: 'Hello there' }], loop: true });
    expect((await failure(collectStream(provider.stream(HI, call())))).kind).toBe('connection');
    expect((await failure(provider.chat(HI, call()))).kind).toBe('connection');
  });

  it('is a truncated connection error when the body ends without a finishReason', async () => {
    const provider = await setup([{ type: 'eof-after', text: 'Hello there' }]);
    expect(await failure(collectStream(provider.stream(HI, call())))).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });

  it('is a truncated connection error when the body stops inside a frame, even after a finish', async () => {
    const chunk = { candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }] };
    const frames: MockFrame[] = [{ write: `data: ${JSON.stringify(chunk)}\r\n\r\n` }, { write: 'data: {"candidates":' }];
    raw = await startMockServer(() => ({ frames }));
    const provider = gemini({ baseURL: raw.url });
    expect(await failure(collectStream(provider.stream(HI, call())))).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
  });

  it('is server for a malformed frame, without waiting for more', async () => {
    const provider = await setup({ replies: [{ type: 'malformed-frame', text: 'Hello' }], loop: true });
    const error = await failure(collectStream(provider.stream(HI, call())));
    expect(error).toMatchObject({ kind: 'server', code: 'malformed_response' });
    expect((await failure(provider.chat(HI, call()))).kind).toBe('server');
  });

  it('is server for a 200 without candidates or a block reason', async () => {
    raw = await startMockServer(() => ({ json: { usageMetadata: { promptTokenCount: 1 } } }));
    expect(await failure(gemini({ baseURL: raw.url }).chat(HI, call()))).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });
});

describe('gemini cancellation', () => {
  it('aborts mid-stream: the iterator throws aborted and the server sees the disconnect', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hello there' }]);
    const controller = new AbortController();
    const iterator = provider.stream(HI, call(controller.signal))[Symbol.asyncIterator]();
    let next = await iterator.next();
    while (!next.done && next.value.type !== 'text') next = await iterator.next();
    expect(next.value).toMatchObject({ type: 'text' });
    const pending = failure(
      (async () => {
        for (;;) if ((await iterator.next()).done) return;
      })(),
    );
    controller.abort();
    expect((await pending).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('aborts a chat() waiting for its answer', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'x' }]);
    const controller = new AbortController();
    const pending = failure(provider.chat(HI, call(controller.signal)));
    while (mock!.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect((await pending).kind).toBe('aborted');
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('releases the connection when the consumer breaks early', async () => {
    const provider = await setup([{ type: 'stall-after', text: 'Hello there' }]);
    for await (const event of provider.stream(HI, call())) if (event.type === 'text') break;
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { collectStream } from '../llm/collect-stream.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { startOllamaMock, type OllamaMock, type OllamaMockErrorKind, type OllamaMockScenario } from '../mock/ollama-mock.js';
import { normalizeOllamaHost, ollama, toOllamaRequest, type OllamaOptions } from './ollama.js';
import type { ChatProvider } from './provider.js';
import type { Transport } from './transport.js';
import { failure, events } from '../../test/support/provider-test.js';

/** A body of one chunk, as a transport yields it. */
async function* bytes(text: string): AsyncIterable<Uint8Array> {
  yield new TextEncoder().encode(text);
}

let mock: OllamaMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function setup(scenario: OllamaMockScenario, options: OllamaOptions = {}): Promise<{ provider: ChatProvider; mock: OllamaMock }> {
  mock = await startOllamaMock(scenario);
  return { provider: ollama({ baseURL: mock.url, ...options }), mock };
}

const request: ChatRequest = { messages: [{ role: 'user', content: 'What is the weather in Tokyo?' }] };
const call = (signal: AbortSignal = new AbortController().signal) => ({ model: 'llama3.2', signal });

/** Tool-call ids are generated per call; compare everything else. */
const sameIds = (r: ChatResponse): ChatResponse => ({ ...r, toolCalls: r.toolCalls.map((t) => ({ ...t, id: 'ID' })) });

describe('ollama: requests', () => {
  it('posts the whole request to /api/chat, with stream set explicitly', async () => {
    const { provider, mock } = await setup([{ type: 'text', text: 'ok' }], { apiKey: 'sk-cloud', keepAlive: '10m', headers: { 'x-team': 'a' } });
    const full: ChatRequest = {
      system: 'Be brief.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', data: 'iVBORw0K', mediaType: 'image/png' }] },
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Tokyo' } }] },
        { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' },
        { role: 'user', content: 'And now?' },
      ],
      tools: [{ name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 100,
      stop: ['\n\n'],
      responseFormat: { type: 'json' },
      providerOptions: { ollama: { think: true, options: { num_ctx: 8192 } }, openai: { seed: 1 } },
    };
    await provider.chat(full, call());
    await collectStream(provider.stream(full, call()));

    const [nonStreaming, streaming] = mock.requests;
    expect(nonStreaming!.method).toBe('POST');
    expect(nonStreaming!.path).toBe('/api/chat');
    expect(nonStreaming!.headers.authorization).toBe('Bearer sk-cloud');
    expect(nonStreaming!.headers['x-team']).toBe('a');
    expect(nonStreaming!.json).toEqual({
      model: 'llama3.2',
      stream: false,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is this?', images: ['iVBORw0K'] },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] },
        { role: 'tool', content: '{"temp":21}', tool_name: 'get_weather', tool_call_id: 'call_1' },
        { role: 'user', content: 'And now?' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
      ],
      options: { temperature: 0.2, top_p: 0.9, num_predict: 100, stop: ['\n\n'], num_ctx: 8192 },
      format: 'json',
      keep_alive: '10m',
      think: true,
    });
    expect(streaming!.json).toMatchObject({ stream: true });
    expect(streaming!.headers.accept).toBe('application/x-ndjson');
  });

  it('sends no Authorization header without an api key', async () => {
    const { provider, mock } = await setup([{ type: 'text', text: 'ok' }]);
    await provider.chat(request, call());
    expect(mock.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('maps response formats, tool choice and data-URL images', () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const tools = [
      { name: 'a', parameters: {} },
      { name: 'b', parameters: {} },
    ];
    expect(toOllamaRequest({ messages: [], responseFormat: { type: 'json_schema', name: 's', schema } }, 'm', true).format).toEqual(schema);
    expect(toOllamaRequest({ messages: [], responseFormat: { type: 'text' } }, 'm', true)).not.toHaveProperty('format');
    expect(toOllamaRequest({ messages: [], tools, toolChoice: 'none' }, 'm', true)).not.toHaveProperty('tools');
    expect(toOllamaRequest({ messages: [], tools, toolChoice: { name: 'b' } }, 'm', true).tools).toEqual([
      { type: 'function', function: { name: 'b', parameters: {} } },
    ]);
    const image = toOllamaRequest({ messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,QUJD' }] }] }, 'm', true);
    expect(image.messages).toEqual([{ role: 'user', content: '', images: ['QUJD'] }]);
    expect(toOllamaRequest({ messages: [] }, 'm', false)).toEqual({ model: 'm', messages: [], stream: false });
  });

  it('keeps model and stream its own whatever providerOptions say', () => {
    const body = toOllamaRequest({ messages: [], providerOptions: { ollama: { model: 'x', stream: true, seed: 3 } } }, 'm', false);
    expect(body).toMatchObject({ model: 'm', stream: false, seed: 3 });
  });

  it('rejects an image URL as invalid_request before sending anything', async () => {
    const { provider, mock } = await setup([{ type: 'text', text: 'ok' }]);
    const withUrl: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/cat.png' }] }] };
    expect((await failure(provider.chat(withUrl, call()))).kind).toBe('invalid_request');
    expect((await failure(collectStream(provider.stream(withUrl, call())))).kind).toBe('invalid_request');
    expect(mock.requests).toHaveLength(0);
  });

  it.each([
    [undefined, 'http://127.0.0.1:11434'],
    ['', 'http://127.0.0.1:11434'],
    ['0.0.0.0', 'http://0.0.0.0:11434'],
    ['my-box:8080', 'http://my-box:8080'],
    ['my-box:80', 'http://my-box'],
    ['http://my-box', 'http://my-box'],
    ['https://ollama.com/api', 'https://ollama.com'],
    ['http://127.0.0.1:11434/', 'http://127.0.0.1:11434'],
    ['http://proxy/ollama/api/', 'http://proxy/ollama'],
  ])('reads OLLAMA_HOST %j as %s', (host, url) => {
    expect(normalizeOllamaHost(host)).toBe(url);
  });

  it('posts to <host>/api/chat for a cloud-style base URL', async () => {
    let seen = '';
    const transport: Transport = async (req) => {
      seen = req.url;
      throw new Error('stop here');
    };
    await failure(ollama({ baseURL: 'https://ollama.com/api', transport }).chat(request, call()));
    expect(seen).toBe('https://ollama.com/api/chat');
  });
});

describe('ollama: answers', () => {
  it('returns text, model, usage and the done reason (non-streaming)', async () => {
    const { provider } = await setup([{ type: 'text', text: 'It is sunny.', usage: { inputTokens: 26, outputTokens: 298 } }]);
    expect(await provider.chat(request, call())).toEqual({
      text: 'It is sunny.',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { inputTokens: 26, outputTokens: 298, totalTokens: 324 },
      model: 'llama3.2',
    });
  });

  it('streams start, text deltas, usage and finish; collecting the stream equals chat()', async () => {
    const { provider } = await setup([{ type: 'text', text: 'It is sunny.', chunks: ['It ', 'is ', 'sunny.'], usage: { inputTokens: 5, outputTokens: 3 } }]);
    const streamed = await events(provider.stream(request, call()));
    expect(streamed).toEqual([
      { type: 'start', model: 'llama3.2' },
      { type: 'text', text: 'It ' },
      { type: 'text', text: 'is ' },
      { type: 'text', text: 'sunny.' },
      { type: 'usage', usage: { inputTokens: 5, outputTokens: 3, totalTokens: 8 } },
      { type: 'finish', finishReason: 'stop', rawFinishReason: 'stop' },
    ]);
    expect(await collectStream(provider.stream(request, call()))).toEqual(await provider.chat(request, call()));
  });

  it('returns tool calls with object arguments and generated ids; finish is tool_calls', async () => {
    const reply = {
      type: 'text' as const,
      text: '',
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Tokyo' } },
        { name: 'get_time', arguments: { zone: 'JST', precise: true } },
      ],
    };
    const { provider } = await setup([reply]);
    const answer = await provider.chat(request, call());
    expect(answer.finishReason).toBe('tool_calls');
    expect(answer.rawFinishReason).toBe('stop');
    expect(answer.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_\w{24}$/), name: 'get_weather', arguments: { city: 'Tokyo' }, rawArguments: '{"city":"Tokyo"}' },
      { id: expect.stringMatching(/^call_\w{24}$/), name: 'get_time', arguments: { zone: 'JST', precise: true }, rawArguments: '{"zone":"JST","precise":true}' },
    ]);
    expect(answer.toolCalls[0]!.id).not.toBe(answer.toolCalls[1]!.id);

    const streamed = await events(provider.stream(request, call()));
    const ends = streamed.filter((e) => e.type === 'tool-call-end');
    expect(ends.map((e) => e.type === 'tool-call-end' && [e.index, e.name, e.arguments])).toEqual([
      [0, 'get_weather', { city: 'Tokyo' }],
      [1, 'get_time', { zone: 'JST', precise: true }],
    ]);
    expect(sameIds(await collectStream(provider.stream(request, call())))).toEqual(sameIds(answer));
  });

  it('keeps the tool-call ids a server sends', async () => {
    const body = JSON.stringify({
      model: 'm',
      message: { role: 'assistant', content: '', tool_calls: [{ id: 'call_server', function: { name: 'f', arguments: {} } }] },
      done: true,
      done_reason: 'stop',
    });
    const transport: Transport = async () => ({ status: 200, headers: new Headers(), body: bytes(body) });
    expect((await ollama({ transport }).chat(request, call())).toolCalls[0]!.id).toBe('call_server');
  });

  it('maps thinking to reasoning, in both modes', async () => {
    const { provider } = await setup([{ type: 'text', text: 'Answer.', thinking: 'Let me think.' }]);
    const answer = await provider.chat(request, call());
    expect(answer.reasoning).toBe('Let me think.');
    const streamed = await events(provider.stream(request, call()));
    expect(streamed.filter((e) => e.type === 'reasoning').map((e) => e.type === 'reasoning' && e.text)).toEqual(['Let ', 'me ', 'think.']);
    expect(streamed.findIndex((e) => e.type === 'reasoning')).toBeLessThan(streamed.findIndex((e) => e.type === 'text'));
    expect(await collectStream(provider.stream(request, call()))).toEqual(answer);
  });

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['load', 'other'],
    ['unload', 'other'],
  ] as const)('maps done_reason %s to %s in both modes', async (raw, unified) => {
    const { provider } = await setup([{ type: 'text', text: 'x', doneReason: raw }]);
    expect(await provider.chat(request, call())).toMatchObject({ finishReason: unified, rawFinishReason: raw });
    expect((await events(provider.stream(request, call()))).at(-1)).toEqual({ type: 'finish', finishReason: unified, rawFinishReason: raw });
  });

  it('counts a missing prompt_eval_count (a cached prompt) as 0 input tokens', async () => {
    const body = JSON.stringify({ model: 'm', message: { role: 'assistant', content: 'x' }, done: true, done_reason: 'stop', eval_count: 4 });
    const transport: Transport = async () => ({ status: 200, headers: new Headers(), body: bytes(body) });
    expect((await ollama({ transport }).chat(request, call())).usage).toEqual({ inputTokens: 0, outputTokens: 4, totalTokens: 4 });
  });
});

describe('ollama: errors', () => {
  const cases: [OllamaMockErrorKind, string, number][] = [
    ['not_found', 'not_found', 404],
    ['overloaded', 'overloaded', 503],
    ['server', 'server', 500],
    ['context_length', 'context_length', 400],
    ['invalid_request', 'invalid_request', 400],
    ['rate_limit', 'rate_limit', 429],
  ];
  for (const [scripted, kind, status] of cases) {
    it(`classifies a ${status} ${scripted} body as ${kind}, in both modes`, async () => {
      const { provider } = await setup([{ type: 'error', kind: scripted }]);
      const fromChat = await failure(provider.chat(request, call()));
      const fromStream = await failure(collectStream(provider.stream(request, call())));
      for (const error of [fromChat, fromStream]) {
        expect(error).toMatchObject({ kind, status, provider: 'ollama', model: 'llama3.2' });
      }
      expect(fromChat.message).toContain(`ollama HTTP ${status}`);
    });
  }

  it('names the provider by its label in errors', async () => {
    const { provider } = await setup([{ type: 'error', kind: 'overloaded' }], { name: 'gpu-box' });
    expect(provider.name).toBe('gpu-box');
    expect(await failure(provider.chat(request, call()))).toMatchObject({ provider: 'gpu-box', kind: 'overloaded' });
  });

  it('throws a mid-stream {"error"} line (HTTP 200) as a classified error after the text', async () => {
    const { provider } = await setup([{ type: 'stream-error-after', text: 'partial answer' }]);
    const seen: StreamEvent[] = [];
    const error = await failure(
      (async () => {
        for await (const e of provider.stream(request, call())) seen.push(e);
      })(),
    );
    expect(seen.filter((e) => e.type === 'text').map((e) => e.type === 'text' && e.text)).toEqual(['partial ', 'answer']);
    expect(seen.some((e) => e.type === 'finish')).toBe(false);
    expect(error).toMatchObject({ kind: 'server', provider: 'ollama', model: 'llama3.2' });
    expect(error.status).toBeUndefined();
    expect(error.message).toContain('an error was encountered while running the model');
  });

  it('classifies a mid-stream error line by its message (busy → overloaded)', async () => {
    const { provider } = await setup([{ type: 'stream-error-after', text: 'a', message: 'server busy, please try again.  maximum pending requests exceeded' }]);
    expect((await failure(collectStream(provider.stream(request, call())))).kind).toBe('overloaded');
  });

  it('turns a stream error before output into the 500 Ollama sends (server), in chat() too', async () => {
    const { provider } = await setup([{ type: 'stream-error-after', text: 'partial' }]);
    expect(await failure(provider.chat(request, call()))).toMatchObject({ kind: 'server', status: 500 });
  });

  it('throws a truncated-stream connection error when the body ends without done:true', async () => {
    const { provider } = await setup([{ type: 'cut-after', text: 'half an' }]);
    const error = await failure(collectStream(provider.stream(request, call())));
    expect(error.kind).toBe('connection');
  });

  it('throws stream_truncated when a server closes cleanly without done:true', async () => {
    const lines = ['{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n'];
    const transport: Transport = async () => ({
      status: 200,
      headers: new Headers({ 'content-type': 'application/x-ndjson' }),
      body: (async function* () {
        for (const l of lines) yield new TextEncoder().encode(l);
      })(),
    });
    const error = await failure(collectStream(ollama({ transport }).stream(request, call())));
    expect(error).toMatchObject({ kind: 'connection', code: 'stream_truncated', provider: 'ollama' });
  });

  it('throws a server error for a malformed line without waiting for the (stalled) body to end', async () => {
    const { provider, mock } = await setup([{ type: 'malformed-line', text: 'ok' }]);
    const error = await failure(collectStream(provider.stream(request, call())));
    expect(error).toMatchObject({ kind: 'server', code: 'malformed_response' });
    await mock.requests[0]!.disconnect; // the adapter let go of the connection
  });

  it('throws a server error for a malformed non-streaming body', async () => {
    const { provider } = await setup([{ type: 'malformed-line' }]);
    expect(await failure(provider.chat(request, call()))).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });

  it('throws a server error for JSON lines that are not /api/chat objects', async () => {
    const body = '[1,2,3]\n';
    const transport: Transport = async () => ({
      status: 200,
      headers: new Headers(),
      body: (async function* () {
        yield new TextEncoder().encode(body);
      })(),
    });
    expect(await failure(collectStream(ollama({ transport }).stream(request, call())))).toMatchObject({ kind: 'server', code: 'malformed_response' });
  });

  it('is a connection error when nothing listens', async () => {
    const closed = await startOllamaMock([]);
    await closed.close();
    const error = await failure(ollama({ baseURL: closed.url }).chat(request, call()));
    expect(error.kind).toBe('connection');
  });

  it('never retries: one request per call, whatever the failure', async () => {
    const { provider, mock } = await setup([{ type: 'error', kind: 'overloaded' }]);
    await failure(provider.chat(request, call()));
    await failure(collectStream(provider.stream(request, call())));
    expect(mock.requests).toHaveLength(2);
  });
});

describe('ollama: cancellation', () => {
  it('an abort mid-stream throws aborted and reaches the server', async () => {
    const { provider, mock } = await setup([{ type: 'stall-after', text: 'first words' }]);
    const controller = new AbortController();
    const error = await failure(
      (async () => {
        for await (const e of provider.stream(request, call(controller.signal))) {
          if (e.type === 'text') controller.abort();
        }
      })(),
    );
    expect(error.kind).toBe('aborted');
    await mock.requests[0]!.disconnect;
    expect(mock.requests[0]!.disconnected).toBe(true);
  });

  it("the request's own signal aborts too", async () => {
    const { provider, mock } = await setup([{ type: 'stall-after', text: '' }]);
    const controller = new AbortController();
    const pending = provider.chat({ ...request, signal: controller.signal }, call());
    while (mock.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    expect((await failure(pending)).kind).toBe('aborted');
    await mock.requests[0]!.disconnect;
  });

  it('an abort before the first byte of a non-streaming call is aborted and reaches the server', async () => {
    const { provider, mock } = await setup([{ type: 'stall-after', text: 'x' }]);
    const controller = new AbortController();
    const pending = provider.chat(request, call(controller.signal));
    while (mock.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new Error('user left'));
    const error = await failure(pending);
    expect(error.kind).toBe('aborted');
    await mock.requests[0]!.disconnect;
  });

  it('breaking out of the loop releases the connection', async () => {
    const { provider, mock } = await setup([{ type: 'stall-after', text: 'never ending story' }]);
    for await (const e of provider.stream(request, call())) {
      if (e.type === 'text') break;
    }
    await mock.requests[0]!.disconnect;
    expect(mock.requests[0]!.disconnected).toBe(true);
  });
});

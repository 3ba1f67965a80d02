// The official `openai` SDK against the Ballast gateway, which routes to the OpenAI and Anthropic
// mock servers: if the SDK parses every answer, stream and error the way it would from
// api.openai.com, any OpenAI client in any language can use the gateway unchanged.
import OpenAI, { APIError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGatewayOverMocks, type GatewayOverMocks } from './support/gateway-over-mocks.js';
import { rejection } from './support/rejection.js';

const OPENAI_KEY = 'sk-upstream-openai-0123456789';
const ANTHROPIC_KEY = 'sk-ant-upstream-0123456789abcdef';
const CLIENT_TOKEN = 'client-token-for-the-gateway-42';
const WRONG_KEY = 'sk-wrong-upstream-key-987654321';
const messages = [{ role: 'user' as const, content: 'Hello' }];

let env: GatewayOverMocks;
let sdk: OpenAI;
const logs: string[] = [];

beforeAll(async () => {
  env = await startGatewayOverMocks({
    keys: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY },
    tokens: [CLIENT_TOKEN],
    extraProviders: (openaiUrl) => ({ wrong: { type: 'openai', apiKey: WRONG_KEY, baseURL: openaiUrl } }),
    routes: {
      chat: { targets: [{ provider: 'oai', model: 'gpt-4o' }], retry: { attempts: 1 } },
      resilient: {
        targets: [
          { provider: 'oai', model: 'gpt-4o-mini' },
          { provider: 'ant', model: 'claude-sonnet-4-5' },
        ],
        retry: { attempts: 1 },
        breaker: false,
      },
      cooling: { targets: [{ provider: 'oai', model: 'gpt-4o-mini', id: 'cooling-target' }], retry: { attempts: 1 }, breaker: false },
      resuming: {
        targets: [
          { provider: 'oai', model: 'gpt-4o-mini' },
          { provider: 'ant', model: 'claude-sonnet-4-5' },
        ],
        retry: { attempts: 1 },
        breaker: false,
        resume: true,
      },
      misconfigured: { targets: [{ provider: 'wrong', model: 'gpt-4o' }] },
    },
    log: (line) => logs.push(line),
  });
  sdk = new OpenAI({ apiKey: CLIENT_TOKEN, baseURL: `${env.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await env?.close();
});

beforeEach(() => env.resetReplies());

describe('openai SDK -> gateway: answers', () => {
  it('chat: text, finish reason, usage and the x-ballast headers', async () => {
    env.replies.openai = [{ type: 'text', text: 'Hi there!', usage: { promptTokens: 7, completionTokens: 3 } }];
    const { data, response } = await sdk.chat.completions.create({ model: 'chat', messages }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('chat');
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hi there!' });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    expect(response.headers.get('x-ballast-target')).toBe('oai/gpt-4o');
    expect(response.headers.get('x-ballast-attempts')).toBe('1');
    expect(response.headers.get('x-ballast-fallbacks')).toBe('0');
    expect(response.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
    // The gateway used its own upstream key, not the client's token.
    const upstream = env.openaiMock.requests.at(-1)!;
    expect(upstream.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect((upstream.json as { model: string }).model).toBe('gpt-4o');
  });

  it('passes sampling fields and the system prompt upstream', async () => {
    await sdk.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'system', content: 'Be brief.' }, ...messages],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      stop: ['END'],
      seed: 7,
      response_format: { type: 'json_object' },
    });
    const body = env.openaiMock.requests.at(-1)!.json as Record<string, unknown>;
    expect(body).toMatchObject({ temperature: 0.2, top_p: 0.9, stop: ['END'], seed: 7, response_format: { type: 'json_object' } });
    expect(body.max_completion_tokens ?? body.max_tokens).toBe(50);
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  it('stream: deltas in order, finish reason, the usage chunk when asked, and [DONE]', async () => {
    env.replies.openai = [{ type: 'text', text: 'one two three', usage: { promptTokens: 5, completionTokens: 3 } }];
    const { data: stream, response } = await sdk.chat.completions
      .create({ model: 'chat', messages, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-ballast-target')).toBe('oai/gpt-4o');
    let text = '';
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice?.delta.content) text += choice.delta.content;
      if (choice?.finish_reason) finishes.push(choice.finish_reason);
    }
    expect(text).toBe('one two three');
    expect(finishes).toEqual(['stop']);
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it('stream without include_usage sends no usage chunk', async () => {
    const stream = await sdk.chat.completions.create({ model: 'chat', messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
  });

  const tools: OpenAI.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  ];

  it('tools: the tool definitions go upstream and tool calls come back', async () => {
    env.replies.openai = [{ type: 'text', toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: { city: 'Oslo' } }] }];
    const completion = await sdk.chat.completions.create({ model: 'chat', messages, tools, tool_choice: 'auto' });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call).toMatchObject({ id: 'call_w', function: { name: 'get_weather' } });
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
    const body = env.openaiMock.requests.at(-1)!.json as Record<string, unknown>;
    expect(body.tools).toEqual(tools);
    expect(body.tool_choice).toBe('auto');
  });

  it('tools: streamed tool-call deltas carry their index and join into the arguments', async () => {
    env.replies.openai = [
      {
        type: 'text',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: { city: 'Lisbon, Portugal' } },
          { id: 'call_b', name: 'get_weather', arguments: { city: 'Kyoto' } },
        ],
      },
    ];
    const stream = await sdk.chat.completions.create({ model: 'chat', messages, tools, stream: true });
    const calls = new Map<number, { id?: string; name?: string; args: string }>();
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      finish = choice.finish_reason ?? finish;
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { args: '' };
        if (delta.id) call.id = delta.id;
        if (delta.function?.name) call.name = delta.function.name;
        call.args += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    expect(finish).toBe('tool_calls');
    expect([...calls.keys()]).toEqual([0, 1]);
    expect(calls.get(0)).toMatchObject({ id: 'call_a', name: 'get_weather' });
    expect(JSON.parse(calls.get(0)!.args)).toEqual({ city: 'Lisbon, Portugal' });
    expect(JSON.parse(calls.get(1)!.args)).toEqual({ city: 'Kyoto' });
  });

  it('a tool result turn goes back upstream in OpenAI form', async () => {
    await sdk.chat.completions.create({
      model: 'chat',
      tools,
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
      ],
    });
    const body = env.openaiMock.requests.at(-1)!.json as { messages: unknown[] };
    expect(body.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
    ]);
  });

  it('lists the routes as models', async () => {
    const ids: string[] = [];
    for await (const model of sdk.models.list()) ids.push(model.id);
    expect(ids).toEqual(['chat', 'resilient', 'cooling', 'resuming', 'misconfigured']);
  });

  it('a target can be asked for directly by <provider>/<model>', async () => {
    env.replies.anthropic = [{ type: 'text', text: 'straight from claude' }];
    const { data, response } = await sdk.chat.completions.create({ model: 'ant/claude-sonnet-4-5', messages }).withResponse();
    expect(data.choices[0]!.message.content).toBe('straight from claude');
    expect(response.headers.get('x-ballast-target')).toBe('ant/claude-sonnet-4-5');
  });
});

describe('openai SDK -> gateway: fallback across protocols', () => {
  it('falls back from a failing OpenAI-protocol target to an Anthropic-protocol target within one request', async () => {
    env.replies.openai = [{ type: 'error', kind: 'server' }];
    env.replies.anthropic = [{ type: 'text', text: 'Claude saved the day.' }];
    const before = env.anthropicMock.requests.length;
    const { data, response } = await sdk.chat.completions.create({ model: 'resilient', messages }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Claude saved the day.');
    expect(response.headers.get('x-ballast-target')).toBe('ant/claude-sonnet-4-5');
    expect(response.headers.get('x-ballast-fallbacks')).toBe('1');
    expect(response.headers.get('x-ballast-attempts')).toBe('2');
    expect(env.anthropicMock.requests.length).toBe(before + 1);
    expect(env.anthropicMock.requests.at(-1)!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
  });

  it('falls back invisibly in a stream too (the failure was before the first token)', async () => {
    env.replies.openai = [{ type: 'error', kind: 'overloaded' }];
    env.replies.anthropic = [{ type: 'text', text: 'streamed by claude' }];
    const { data: stream, response } = await sdk.chat.completions.create({ model: 'resilient', messages, stream: true }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('streamed by claude');
    expect(response.headers.get('x-ballast-target')).toBe('ant/claude-sonnet-4-5');
    expect(response.headers.get('x-ballast-fallbacks')).toBe('1');
  });
});

describe('openai SDK -> gateway: a stream that resumes on another target', () => {
  it('goes on where the first target broke off; the SDK sees one answer, an SSE comment names the new target', async () => {
    env.replies.openai = [{ type: 'cut-after', text: 'The answer is' }];
    env.replies.anthropic = [{ type: 'text', text: ' forty-two.' }];
    const { data: stream, response } = await sdk.chat.completions.create({ model: 'resuming', messages, stream: true }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('The answer is forty-two.');
    // The headers left with the first target, before it failed.
    expect(response.headers.get('x-ballast-target')).toBe('oai/gpt-4o-mini');
    // The continuation went to Anthropic with the partial answer as a prefill.
    const continued = env.anthropicMock.requests.at(-1)!.json as { messages: Array<{ role: string; content: unknown }> };
    expect(continued.messages.at(-1)).toMatchObject({ role: 'assistant' });
    expect(JSON.stringify(continued.messages.at(-1))).toContain('The answer is');
  });

  it('the raw stream carries the comment before the new target\'s text, and ends with [DONE]', async () => {
    env.replies.openai = [{ type: 'cut-after', text: 'Half' }];
    env.replies.anthropic = [{ type: 'text', text: ' whole' }];
    const res = await fetch(`${sdk.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'resuming', messages, stream: true }),
    });
    const raw = await res.text();
    const comment = raw.indexOf(': x-ballast-target ant/claude-sonnet-4-5 (resumed after oai/gpt-4o-mini failed)');
    expect(comment).toBeGreaterThan(raw.indexOf('Half'));
    expect(comment).toBeLessThan(raw.indexOf(' whole'));
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

describe('openai SDK -> gateway: errors raised as the right classes', () => {
  it('NotFoundError for an unknown model, listing the available ones', async () => {
    const error = await rejection(sdk.chat.completions.create({ model: 'gpt-7', messages }));
    expect(error).toBeInstanceOf(NotFoundError);
    const e = error as NotFoundError;
    expect(e.status).toBe(404);
    expect(e.message).toContain('chat, resilient, cooling, resuming, misconfigured');
    expect(e.param).toBe('model');
    expect(e.code).toBe('model_not_found');
  });

  it('RateLimitError with retry-after when every target is cooling down', async () => {
    env.replies.openai = [{ type: 'error', kind: 'rate_limit', retryAfter: 30 }];
    // The first call meets the 429 itself; 30 s is longer than the route waits, so the target cools down.
    const first = await rejection(sdk.chat.completions.create({ model: 'cooling', messages }));
    expect(first).toBeInstanceOf(RateLimitError);
    const calls = env.openaiMock.requests.length;
    // The second call finds its only target cooling down: no upstream request, 429 with retry-after.
    const second = await rejection(sdk.chat.completions.create({ model: 'cooling', messages }));
    expect(second).toBeInstanceOf(RateLimitError);
    const e = second as RateLimitError;
    expect(e.status).toBe(429);
    const retryAfter = Number(e.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(25);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(e.message).toContain('cooling-target skipped (cooldown');
    expect(e.headers?.get('x-ballast-attempts')).toBe('0');
    expect(env.openaiMock.requests.length).toBe(calls);
  });

  it('an upstream failure on every target is a 5xx listing the attempts, without the upstream keys', async () => {
    env.replies.openai = [{ type: 'error', kind: 'server' }];
    env.replies.anthropic = [{ type: 'error', kind: 'overloaded' }];
    const error = await rejection(sdk.chat.completions.create({ model: 'resilient', messages }));
    expect(error).toBeInstanceOf(APIError);
    const e = error as APIError;
    expect([502, 503]).toContain(e.status);
    expect(e.message).toContain('oai/gpt-4o-mini');
    expect(e.message).toContain('ant/claude-sonnet-4-5');
    expect(e.headers?.get('x-ballast-attempts')).toBe('2');
    expect(JSON.stringify(e.error)).not.toContain(OPENAI_KEY);
    expect(JSON.stringify(e.error)).not.toContain(ANTHROPIC_KEY);
  });

  it('APIError when the stream fails after its first token (never a clean end)', async () => {
    env.replies.openai = [{ type: 'stream-error-after', text: 'partial answer that', error: { message: 'upstream exploded', type: 'server_error' } }];
    const stream = await sdk.chat.completions.create({ model: 'chat', messages, stream: true });
    let text = '';
    const error = await rejection(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    );
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/upstream exploded|server/);
    expect(text).toBe('partial answer that');
  });

  it('AuthenticationError for a client without the gateway token', async () => {
    const stranger = new OpenAI({ apiKey: 'wrong-token', baseURL: sdk.baseURL, maxRetries: 0 });
    const error = await rejection(stranger.chat.completions.create({ model: 'chat', messages }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('an upstream that refuses the gateway key is a 502 that does not show the key', async () => {
    const error = await rejection(sdk.chat.completions.create({ model: 'misconfigured', messages }));
    expect(error).toBeInstanceOf(APIError);
    const e = error as APIError;
    expect(e.status).toBe(502);
    expect(e.message).toContain('auth');
    expect(JSON.stringify(e.error)).not.toContain(WRONG_KEY);
  });

  it('never logs an upstream key or a client token', () => {
    const all = logs.join('');
    expect(all).toContain('"msg":"request"');
    expect(all).toContain('"msg":"fallback"');
    for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, CLIENT_TOKEN, WRONG_KEY]) expect(all).not.toContain(secret);
  });
});

// The Vercel AI SDK (`ai` 6 with `@ai-sdk/openai-compatible`) against the Ballast gateway, which
// routes to the OpenAI and Anthropic mock servers: plain and streamed answers, tool calls, a
// gateway error raised as the SDK's APICallError, and a fallback across protocols in one request.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startGatewayOverMocks, type GatewayOverMocks } from './support/gateway-over-mocks.js';
import { rejection } from './support/rejection.js';

const OPENAI_KEY = 'sk-upstream-openai-ai-sdk-0123456789';
const ANTHROPIC_KEY = 'sk-ant-upstream-ai-sdk-0123456789';
const CLIENT_TOKEN = 'client-token-for-the-ai-sdk-42';

let env: GatewayOverMocks;
let ballast: ReturnType<typeof createOpenAICompatible>;

beforeAll(async () => {
  env = await startGatewayOverMocks({
    keys: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY },
    tokens: [CLIENT_TOKEN],
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
    },
  });
  ballast = createOpenAICompatible({ baseURL: `${env.url}/v1`, name: 'ballast', apiKey: CLIENT_TOKEN, includeUsage: true });
});

afterAll(async () => {
  await env?.close();
});

beforeEach(() => env.resetReplies());

describe('AI SDK -> gateway', () => {
  it('generateText: the answer, finish reason, usage and the x-ballast headers', async () => {
    env.replies.openai = [{ type: 'text', text: 'Hi from the gateway!', usage: { promptTokens: 7, completionTokens: 4 } }];
    const result = await generateText({ model: ballast('chat'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe('Hi from the gateway!');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: 7, outputTokens: 4, totalTokens: 11 });
    expect(result.response.headers?.['x-ballast-target']).toBe('oai/gpt-4o');
    expect(result.response.headers?.['x-ballast-attempts']).toBe('1');
    // The gateway used its own upstream key and the route's model, not the client's token and route name.
    const upstream = env.openaiMock.requests.at(-1)!;
    expect(upstream.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(upstream.json).toMatchObject({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
  });

  it('streamText: the text deltas join into the answer, with the finish reason and usage', async () => {
    env.replies.openai = [{ type: 'text', text: 'one two three four', usage: { promptTokens: 5, completionTokens: 4 } }];
    const errors: unknown[] = [];
    const result = streamText({ model: ballast('chat'), prompt: 'Count', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(errors).toEqual([]);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('one two three four');
    expect(await result.finishReason).toBe('stop');
    expect(await result.usage).toMatchObject({ inputTokens: 5, outputTokens: 4 });
    expect((await result.response).headers?.['x-ballast-target']).toBe('oai/gpt-4o');
    expect((env.openaiMock.requests.at(-1)!.json as { stream?: boolean }).stream).toBe(true);
  });

  const tools = {
    get_weather: tool({
      description: 'The weather in a city',
      inputSchema: z.object({ city: z.string() }),
    }),
  };

  it('a tool call comes back parsed, and the tool definition went upstream', async () => {
    env.replies.openai = [{ type: 'text', toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: { city: 'Oslo' } }] }];
    const result = await generateText({ model: ballast('chat'), prompt: 'Weather in Oslo?', tools, maxRetries: 0 });
    expect(result.finishReason).toBe('tool-calls');
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ toolCallId: 'call_w', toolName: 'get_weather', input: { city: 'Oslo' } });
    const body = env.openaiMock.requests.at(-1)!.json as { tools?: Array<{ type: string; function: { name: string } }> };
    expect(body.tools?.map((t) => [t.type, t.function.name])).toEqual([['function', 'get_weather']]);
  });

  it('a streamed tool call joins its argument fragments', async () => {
    env.replies.openai = [{ type: 'text', toolCalls: [{ id: 'call_s', name: 'get_weather', arguments: { city: 'Lisbon, Portugal' } }] }];
    const result = streamText({ model: ballast('chat'), prompt: 'Weather in Lisbon?', tools, maxRetries: 0 });
    const calls = await result.toolCalls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ toolCallId: 'call_s', toolName: 'get_weather', input: { city: 'Lisbon, Portugal' } });
    expect(await result.finishReason).toBe('tool-calls');
  });

  it('an unknown model is the SDK APICallError with status 404 and the gateway message', async () => {
    const before = env.openaiMock.requests.length;
    const error = await rejection(generateText({ model: ballast('gpt-7'), prompt: 'Hello', maxRetries: 0 }));
    expect(APICallError.isInstance(error)).toBe(true);
    const e = error as APICallError;
    expect(e.statusCode).toBe(404);
    expect(e.isRetryable).toBe(false);
    expect(e.message).toContain('gpt-7');
    expect(e.message).toContain('chat, resilient');
    expect(JSON.parse(e.responseBody!)).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
    expect(env.openaiMock.requests.length).toBe(before);
  });

  it('a streamed request for an unknown model reports the same APICallError', async () => {
    const errors: unknown[] = [];
    const result = streamText({ model: ballast('gpt-7'), prompt: 'Hello', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('');
    expect(errors).toHaveLength(1);
    expect(APICallError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as APICallError).statusCode).toBe(404);
  });

  it('falls back from a failing OpenAI-protocol target to an Anthropic-protocol target within one request', async () => {
    env.replies.openai = [{ type: 'error', kind: 'server' }];
    env.replies.anthropic = [{ type: 'text', text: 'Claude saved the day.' }];
    const openaiBefore = env.openaiMock.requests.length;
    const anthropicBefore = env.anthropicMock.requests.length;
    const result = await generateText({ model: ballast('resilient'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe('Claude saved the day.');
    expect(result.response.headers?.['x-ballast-target']).toBe('ant/claude-sonnet-4-5');
    expect(result.response.headers?.['x-ballast-fallbacks']).toBe('1');
    expect(result.response.headers?.['x-ballast-attempts']).toBe('2');
    // One SDK call, one failed OpenAI request, one Anthropic request in its own wire format.
    expect(env.openaiMock.requests.length).toBe(openaiBefore + 1);
    expect(env.anthropicMock.requests.length).toBe(anthropicBefore + 1);
    const upstream = env.anthropicMock.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(upstream.json).toMatchObject({ model: 'claude-sonnet-4-5', messages: [{ role: 'user' }] });
  });

  it('falls back across protocols in a stream too (the failure was before the first token)', async () => {
    env.replies.openai = [{ type: 'error', kind: 'overloaded' }];
    env.replies.anthropic = [{ type: 'text', text: 'streamed by claude' }];
    const anthropicBefore = env.anthropicMock.requests.length;
    const result = streamText({ model: ballast('resilient'), prompt: 'Hello', maxRetries: 0 });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('streamed by claude');
    expect((await result.response).headers?.['x-ballast-target']).toBe('ant/claude-sonnet-4-5');
    expect(env.anthropicMock.requests.length).toBe(anthropicBefore + 1);
  });
});

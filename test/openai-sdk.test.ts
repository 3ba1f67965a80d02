// The official `openai` SDK (v6) against the OpenAI mock: if the SDK parses every answer and
// error the way it would from api.openai.com, the mock is faithful enough to test adapters with.
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../src/mock/openai-mock.js';
import { rejection } from './support/rejection.js';

const KEY = 'sk-test-sdk-0123456789abcdef';
const messages = [{ role: 'user' as const, content: 'Hello' }];

let mock: OpenAiMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function client(replies: OpenAiMockReply[], apiKey = KEY): Promise<OpenAI> {
  mock = await startOpenAiMock({ replies, apiKey: KEY, models: ['gpt-4o', 'gpt-4o-mini'] });
  return new OpenAI({ apiKey, baseURL: mock.url, maxRetries: 0 });
}


describe('openai SDK ↔ mock: success', () => {
  it('parses a completion: text, finish, usage, id, request id', async () => {
    const sdk = await client([{ type: 'text', text: 'Hi!', usage: { promptTokens: 13, completionTokens: 5, cachedTokens: 3, reasoningTokens: 1 } }]);
    const completion = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion._request_id).toMatch(/^req_mock/);
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hi!', refusal: null });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({
      prompt_tokens: 13,
      completion_tokens: 5,
      total_tokens: 18,
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 1 },
    });
    expect(mock!.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('parses tool calls (arguments are a JSON string)', async () => {
    const sdk = await client([{ type: 'text', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Tokyo' } }] }]);
    const completion = await sdk.chat.completions.create({
      model: 'gpt-4o',
      messages,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.id).toBe('call_1');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Tokyo' });
  });

  it('reads refusals and content filters', async () => {
    const sdk = await client([{ type: 'text', refusal: "I can't help with that." }, { type: 'content-filter' }]);
    const refused = await sdk.chat.completions.create({ model: 'gpt-4o', messages });
    expect(refused.choices[0]!.message).toMatchObject({ content: null, refusal: "I can't help with that." });
    const filtered = await sdk.chat.completions.create({ model: 'gpt-4o', messages });
    expect(filtered.choices[0]!.finish_reason).toBe('content_filter');
  });

  it('streams chunks: role, content, finish, then the usage chunk', async () => {
    const sdk = await client([{ type: 'text', text: 'Hello there world', usage: { promptTokens: 4, completionTokens: 3 } }]);
    const stream = await sdk.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      expect(chunk.object).toBe('chat.completion.chunk');
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finishes.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello there world');
    expect(finishes.at(-1)).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
    expect(chunks).toBe(6); // role, 3 words, finish, usage
  });

  it("the SDK's own stream accumulator rebuilds tool calls from the deltas", async () => {
    const sdk = await client([
      {
        type: 'text',
        text: 'Let me check.',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: { city: 'Tokyo', unit: 'celsius' } },
          { id: 'call_b', name: 'get_time', arguments: { zone: 'Asia/Tokyo' } },
        ],
      },
    ]);
    const runner = sdk.chat.completions.stream({ model: 'gpt-4o', messages, stream_options: { include_usage: true } });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Let me check.');
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    const calls = (message.tool_calls ?? []).map((c) => (c.type === 'function' ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : []));
    expect(calls).toEqual([
      ['call_a', 'get_weather', { city: 'Tokyo', unit: 'celsius' }],
      ['call_b', 'get_time', { zone: 'Asia/Tokyo' }],
    ]);
    expect(final.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('lists models', async () => {
    const sdk = await client([{ type: 'text', text: 'x' }]);
    const ids: string[] = [];
    for await (const model of sdk.models.list()) ids.push(model.id);
    expect(ids).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect((await sdk.models.retrieve('gpt-4o')).id).toBe('gpt-4o');
  });
});

describe('openai SDK ↔ mock: errors', () => {
  const create = (sdk: OpenAI) => sdk.chat.completions.create({ model: 'gpt-4o', messages });

  it('rate_limit → RateLimitError 429 with code, type, request id and rate-limit headers', async () => {
    const sdk = await client([{ type: 'error', kind: 'rate_limit', retryAfter: 1 }]);
    const error = await rejection(create(sdk));
    expect(error).toBeInstanceOf(RateLimitError);
    const e = error as RateLimitError;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.type).toBe('tokens');
    expect(e.requestID).toMatch(/^req_mock/);
    expect(e.message).toMatch(/^429 Rate limit reached for gpt-4o .*Please try again in 1s\./);
    expect(e.headers.get('x-ratelimit-remaining-tokens')).toBe('63');
    expect(e.headers.get('retry-after-ms')).toBe('1000');
  });

  it('quota → RateLimitError with code insufficient_quota', async () => {
    const sdk = await client([{ type: 'error', kind: 'quota' }]);
    const error = await rejection(create(sdk));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
  });

  it('request_too_large → RateLimitError whose message starts "Request too large"', async () => {
    const sdk = await client([{ type: 'error', kind: 'request_too_large' }]);
    const error = await rejection(create(sdk));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).message).toMatch(/^429 Request too large/);
  });

  it('auth → AuthenticationError, both from the kind and from a wrong key', async () => {
    const sdk = await client([{ type: 'error', kind: 'auth' }]);
    const fromKind = await rejection(create(sdk));
    expect(fromKind).toBeInstanceOf(AuthenticationError);
    expect(fromKind).toMatchObject({ status: 401, code: 'invalid_api_key' });
    const wrong = new OpenAI({ apiKey: 'sk-wrong-0123456789', baseURL: mock!.url, maxRetries: 0 });
    const fromKey = await rejection(create(wrong));
    expect(fromKey).toBeInstanceOf(AuthenticationError);
    expect(fromKey).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('not_found → NotFoundError with code model_not_found', async () => {
    const sdk = await client([{ type: 'error', kind: 'not_found' }]);
    const error = await rejection(create(sdk));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('context_length and invalid_request → BadRequestError with code and param', async () => {
    const sdk = await client([{ type: 'error', kind: 'context_length' }, { type: 'error', kind: 'invalid_request' }]);
    const context = await rejection(create(sdk));
    expect(context).toBeInstanceOf(BadRequestError);
    expect(context).toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
    const invalid = await rejection(create(sdk));
    expect(invalid).toBeInstanceOf(BadRequestError);
    expect(invalid).toMatchObject({ status: 400, param: 'temperature' });
  });

  it.each([
    ['server', 500],
    ['overloaded', 503],
    ['bad_gateway_html', 502],
  ] as const)('%s → InternalServerError %i', async (kind, status) => {
    const sdk = await client([{ type: 'error', kind }]);
    const error = await rejection(create(sdk));
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).status).toBe(status);
    if (kind === 'overloaded') expect(error).toMatchObject({ code: 'server_is_overloaded', type: 'service_unavailable_error' });
    if (kind === 'bad_gateway_html') expect((error as InternalServerError).message).toContain('502 Bad Gateway');
  });

  it('a mid-stream error frame raises APIError (no status) during iteration, after the text', async () => {
    const sdk = await client([
      { type: 'stream-error-after', text: 'Hello there' },
      { type: 'stream-error-after', text: 'Hi', asEvent: true, error: { message: 'boom', type: 'server_error' } },
    ]);
    for (const expected of [/The server had an error/, /boom/]) {
      const stream = await sdk.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
      let text = '';
      const error = await rejection(
        (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        })(),
      );
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBeUndefined();
      expect((error as APIError).type).toBe('server_error');
      expect((error as APIError).message).toMatch(expected);
      expect(text.length).toBeGreaterThan(0);
    }
  });

  it('a malformed frame and a cut connection fail the iteration', async () => {
    await client([{ type: 'malformed-frame', text: 'Hi' }, { type: 'cut-after', text: 'Hi' }]);
    // The SDK logs the frame it could not parse; keep the test output clean.
    const quiet = () => {};
    const sdk = new OpenAI({ apiKey: KEY, baseURL: mock!.url, maxRetries: 0, logger: { error: quiet, warn: quiet, info: quiet, debug: quiet } });
    for (let i = 0; i < 2; i++) {
      const stream = await sdk.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
      const error = await rejection(
        (async () => {
          for await (const _chunk of stream) {
            // drain
          }
        })(),
      );
      expect(error).toBeInstanceOf(i === 0 ? SyntaxError : Error);
    }
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });
});

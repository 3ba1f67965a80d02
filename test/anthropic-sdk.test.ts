// The official @anthropic-ai/sdk client against the Anthropic mock: it must parse every success
// and every error exactly as it would from the real service.
import Anthropic, {
  APIError,
  AuthenticationError,
  BadRequestError,
  GatewayTimeoutError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PaymentRequiredError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startAnthropicMock,
  type AnthropicMock,
  type AnthropicMockErrorKind,
  type AnthropicMockReply,
} from '../src/mock/anthropic-mock.js';
import { rejection } from './support/rejection.js';

const KEY = 'sk-ant-api03-sdk-test-key-0123456789';
const MODEL = 'claude-sonnet-4-6';
const PARAMS = { model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content: 'Hello' }] };

let mock: AnthropicMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function client(replies: AnthropicMockReply[], options: ConstructorParameters<typeof Anthropic>[0] = {}): Promise<Anthropic> {
  mock = await startAnthropicMock({ apiKey: KEY, replies });
  return new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries: 0, ...options });
}


const toolReply: AnthropicMockReply = {
  type: 'text',
  id: 'msg_sdk',
  text: 'Let me check the weather.',
  thinking: 'The user wants weather.',
  toolCalls: [{ id: 'toolu_sdk', name: 'get_weather', input: { city: 'Tokyo', days: [1, 2] } }],
  usage: { inputTokens: 40, outputTokens: 25, cacheReadInputTokens: 8 },
};

describe('@anthropic-ai/sdk against the Anthropic mock: successes', () => {
  it('creates a message: text, usage, ids (the SDK sends Bearer auth and version 2026-10-21)', async () => {
    const anthropic = await client([{ type: 'text', text: 'Hello from the mock', usage: { inputTokens: 9, outputTokens: 4 } }]);
    const message = await anthropic.messages.create(PARAMS);
    expect(message.id).toMatch(/^msg_/);
    expect(message.model).toBe(MODEL);
    expect(message.role).toBe('assistant');
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the mock' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 9, output_tokens: 4 });

    const headers = mock!.requests[0]!.headers;
    expect(headers.authorization).toBe(`Bearer ${KEY}`);
    expect(headers['anthropic-version']).toBe('2026-10-21');
  });

  it('parses tool_use blocks and thinking', async () => {
    const anthropic = await client([toolReply]);
    const message = await anthropic.messages.create(PARAMS);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(message.content[2]).toEqual({ type: 'tool_use', id: 'toolu_sdk', name: 'get_weather', input: { city: 'Tokyo', days: [1, 2] } });
    expect(message.usage).toMatchObject({ input_tokens: 40, output_tokens: 25, cache_read_input_tokens: 8 });
  });

  it('messages.stream(): text events, and finalMessage() equal to the non-streaming message', async () => {
    const anthropic = await client([toolReply]);
    const plain = await anthropic.messages.create(PARAMS);

    const stream = anthropic.messages.stream(PARAMS);
    const texts: string[] = [];
    const inputs: unknown[] = [];
    stream.on('text', (delta) => texts.push(delta));
    stream.on('inputJson', (_partial, snapshot) => inputs.push(snapshot));
    const final = await stream.finalMessage();

    expect(texts.join('')).toBe('Let me check the weather.');
    expect(texts.length).toBeGreaterThan(1);
    expect(inputs.at(-1)).toEqual({ city: 'Tokyo', days: [1, 2] });
    expect(final.content).toEqual(plain.content.map((block) => (block.type === 'thinking' ? { ...block, signature: expect.any(String) } : block)));
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage).toEqual(plain.usage);
    expect(final.id).toBe('msg_sdk');
  });

  it('create({ stream: true }) yields every event type but ping, ending with message_stop', async () => {
    const anthropic = await client([{ type: 'text', text: 'One two three' }]);
    const stream = await anthropic.messages.create({ ...PARAMS, stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    expect(text).toBe('One two three');
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types).toContain('message_delta');
    expect(types).not.toContain('ping');
  });

  it('reads a refusal with its stop_details', async () => {
    const anthropic = await client([{ type: 'refusal', category: 'bio', explanation: 'Not allowed.' }]);
    const message = await anthropic.messages.create(PARAMS);
    expect(message.stop_reason).toBe('refusal');
    expect(message.stop_details).toEqual({ type: 'refusal', category: 'bio', explanation: 'Not allowed.' });
    const streamed = await anthropic.messages.stream(PARAMS).finalMessage();
    expect(streamed.stop_reason).toBe('refusal');
    expect(streamed.stop_details).toEqual(message.stop_details);
    expect(streamed.content).toEqual(message.content);
  });

  it('breaking out of a stream makes the SDK abort the request, which the mock records', async () => {
    const anthropic = await client([{ type: 'stall-after', text: 'Hello there' }]);
    const stream = await anthropic.messages.create({ ...PARAMS, stream: true });
    for await (const event of stream) if (event.type === 'content_block_delta') break;
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });
});

describe('@anthropic-ai/sdk against the Anthropic mock: errors', () => {
  const table: Array<[AnthropicMockErrorKind, abstract new (...args: never[]) => APIError, number, string]> = [
    ['rate_limit', RateLimitError, 429, 'rate_limit_error'],
    ['quota', RateLimitError, 429, 'rate_limit_error'],
    ['billing', PaymentRequiredError, 402, 'billing_error'],
    ['overloaded', OverloadedError, 529, 'overloaded_error'],
    ['server', InternalServerError, 500, 'api_error'],
    ['timeout', GatewayTimeoutError, 504, 'timeout_error'],
    ['auth', AuthenticationError, 401, 'authentication_error'],
    ['permission', PermissionDeniedError, 403, 'permission_error'],
    ['not_found', NotFoundError, 404, 'not_found_error'],
    ['context_length', BadRequestError, 400, 'invalid_request_error'],
    ['invalid_request', BadRequestError, 400, 'invalid_request_error'],
  ];

  it.each(table)('%s raises %o (HTTP %i, %s) from create() and stream()', async (kind, ErrorClass, status, type) => {
    const anthropic = await client([{ type: 'error', kind, ...(kind === 'rate_limit' ? { retryAfter: 5 } : {}) }]);
    const errors = [
      await rejection(anthropic.messages.create(PARAMS)),
      await rejection(anthropic.messages.stream(PARAMS).finalMessage()),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(ErrorClass);
      const apiError = error as APIError;
      expect(apiError.status).toBe(status);
      expect(apiError.type).toBe(type);
      expect(apiError.requestID).toMatch(/^req_/);
      expect(apiError.errorCode).toBe(kind === 'quota' ? 'enforced_spend_limit_reached' : null);
      expect(apiError.headers?.get('retry-after') ?? undefined).toBe(kind === 'rate_limit' ? '5' : undefined);
    }
    // 529 and 504 are server errors to the SDK; 500 is not an OverloadedError.
    if (kind === 'overloaded' || kind === 'timeout') expect(errors[0]).toBeInstanceOf(InternalServerError);
    if (kind === 'server') expect(errors[0]).not.toBeInstanceOf(OverloadedError);
    if (kind === 'context_length') expect((errors[0] as APIError).message).toContain('prompt is too long: 208656 tokens > 200000 maximum');
    expect(mock!.requests).toHaveLength(2); // maxRetries: 0
  });

  it('a wrong key is an AuthenticationError', async () => {
    await client([{ type: 'text', text: 'never' }]);
    const wrong = new Anthropic({ apiKey: 'sk-ant-api03-wrong', baseURL: mock!.url, maxRetries: 0 });
    const error = await rejection(wrong.messages.create(PARAMS));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as APIError).apiMessage).toBe('invalid x-api-key');
  });

  it('version 2026-10-21 (the SDK default) rejects temperature with a BadRequestError; 2023-06-01 accepts it', async () => {
    const anthropic = await client([{ type: 'text', text: 'ok' }]);
    // The SDK's own types no longer have `temperature`; a plain object gets it through, as old code would.
    const withTemperature = { ...PARAMS, temperature: 1 };
    const error = await rejection(anthropic.messages.create(withTemperature));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as APIError).apiMessage).toBe('temperature: Extra inputs are not permitted');

    const old = new Anthropic({ apiKey: KEY, baseURL: mock!.url, maxRetries: 0, defaultHeaders: { 'anthropic-version': '2023-06-01' } });
    const message = await old.messages.create(withTemperature);
    expect(mock!.requests.at(-1)!.json).toMatchObject({ temperature: 1 });
    expect(message.content).toEqual([{ type: 'text', text: 'ok' }]);
  });

  it('a mid-stream overloaded_error raises during iteration, after the text', async () => {
    const anthropic = await client([{ type: 'stream-error-after', text: 'Partial answer', error: 'overloaded_error' }]);
    const stream = await anthropic.messages.create({ ...PARAMS, stream: true });
    let text = '';
    const error = await rejection(
      (async () => {
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
        }
      })(),
    );
    expect(text).toBe('Partial answer');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBeUndefined();
    expect((error as APIError).type).toBe('overloaded_error');
    expect((error as APIError).apiMessage).toBe('Overloaded');

    const helper = anthropic.messages.stream(PARAMS);
    const fromHelper = await rejection(helper.finalMessage());
    expect((fromHelper as APIError).type).toBe('overloaded_error');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { parseMockScenarioFile } from './scenario-file.js';
import { startAnthropicMock, type AnthropicMock, type AnthropicMockErrorKind, type AnthropicMockScenario } from './anthropic-mock.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const HELLO = { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] };

let mock: AnthropicMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function start(scenario: Parameters<typeof startAnthropicMock>[0]): Promise<AnthropicMock> {
  mock = await startAnthropicMock(scenario);
  return mock;
}

function post(
  body: unknown,
  headers: Record<string, string> = {},
  init: { signal?: AbortSignal; path?: string } = {},
): Promise<Response> {
  // An empty value leaves the header out.
  const all = Object.entries({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers });
  return fetch(`${mock!.url}${init.path ?? '/v1/messages'}`, {
    method: 'POST',
    headers: Object.fromEntries(all.filter(([, value]) => value !== '')),
    body: JSON.stringify(body),
    signal: init.signal,
  });
}

interface Frame {
  event: string;
  data: string;
}

function frames(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      return { event, data };
    });
}

const json = (frame: Frame) => JSON.parse(frame.data) as Record<string, unknown>;

/** Reads a streamed body until `marker` appears; returns what was read and the open reader. */
async function readUntil(response: Response, marker: string) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(marker)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended before ${marker}: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return { text, reader };
}

describe('startAnthropicMock: url', () => {
  it('is the origin with no path: the baseURL of Ballast\'s anthropic provider', async () => {
    await start([{ type: 'text', text: 'ok' }]);
    expect(mock!.url).toBe(`http://127.0.0.1:${mock!.port}`);
  });
});

describe('startAnthropicMock: successful replies', () => {
  it('answers a non-streaming request with a Messages API message and rate-limit headers', async () => {
    await start([{ type: 'text', text: 'Hi there', usage: { inputTokens: 12, outputTokens: 3 } }]);
    const response = await post(HELLO);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('request-id')).toMatch(/^req_\w{24}$/);
    for (const bucket of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
      expect(response.headers.get(`anthropic-ratelimit-${bucket}-limit`)).toMatch(/^\d+$/);
      expect(response.headers.get(`anthropic-ratelimit-${bucket}-remaining`)).toMatch(/^\d+$/);
      expect(response.headers.get(`anthropic-ratelimit-${bucket}-reset`)).toMatch(RFC3339);
    }
    expect(await response.json()).toEqual({
      id: expect.stringMatching(/^msg_\w{24}$/),
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [{ type: 'text', text: 'Hi there' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      stop_details: null,
      usage: { input_tokens: 12, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    expect(mock!.requests[0]!.json).toEqual(HELLO);
  });

  it('streams named SSE events in the documented order, with a ping', async () => {
    await start([{ type: 'text', text: 'Hello brave world', id: 'msg_1', usage: { inputTokens: 25, outputTokens: 15 } }]);
    const response = await post({ ...HELLO, stream: true });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = frames(await response.text());
    expect(events.map((f) => f.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const frame of events) expect(json(frame).type).toBe(frame.event);
    expect(json(events[0]!)).toEqual({
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-test',
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: { input_tokens: 25, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
    expect(json(events[1]!)).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const text = events
      .filter((f) => f.event === 'content_block_delta')
      .map((f) => (json(f).delta as { text: string }).text);
    expect(text).toEqual(['Hello ', 'brave ', 'world']);
    expect(json(events[7]!)).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 15 },
    });
  });

  it('uses the given chunks for text deltas', async () => {
    await start([{ type: 'text', chunks: ['He', 'llo'] }]);
    const events = frames(await (await post({ ...HELLO, stream: true })).text());
    const deltas = events.filter((f) => f.event === 'content_block_delta').map((f) => json(f).delta);
    expect(deltas).toEqual([
      { type: 'text_delta', text: 'He' },
      { type: 'text_delta', text: 'llo' },
    ]);
    const plain = (await (await post(HELLO)).json()) as { content: unknown };
    expect(plain.content).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  it('returns tool_use blocks, and streams their input as input_json_delta pieces', async () => {
    const input = { city: 'Tokyo', days: [1, 2, 3], units: 'metric' };
    await start([{ type: 'text', text: 'Checking.', toolCalls: [{ id: 'toolu_1', name: 'get_weather', input }] }]);
    const message = (await (await post(HELLO)).json()) as Record<string, unknown>;
    expect(message.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input },
    ]);
    expect(message.stop_reason).toBe('tool_use');

    const events = frames(await (await post({ ...HELLO, stream: true })).text()).map(json);
    const start1 = events.find((e) => e.type === 'content_block_start' && e.index === 1);
    expect(start1).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} },
    });
    const pieces = events
      .filter((e) => e.type === 'content_block_delta' && e.index === 1)
      .map((e) => (e.delta as { type: string; partial_json: string }));
    expect(pieces.every((d) => d.type === 'input_json_delta')).toBe(true);
    expect(pieces[0]!.partial_json).toBe('');
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.map((d) => d.partial_json).join('')).toBe(JSON.stringify(input));
    expect(events.find((e) => e.type === 'message_delta')!.delta).toMatchObject({ stop_reason: 'tool_use' });
  });

  it('returns a thinking block with a signature, streamed as thinking_delta and signature_delta', async () => {
    await start([{ type: 'text', text: 'Answer', thinking: 'Let me think' }]);
    const message = (await (await post(HELLO)).json()) as { content: Array<Record<string, unknown>> };
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think', signature: expect.any(String) });
    expect(message.content[1]).toEqual({ type: 'text', text: 'Answer' });
    const events = frames(await (await post({ ...HELLO, stream: true })).text()).map(json);
    const types = events.filter((e) => e.index === 0 && e.type === 'content_block_delta').map((e) => (e.delta as { type: string }).type);
    expect(types).toEqual(['thinking_delta', 'thinking_delta', 'thinking_delta', 'signature_delta']);
  });

  it('reports a refusal with stop_details, and stop sequences with the one that matched', async () => {
    await start([{ type: 'refusal', category: 'cyber' }, { type: 'text', text: 'a', stopReason: 'stop_sequence' }]);
    const refusal = (await (await post(HELLO)).json()) as Record<string, unknown>;
    expect(refusal).toMatchObject({
      content: [],
      stop_reason: 'refusal',
      stop_details: { type: 'refusal', category: 'cyber', explanation: null },
    });
    const stopped = (await (await post({ ...HELLO, stop_sequences: ['END'] })).json()) as Record<string, unknown>;
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
  });
});

describe('startAnthropicMock: errors', () => {
  const table: Array<[AnthropicMockErrorKind, number, string, RegExp]> = [
    ['rate_limit', 429, 'rate_limit_error', /rate limit/],
    ['quota', 429, 'rate_limit_error', /usage limits/],
    ['billing', 402, 'billing_error', /credit balance is too low/],
    ['overloaded', 529, 'overloaded_error', /^Overloaded$/],
    ['server', 500, 'api_error', /Internal server error/],
    ['auth', 401, 'authentication_error', /invalid x-api-key/],
    ['permission', 403, 'permission_error', /permission/],
    ['not_found', 404, 'not_found_error', /^model: claude-test$/],
    ['context_length', 400, 'invalid_request_error', /^prompt is too long: 208656 tokens > 200000 maximum$/],
    ['invalid_request', 400, 'invalid_request_error', /./],
    ['timeout', 504, 'timeout_error', /timed out/],
  ];

  it.each(table)('%s → %i %s with the service body and request-id', async (kind, status, type, message) => {
    await start([{ type: 'error', kind }]);
    for (const body of [HELLO, { ...HELLO, stream: true }]) {
      const response = await post(body);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      const requestId = response.headers.get('request-id');
      expect(requestId).toMatch(/^req_/);
      const payload = (await response.json()) as { type: string; error: { type: string; message: string; details?: unknown }; request_id: string };
      expect(payload.type).toBe('error');
      expect(payload.error.type).toBe(type);
      expect(payload.error.message).toMatch(message);
      expect(payload.request_id).toBe(requestId);
      expect(Object.keys(payload).sort()).toEqual(['error', 'request_id', 'type']);
      if (kind === 'quota') expect(payload.error.details).toEqual({ error_code: 'enforced_spend_limit_reached' });
      else expect(payload.error.details).toBeUndefined();
      // Only a rate limit says when to come back.
      expect(response.headers.has('retry-after')).toBe(kind === 'rate_limit');
    }
  });

  it('a rate limit carries retry-after and an exhausted request bucket that resets then', async () => {
    await start([{ type: 'error', kind: 'rate_limit', retryAfter: 42 }]);
    const before = Date.now();
    const response = await post(HELLO);
    expect(response.headers.get('retry-after')).toBe('42');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    const reset = Date.parse(response.headers.get('anthropic-ratelimit-requests-reset')!);
    expect(reset - before).toBeGreaterThanOrEqual(41_000);
    expect(reset - before).toBeLessThanOrEqual(44_000);
  });

  it('retryAfter, message and headers can be set on any error', async () => {
    await start([{ type: 'error', kind: 'overloaded', retryAfter: 3, message: 'busy', headers: { 'x-should-retry': 'true' } }]);
    const response = await post(HELLO);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('x-should-retry')).toBe('true');
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe('busy');
  });
});

describe('startAnthropicMock: faults in the stream', () => {
  it('stream-error-after sends the text, then an error event and no message_stop', async () => {
    await start([{ type: 'stream-error-after', text: 'Partial answer', error: 'overloaded_error' }]);
    const events = frames(await (await post({ ...HELLO, stream: true })).text());
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(json(last)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(events.map((f) => f.event)).not.toContain('message_stop');
    const text = events
      .filter((f) => f.event === 'content_block_delta')
      .map((f) => (json(f).delta as { text: string }).text)
      .join('');
    expect(text).toBe('Partial answer');
  });

  it('stream-error-after answers a non-streaming request with that error status', async () => {
    await start([{ type: 'stream-error-after', text: 'x', error: 'overloaded_error' }]);
    const response = await post(HELLO);
    expect(response.status).toBe(529);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('stall-after sends the text and holds the connection until the client leaves', async () => {
    await start([{ type: 'stall-after', text: 'Hello world' }]);
    const controller = new AbortController();
    const response = await post({ ...HELLO, stream: true }, {}, { signal: controller.signal });
    const { text, reader } = await readUntil(response, '"world"');
    expect(text).not.toContain('content_block_stop');
    const pending = reader.read();
    controller.abort();
    await expect(pending).rejects.toThrow();
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('a latency delay can be cut short by the client', async () => {
    await start([{ type: 'text', text: 'late', delayMs: 60_000 }]);
    const controller = new AbortController();
    const pending = post(HELLO, {}, { signal: controller.signal });
    await expect.poll(() => mock!.requests.length).toBe(1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await mock!.requests[0]!.disconnect;
  });

  it('cut-after destroys the connection after the text', async () => {
    await start([{ type: 'cut-after', text: 'Hello' }]);
    const response = await post({ ...HELLO, stream: true });
    expect(response.status).toBe(200);
    const { reader } = await readUntil(response, '"Hello"');
    await expect(
      (async () => {
        while (!(await reader.read()).done);
      })(),
    ).rejects.toThrow();
  });

  it('truncate-after ends the body cleanly without closing the block or the message', async () => {
    await start([{ type: 'truncate-after', text: 'Hello' }]);
    const events = frames(await (await post({ ...HELLO, stream: true })).text());
    expect(events.at(-1)!.event).toBe('content_block_delta');
    expect(events.map((f) => f.event)).not.toContain('message_stop');
  });

  it('malformed-frame sends a frame that is not JSON, then stalls', async () => {
    await start([{ type: 'malformed-frame', text: 'Hi' }]);
    const controller = new AbortController();
    const response = await post({ ...HELLO, stream: true }, {}, { signal: controller.signal });
    const { text } = await readUntil(response, 'text_d\n\n');
    const bad = frames(text).at(-1)!;
    expect(bad.event).toBe('content_block_delta');
    expect(() => JSON.parse(bad.data)).toThrow();
    controller.abort();
    await mock!.requests[0]!.disconnect;
  });

  it('malformed-frame answers a non-streaming request with a body that is not JSON', async () => {
    await start([{ type: 'malformed-frame' }]);
    const response = await post(HELLO);
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow();
  });
});

describe('startAnthropicMock: the vocabulary shared with the other mocks', () => {
  it('a scenario file may leave out the error of stream-error-after and the text of the faults', () => {
    const replies = [
      { type: 'stream-error-after', text: 'x' },
      { type: 'stream-error-after' },
      { type: 'stall-after' },
      { type: 'cut-after' },
      { type: 'truncate-after' },
    ];
    expect(parseMockScenarioFile({ anthropic: replies }).anthropic).toEqual({ replies });
    expect(() => parseMockScenarioFile({ anthropic: [{ type: 'stream-error-after', error: 'meltdown' }] })).toThrow(
      /^anthropic\.replies\[0\]\.error: expected one of .*overloaded_error, got "meltdown"$/,
    );
  });

  it('stream-error-after without an error sends overloaded_error, mid-stream or as a 529', async () => {
    await start([{ type: 'stream-error-after', text: 'Partial' }]);
    const events = frames(await (await post({ ...HELLO, stream: true })).text());
    expect(json(events.at(-1)!)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const response = await post(HELLO);
    expect(response.status).toBe(529);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  it('a fault without text sends an empty text block before it', async () => {
    await start([{ type: 'stream-error-after' }, { type: 'truncate-after' }]);
    const failed = frames(await (await post({ ...HELLO, stream: true })).text());
    expect(failed.map((f) => f.event)).toEqual(['message_start', 'content_block_start', 'ping', 'error']);
    const truncated = frames(await (await post({ ...HELLO, stream: true })).text());
    expect(truncated.map((f) => f.event)).toEqual(['message_start', 'content_block_start', 'ping']);
  });
});

describe('startAnthropicMock: what the real service rejects', () => {
  const keyed: AnthropicMockScenario = { apiKey: 'sk-ant-mock-key-1234', replies: [{ type: 'text', text: 'first' }, { type: 'text', text: 'second' }] };

  it('checks the key as x-api-key or Authorization: Bearer, x-api-key winning', async () => {
    await start(keyed);
    const status = async (headers: Record<string, string>) => {
      const response = await post(HELLO, headers);
      return [response.status, ((await response.json()) as { error?: { message: string } }).error?.message];
    };
    expect(await status({})).toEqual([401, 'x-api-key header is required']);
    expect(await status({ 'x-api-key': 'wrong' })).toEqual([401, 'invalid x-api-key']);
    expect(await status({ 'x-api-key': 'wrong', authorization: 'Bearer sk-ant-mock-key-1234' })).toEqual([401, 'invalid x-api-key']);
    // Rejected requests do not use up replies.
    expect(await status({ 'x-api-key': 'sk-ant-mock-key-1234' })).toEqual([200, undefined]);
    expect(await status({ authorization: 'Bearer sk-ant-mock-key-1234' })).toEqual([200, undefined]);
    expect(await status({ 'x-api-key': 'sk-ant-mock-key-1234', authorization: 'Bearer nope' })).toEqual([200, undefined]);
    expect(mock!.requests).toHaveLength(6);
  });

  it('accepts both API versions; 2026-10-21 rejects temperature, top_p and top_k', async () => {
    await start([{ type: 'text', text: 'ok' }]);
    const v2026 = { 'anthropic-version': '2026-10-21' };
    expect((await post({ ...HELLO, temperature: 0.5 })).status).toBe(200);
    expect((await post(HELLO, v2026)).status).toBe(200);
    for (const field of ['temperature', 'top_p', 'top_k']) {
      const response = await post({ ...HELLO, [field]: 1 }, v2026);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: `${field}: Extra inputs are not permitted` },
        request_id: expect.stringMatching(/^req_/),
      });
    }
  });

  it('rejects a missing or unknown version, a missing max_tokens, and unknown paths', async () => {
    await start([{ type: 'text', text: 'ok' }]);
    const cases: Array<[Promise<Response>, number, string]> = [
      [post(HELLO, { 'anthropic-version': '' }), 400, 'anthropic-version: header is required'],
      [post(HELLO, { 'anthropic-version': '2024-99-99' }), 400, 'anthropic-version: invalid version "2024-99-99"'],
      [post({ model: 'm', messages: [] }), 400, 'max_tokens: Field required'],
      [post(HELLO, {}, { path: '/v1/complete' }), 404, 'Not Found'],
    ];
    for (const [pending, status, message] of cases) {
      const response = await pending;
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain(message);
    }
  });
});

describe('startAnthropicMock: scenarios', () => {
  const textOf = async (response: Response) => ((await response.json()) as { content: Array<{ text: string }> }).content[0]!.text;

  it('plays replies in order, then repeats the last', async () => {
    await start([{ type: 'error', kind: 'overloaded' }, { type: 'text', text: 'one' }, { type: 'text', text: 'two' }]);
    expect((await post(HELLO)).status).toBe(529);
    expect(await textOf(await post(HELLO))).toBe('one');
    expect(await textOf(await post(HELLO))).toBe('two');
    expect(await textOf(await post(HELLO))).toBe('two');
  });

  it('restarts the list with cycle: true', async () => {
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], cycle: true });
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(await textOf(await post(HELLO)));
    expect(texts).toEqual(['a', 'b', 'a']);
  });

  it('whenExhausted: repeat-last (the default) repeats the last reply', async () => {
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], whenExhausted: 'repeat-last' });
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(await textOf(await post(HELLO)));
    expect(texts).toEqual(['a', 'b', 'b']);
  });

  it('whenExhausted: cycle restarts the list', async () => {
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], whenExhausted: 'cycle' });
    const texts = [];
    for (let i = 0; i < 5; i++) texts.push(await textOf(await post(HELLO)));
    expect(texts).toEqual(['a', 'b', 'a', 'b', 'a']);
  });

  it("whenExhausted: error answers the Messages API's 500 api_error saying the scenario is exhausted", async () => {
    await start({ replies: [{ type: 'text', text: 'a' }], whenExhausted: 'error' });
    expect(await textOf(await post(HELLO))).toBe('a');
    for (const stream of [false, true]) {
      const response = await post({ ...HELLO, stream });
      expect(response.status).toBe(500);
      expect(response.headers.get('request-id')).toMatch(/^req_\w{24}$/);
      const body = (await response.json()) as { type: string; error: { type: string; message: string }; request_id: string };
      expect(body).toMatchObject({ type: 'error', error: { type: 'api_error' }, request_id: response.headers.get('request-id') });
      expect(body.error.message).toContain('scenario exhausted');
    }
    // A rejected request uses up no reply and is still rejected as before.
    expect((await post(HELLO, { 'anthropic-version': '' })).status).toBe(400);
  });

  it('cycle: true is an alias of whenExhausted: cycle; cycle: false changes nothing', async () => {
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], cycle: true, whenExhausted: 'cycle' });
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(await textOf(await post(HELLO)));
    expect(texts).toEqual(['a', 'b', 'a']);
    await mock!.close();
    await start({ replies: [{ type: 'text', text: 'a' }], cycle: false, whenExhausted: 'error' });
    expect(await textOf(await post(HELLO))).toBe('a');
    expect((await post(HELLO)).status).toBe(500);
    await mock!.close();
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], cycle: false });
    texts.length = 0;
    for (let i = 0; i < 3; i++) texts.push(await textOf(await post(HELLO)));
    expect(texts).toEqual(['a', 'b', 'b']);
  });

  it('throws a TypeError naming cycle and whenExhausted when they disagree', async () => {
    const replies = [{ type: 'text' as const, text: 'a' }];
    await expect(startAnthropicMock({ replies, cycle: true, whenExhausted: 'error' })).rejects.toThrow(TypeError);
    await expect(startAnthropicMock({ replies, cycle: true, whenExhausted: 'repeat-last' })).rejects.toThrow(/cycle: true and whenExhausted: 'repeat-last'/);
    await expect(startAnthropicMock({ replies, cycle: false, whenExhausted: 'cycle' })).rejects.toThrow(/cycle: false and whenExhausted: 'cycle'/);
  });

  it('asks a function for each reply, with the request and its index', async () => {
    await start((request, index) => ({ type: 'text', text: `${index}:${(request.json as { model: string }).model}` }));
    expect(await textOf(await post(HELLO))).toBe('0:claude-test');
    expect(await textOf(await post({ ...HELLO, model: 'other' }))).toBe('1:other');
  });

  it('is plain JSON data: a scenario survives a JSON round trip', async () => {
    const scenario: AnthropicMockScenario = JSON.parse(
      JSON.stringify({ apiKey: 'k', replies: [{ type: 'error', kind: 'rate_limit', retryAfter: 2 }, { type: 'text', text: 'ok' }] }),
    ) as AnthropicMockScenario;
    await start(scenario);
    expect((await post(HELLO, { 'x-api-key': 'k' })).status).toBe(429);
    expect(await textOf(await post(HELLO, { 'x-api-key': 'k' }))).toBe('ok');
  });
});

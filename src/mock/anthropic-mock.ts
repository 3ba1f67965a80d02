import { randomBytes } from 'node:crypto';
import { resolveWhenExhausted, scriptedReply, startMockServer, type WhenExhausted, type MockFrame, type MockReply, type RecordedRequest } from './mock-server.js';

/** A Messages API `stop_reason`. */
export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

/** An `error.type` of the Messages API. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'api_error'
  | 'overloaded_error';

/** Token counts of a reply; defaults are estimated from the text (about four characters a token). */
export interface AnthropicMockUsage {
  /** Uncached input tokens (`input_tokens`). */
  inputTokens?: number;
  outputTokens?: number;
  cacheCreationInputTokens?: number;
  cacheReadInputTokens?: number;
}

/** A tool call the mock model makes. */
export interface AnthropicMockToolCall {
  /** Default: a fresh `toolu_…` id. */
  id?: string;
  name: string;
  /** The arguments object. Default `{}`. Streamed as `input_json_delta` pieces of its JSON. */
  input?: Record<string, unknown>;
}

/** Timing, headers and chunking shared by replies that produce output. */
export interface AnthropicMockTiming {
  /** Wait before the response headers (latency). A non-streaming reply also waits `firstTokenDelayMs`. */
  delayMs?: number;
  /** Streaming: wait before the first content delta. */
  firstTokenDelayMs?: number;
  /** Streaming: wait before each later content delta. */
  chunkDelayMs?: number;
  /** Streaming: how the text is split into `text_delta`s (they should join to `text`). Default: word by word. */
  chunks?: string[];
  /** Extra response headers (override the mock's own). */
  headers?: Record<string, string>;
}

/** A successful answer: text, optional thinking and tool calls. */
export interface AnthropicMockTextReply extends AnthropicMockTiming {
  type: 'text';
  /** Default: `chunks` joined, else `''`. */
  text?: string;
  /** A thinking block before the text (streamed as `thinking_delta` + `signature_delta`). */
  thinking?: string;
  toolCalls?: AnthropicMockToolCall[];
  /** Default `tool_use` when there are tool calls, else `end_turn`. */
  stopReason?: AnthropicStopReason;
  /** The `stop_sequence` reported with `stop_sequence`. Default: the request's first one. */
  stopSequence?: string;
  usage?: AnthropicMockUsage;
  /** The message id. Default: a fresh `msg_…` id. */
  id?: string;
}

/** The error kinds the mock reproduces, each with the status and body of the real service. */
export type AnthropicMockErrorKind =
  | 'rate_limit' // 429 rate_limit_error with retry-after and exhausted anthropic-ratelimit-* headers
  | 'quota' // 429 rate_limit_error, details.error_code enforced_spend_limit_reached, no retry-after
  | 'billing' // 402 billing_error
  | 'overloaded' // 529 overloaded_error
  | 'server' // 500 api_error
  | 'auth' // 401 authentication_error
  | 'permission' // 403 permission_error
  | 'not_found' // 404 not_found_error (model)
  | 'context_length' // 400 invalid_request_error "prompt is too long: 208656 tokens > 200000 maximum"
  | 'invalid_request' // 400 invalid_request_error
  | 'timeout'; // 504 timeout_error

/** An HTTP error response (also to streaming requests: the real API fails before the stream starts). */
export interface AnthropicMockErrorReply {
  type: 'error';
  kind: AnthropicMockErrorKind;
  /** Replaces the service's message. */
  message?: string;
  /** `retry-after` in seconds. Default 10 for `rate_limit`; absent otherwise. */
  retryAfter?: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

/**
 * A stream that sends `text` (default none), then `event: error` with `error` as its type
 * (default `overloaded_error`, what the service sends most mid-stream); a non-streaming request
 * gets that error's HTTP status.
 */
export interface AnthropicMockStreamErrorReply extends AnthropicMockTiming {
  type: 'stream-error-after';
  text?: string;
  error?: AnthropicErrorType;
  message?: string;
}

/** A stream that sends `text` (default none), then holds the connection open silently until the client leaves. */
export interface AnthropicMockStallReply extends AnthropicMockTiming {
  type: 'stall-after';
  text?: string;
}

/** A stream that sends `text` (default none), then destroys the connection. */
export interface AnthropicMockCutReply extends AnthropicMockTiming {
  type: 'cut-after';
  text?: string;
}

/** A stream that sends `text` (default none), then ends the response cleanly without `message_stop` (a truncating proxy). */
export interface AnthropicMockTruncateReply extends AnthropicMockTiming {
  type: 'truncate-after';
  text?: string;
}

/** A stream that sends `text` (default none), then a frame whose data is not JSON, then stalls. */
export interface AnthropicMockMalformedReply extends AnthropicMockTiming {
  type: 'malformed-frame';
  text?: string;
}

/** A refusal: HTTP 200, `stop_reason: "refusal"` with `stop_details`. */
export interface AnthropicMockRefusalReply extends AnthropicMockTiming {
  type: 'refusal';
  /** Text produced before the refusal. Default none. */
  text?: string;
  category?: 'cyber' | 'bio' | 'frontier_llm' | 'reasoning_extraction' | 'general_harms' | null;
  explanation?: string | null;
}

/** One reply of a scenario. Plain JSON data. */
export type AnthropicMockReply =
  | AnthropicMockTextReply
  | AnthropicMockErrorReply
  | AnthropicMockStreamErrorReply
  | AnthropicMockStallReply
  | AnthropicMockCutReply
  | AnthropicMockTruncateReply
  | AnthropicMockMalformedReply
  | AnthropicMockRefusalReply;

/** Chooses the reply to the `index`-th valid `POST /v1/messages` (counting from 0). */
export type AnthropicMockReplyFn = (
  request: RecordedRequest,
  index: number,
) => AnthropicMockReply | Promise<AnthropicMockReply>;

/**
 * What the mock does. `replies` is played in order, one per valid request; `whenExhausted` says
 * what follows the last. Requests the real API would reject (bad auth, version, body) get its 4xx
 * and do not use up a reply.
 */
export interface AnthropicMockScenario {
  replies: AnthropicMockReply[] | AnthropicMockReplyFn;
  /** When set, requests must carry it as `x-api-key` or `Authorization: Bearer` (x-api-key wins if both). */
  apiKey?: string;
  /**
   * When the list runs out: repeat the last reply (`repeat-last`, the default), start over
   * (`cycle`), or answer 500 `api_error` "scenario exhausted" (`error`, so a test that sends one
   * request too many notices).
   */
  whenExhausted?: WhenExhausted;
  /**
   * `true` is `whenExhausted: 'cycle'`; `false` changes nothing.
   * @deprecated Use `whenExhausted: 'cycle'`.
   */
  cycle?: boolean;
}

/** A running Anthropic mock. */
export interface AnthropicMock {
  /**
   * The base URL, with no path: `http://127.0.0.1:<port>`. It is exactly the `baseURL` to give
   * Ballast's `anthropic` provider (whose default is `https://api.anthropic.com`).
   */
  readonly url: string;
  readonly port: number;
  /** Every request received, valid or not, in order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** The API versions the mock accepts. */
export const ANTHROPIC_MOCK_VERSIONS: readonly string[] = ['2023-06-01', '2026-10-21'];

const ERRORS: Readonly<Record<AnthropicMockErrorKind, { status: number; type: AnthropicErrorType; message: string; code?: string }>> = {
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    message:
      "This request would exceed your organization's rate limit of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.",
  },
  quota: {
    status: 429,
    type: 'rate_limit_error',
    message: 'You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.',
    code: 'enforced_spend_limit_reached',
  },
  billing: {
    status: 402,
    type: 'billing_error',
    message:
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  },
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded' },
  server: { status: 500, type: 'api_error', message: 'Internal server error' },
  auth: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
  permission: {
    status: 403,
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  not_found: { status: 404, type: 'not_found_error', message: 'model: {model}' },
  context_length: {
    status: 400,
    type: 'invalid_request_error',
    message: 'prompt is too long: 208656 tokens > 200000 maximum',
  },
  invalid_request: {
    status: 400,
    type: 'invalid_request_error',
    message: 'messages: text content blocks must be non-empty',
  },
  timeout: { status: 504, type: 'timeout_error', message: 'Request timed out' },
};

/** The error type of a `stream-error-after` reply that names none. */
const DEFAULT_STREAM_ERROR: AnthropicErrorType = 'overloaded_error';

/** The status and default message of each error type (for `stream-error-after`). */
const BY_TYPE: Readonly<Record<AnthropicErrorType, { status: number; message: string }>> = {
  invalid_request_error: { status: 400, message: ERRORS.invalid_request.message },
  authentication_error: { status: 401, message: ERRORS.auth.message },
  billing_error: { status: 402, message: ERRORS.billing.message },
  permission_error: { status: 403, message: ERRORS.permission.message },
  not_found_error: { status: 404, message: 'Not Found' },
  rate_limit_error: { status: 429, message: ERRORS.rate_limit.message },
  api_error: { status: 500, message: ERRORS.server.message },
  timeout_error: { status: 504, message: ERRORS.timeout.message },
  overloaded_error: { status: 529, message: ERRORS.overloaded.message },
};

const FOREVER_MS = 2 ** 31 - 1;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Starts a mock of the Anthropic Messages API on 127.0.0.1: `POST /v1/messages`, JSON and named
 * SSE events (with `ping`), the real error bodies, `request-id` and `anthropic-ratelimit-*`
 * headers, both API versions (2026-10-21 rejects `temperature`, `top_p`, `top_k` as the service
 * does), and faults: mid-stream `error` events, stalls, cuts, truncation, malformed frames.
 * Pass a scenario, or just its reply list or function.
 */
export async function startAnthropicMock(
  scenario: AnthropicMockScenario | AnthropicMockReply[] | AnthropicMockReplyFn,
): Promise<AnthropicMock> {
  const script: AnthropicMockScenario = Array.isArray(scenario) || typeof scenario === 'function' ? { replies: scenario } : scenario;
  const { replies, apiKey } = script;
  const whenExhausted = resolveWhenExhausted('anthropic', { name: 'cycle', value: script.cycle }, script.whenExhausted, 'repeat-last');
  let served = 0;
  const next = async (request: RecordedRequest, index: number): Promise<AnthropicMockReply | undefined> => {
    if (typeof replies === 'function') return replies(request, index);
    if (replies.length === 0) throw new Error('anthropic mock: the scenario has no replies');
    return scriptedReply(replies, index, whenExhausted);
  };

  const server = await startMockServer(async (request) => {
    const rejection = validate(request, apiKey);
    if (rejection) return rejection;
    const body = request.json as Json;
    const index = served++;
    const reply = await next(request, index);
    if (!reply) return errorReply(500, 'api_error', `anthropic mock: scenario exhausted (no reply for request ${index + 1})`);
    return render(reply, body);
  });
  return { url: server.url, port: server.port, requests: server.requests, close: () => server.close() };
}

// ---------------------------------------------------------------------------------------------
// Validation: what the real service rejects before it runs the model.

function validate(request: RecordedRequest, apiKey: string | undefined): MockReply | undefined {
  const path = request.path.split('?')[0];
  if (path !== '/v1/messages') return errorReply(404, 'not_found_error', 'Not Found');
  if (request.method !== 'POST') return errorReply(405, 'invalid_request_error', `Method Not Allowed`);
  if (apiKey !== undefined) {
    const key = request.headers['x-api-key'] ?? /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (key === undefined) return errorReply(401, 'authentication_error', 'x-api-key header is required');
    if (key !== apiKey) return errorReply(401, 'authentication_error', 'invalid x-api-key');
  }
  const version = request.headers['anthropic-version'];
  if (version === undefined) return errorReply(400, 'invalid_request_error', 'anthropic-version: header is required');
  if (!ANTHROPIC_MOCK_VERSIONS.includes(version)) {
    return errorReply(400, 'invalid_request_error', `anthropic-version: invalid version "${version}"`);
  }
  const body = request.json;
  if (!isObject(body)) return errorReply(400, 'invalid_request_error', 'There was an error parsing the body.');
  if (typeof body.model !== 'string') return errorReply(400, 'invalid_request_error', 'model: Field required');
  if (typeof body.max_tokens !== 'number') return errorReply(400, 'invalid_request_error', 'max_tokens: Field required');
  if (!Array.isArray(body.messages)) return errorReply(400, 'invalid_request_error', 'messages: Field required');
  if (version >= '2026-10-21') {
    for (const field of ['temperature', 'top_p', 'top_k']) {
      if (field in body) return errorReply(400, 'invalid_request_error', `${field}: Extra inputs are not permitted`);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Replies

function render(reply: AnthropicMockReply, body: Json): MockReply {
  const model = String(body.model);
  const stream = body.stream === true;
  switch (reply.type) {
    case 'error': {
      const spec = ERRORS[reply.kind];
      const retryAfter = reply.retryAfter ?? (reply.kind === 'rate_limit' ? 10 : undefined);
      const headers: Record<string, string> = rateLimitHeaders(reply.kind === 'rate_limit' ? (retryAfter ?? 0) : undefined);
      if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
      const message = reply.message ?? spec.message.replace('{model}', model);
      return withDelay(errorReply(spec.status, spec.type, message, spec.code, { ...headers, ...reply.headers }), reply.delayMs);
    }
    case 'text':
      return answer(reply, body, stream, model, {});
    case 'refusal':
      return answer(
        { ...reply, type: 'text', stopReason: 'refusal' },
        body,
        stream,
        model,
        { stopDetails: { type: 'refusal', category: reply.category ?? null, explanation: reply.explanation ?? null } },
      );
    case 'stream-error-after': {
      const type = reply.error ?? DEFAULT_STREAM_ERROR;
      const { status, message: standard } = BY_TYPE[type];
      const message = reply.message ?? standard;
      if (!stream) return withDelay(errorReply(status, type, message, undefined, rateLimitHeaders()), reply.delayMs);
      const error = { type: 'error', error: { type, message } };
      return answer({ ...reply, type: 'text' }, body, stream, model, { end: [{ write: sse('error', error) }] });
    }
    case 'stall-after':
      if (!stream) return { status: 200, delayMs: FOREVER_MS };
      return answer({ ...reply, type: 'text' }, body, stream, model, { end: [{ stall: true }] });
    case 'cut-after':
      if (!stream) return { status: 200, headers: successHeaders('application/json'), frames: [{ cut: true }] };
      // mock-server destroys the socket synchronously, which would drop the frames Node still holds
      // corked: a short pause lets them reach the client first.
      return answer({ ...reply, type: 'text' }, body, stream, model, { end: [{ write: '', delayMs: 5 }, { cut: true }] });
    case 'truncate-after':
      if (!stream) return { status: 200, headers: successHeaders('application/json'), text: '{"id":"msg_' };
      return answer({ ...reply, type: 'text' }, body, stream, model, { end: [] });
    case 'malformed-frame': {
      if (!stream) return { status: 200, headers: successHeaders('application/json'), text: '{"id":"msg_01", "content": [' };
      const bad = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_d\n\n';
      return answer({ ...reply, type: 'text' }, body, stream, model, { end: [{ write: bad }, { stall: true }] });
    }
  }
}

interface AnswerOptions {
  stopDetails?: Json;
  /** Replaces the stream's `message_delta` + `message_stop` (faults after the content). */
  end?: MockFrame[];
}

/** A full message as JSON, or the same message as a stream of named SSE events. */
function answer(reply: AnthropicMockTextReply, body: Json, stream: boolean, model: string, options: AnswerOptions): MockReply {
  const text = reply.text ?? reply.chunks?.join('') ?? '';
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({ id: call.id ?? newId('toolu_'), name: call.name, input: call.input ?? {} }));
  const stopReason = reply.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn');
  const stopSequence =
    stopReason === 'stop_sequence'
      ? (reply.stopSequence ?? (Array.isArray(body.stop_sequences) ? String(body.stop_sequences[0]) : null))
      : null;
  const outputChars = text.length + (reply.thinking?.length ?? 0) + toolCalls.reduce((n, c) => n + JSON.stringify(c.input).length, 0);
  const usage = {
    input_tokens: reply.usage?.inputTokens ?? estimateTokens(JSON.stringify([body.system, body.messages, body.tools])),
    cache_creation_input_tokens: reply.usage?.cacheCreationInputTokens ?? 0,
    cache_read_input_tokens: reply.usage?.cacheReadInputTokens ?? 0,
    output_tokens: reply.usage?.outputTokens ?? Math.max(1, estimateTokens(' '.repeat(outputChars))),
  };
  const id = reply.id ?? newId('msg_');
  const signature = reply.thinking === undefined ? undefined : randomBytes(48).toString('base64');
  const stopDetails = options.stopDetails ?? null;

  if (!stream) {
    const content: Json[] = [];
    if (reply.thinking !== undefined) content.push({ type: 'thinking', thinking: reply.thinking, signature });
    if (text !== '') content.push({ type: 'text', text });
    for (const call of toolCalls) content.push({ type: 'tool_use', ...call });
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      stop_details: stopDetails,
      usage,
    };
    const delayMs = (reply.delayMs ?? 0) + (reply.firstTokenDelayMs ?? 0);
    return withDelay({ status: 200, headers: { ...successHeaders('application/json'), ...reply.headers }, json: message }, delayMs);
  }

  const frames: MockFrame[] = [];
  const write = (event: string, data: Json) => frames.push({ write: sse(event, data) });
  let deltas = 0;
  const delta = (index: number, data: Json) => {
    const delayMs = deltas++ === 0 ? reply.firstTokenDelayMs : reply.chunkDelayMs;
    frames.push({ write: sse('content_block_delta', { type: 'content_block_delta', index, delta: data }), ...(delayMs ? { delayMs } : {}) });
  };

  write('message_start', {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      content: [],
      model,
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  let index = 0;
  if (reply.thinking !== undefined) {
    write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const piece of splitWords(reply.thinking)) delta(index, { type: 'thinking_delta', thinking: piece });
    delta(index, { type: 'signature_delta', signature });
    write('content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  // A fault after text needs an open text block, even an empty one.
  if (text !== '' || options.end) {
    write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    write('ping', { type: 'ping' });
    for (const piece of reply.chunks ?? splitWords(text)) delta(index, { type: 'text_delta', text: piece });
    if (options.end) {
      frames.push(...options.end);
      return { status: 200, delayMs: reply.delayMs, headers: { ...successHeaders('text/event-stream; charset=utf-8'), ...reply.headers }, frames };
    }
    write('content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  for (const call of toolCalls) {
    write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } });
    delta(index, { type: 'input_json_delta', partial_json: '' });
    for (const piece of splitFixed(JSON.stringify(call.input), 12)) delta(index, { type: 'input_json_delta', partial_json: piece });
    write('content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  write('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: stopSequence, stop_details: stopDetails },
    usage: { output_tokens: usage.output_tokens },
  });
  write('message_stop', { type: 'message_stop' });
  return { status: 200, delayMs: reply.delayMs, headers: { ...successHeaders('text/event-stream; charset=utf-8'), ...reply.headers }, frames };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function errorReply(
  status: number,
  type: AnthropicErrorType,
  message: string,
  code?: string,
  headers: Record<string, string> = {},
): MockReply {
  const requestId = newId('req_');
  const error: Json = { type, message };
  if (code) error.details = { error_code: code };
  return {
    status,
    headers: { 'request-id': requestId, ...headers },
    json: { type: 'error', error, request_id: requestId },
  };
}

function withDelay(reply: MockReply, delayMs: number | undefined): MockReply {
  return delayMs ? { ...reply, delayMs } : reply;
}

function successHeaders(contentType: string): Record<string, string> {
  return { 'content-type': contentType, 'request-id': newId('req_'), ...rateLimitHeaders() };
}

/**
 * `anthropic-ratelimit-*` headers with RFC 3339 resets. With `exhaustedForSeconds`, the request
 * bucket is empty and refills then.
 */
function rateLimitHeaders(exhaustedForSeconds?: number): Record<string, string> {
  const now = Date.now();
  const at = (ms: number) => new Date(Math.ceil((now + ms) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const headers: Record<string, string> = {};
  const bucket = (name: string, limit: number, remaining: number, resetMs: number) => {
    headers[`anthropic-ratelimit-${name}-limit`] = String(limit);
    headers[`anthropic-ratelimit-${name}-remaining`] = String(remaining);
    headers[`anthropic-ratelimit-${name}-reset`] = at(resetMs);
  };
  if (exhaustedForSeconds === undefined) bucket('requests', 50, 49, 1200);
  else bucket('requests', 50, 0, exhaustedForSeconds * 1000);
  bucket('tokens', 90_000, 89_000, 1000);
  bucket('input-tokens', 50_000, 50_000, 1000);
  bucket('output-tokens', 40_000, 39_000, 1000);
  return headers;
}

function newId(prefix: string): string {
  return prefix + randomBytes(18).toString('base64url').replace(/[-_]/g, 'x');
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Word by word, spaces kept with the word before them: `Hello world` → `Hello `, `world`. */
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text === '' ? [] : [text]);
}

function splitFixed(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

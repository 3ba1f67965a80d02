import { isPolicyError } from '../policy/errors.js';
import type { ErrorKind } from './error-kind.js';
import { DEFAULT_ERROR_ACTIONS } from './error-kind.js';
import { LlmError, isLlmError } from './llm-error.js';
import type { HeadersLike, RateLimitInfo } from './rate-limit-headers.js';
import { cooldownMs, headerGetter, parseGoDuration, parseRateLimitHeaders } from './rate-limit-headers.js';

/** A provider name; the four built-in wire protocols, or any other label (OpenAI-compatible servers). */
export type ProviderName = 'openai' | 'anthropic' | 'gemini' | 'ollama' | (string & {});

/** Who failed, for the error's fields and message. */
export interface LlmErrorContext {
  provider?: ProviderName;
  model?: string;
}

/** An HTTP error response to classify. */
export interface HttpErrorInput extends LlmErrorContext {
  provider: ProviderName;
  status: number;
  /** The response body as text (JSON or not: HTML, empty and truncated bodies are fine). */
  body: string;
  headers?: HeadersLike;
  /** Epoch ms that anchors absolute times in headers (HTTP dates, RFC 3339 resets). */
  now?: number;
}

/** The body shapes of the four protocols (OpenAI-compatible servers and Azure use OpenAI's). */
type BodyShape = 'openai' | 'anthropic' | 'gemini' | 'ollama' | 'unknown';

/** What an error body says, whatever its shape. */
interface ErrorFacts {
  shape: BodyShape;
  message?: string;
  /** OpenAI / Anthropic `error.type`; Gemini `error.status`. */
  type?: string;
  /** OpenAI `error.code`; Anthropic `error.details.error_code`; Gemini `ErrorInfo.reason`. */
  code?: string;
  /** OpenAI `error.param`: the request field at fault. */
  param?: string;
  /** Gemini's `error.code`: the HTTP status, also inside stream frames. */
  status?: number;
  requestId?: string;
  /** Gemini `google.rpc.RetryInfo.retryDelay`, in ms. */
  retryDelayMs?: number;
  /** Gemini `google.rpc.QuotaFailure` violations' `quotaId` / `quotaMetric`. */
  quotaIds: string[];
}

const QUOTA_CODES = new Set([
  // OpenAI (type or code)
  'insufficient_quota',
  'credit_balance_exhausted',
  'organization_spend_limit_exceeded',
  'project_spend_limit_exceeded',
  'organization_usage_limit_exceeded',
  'billing_hard_limit_reached',
  'billing_not_active',
  // Anthropic (type, or details.error_code)
  'billing_error',
  'enforced_spend_limit_reached',
  'contract_spend_limit_reached',
  'organization_on_hold',
  // Gemini (status): "enable billing", free tier unavailable in the region
  'FAILED_PRECONDITION',
]);
const CONTENT_FILTER_CODES = new Set(['content_filter', 'content_policy_violation', 'bio_policy']);
const AUTH_CODES = new Set([
  'authentication_error',
  'permission_error',
  'invalid_api_key',
  'invalid_organization',
  'unsupported_country_region_territory',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'API_KEY_INVALID',
  'API_KEY_SERVICE_BLOCKED',
  'API_KEY_HTTP_REFERRER_BLOCKED',
]);
const NOT_FOUND_CODES = new Set(['not_found_error', 'model_not_found', 'NOT_FOUND']);
const OVERLOADED_CODES = new Set([
  'overloaded_error',
  'server_is_overloaded',
  'service_unavailable_error',
  'UNAVAILABLE',
]);
// Only consulted for frames without an HTTP status (mid-stream errors).
const RATE_LIMIT_CODES = new Set([
  'rate_limit_error',
  'rate_limit_exceeded',
  'slow_down',
  'too_many_requests',
  'tokens',
  'requests',
]);
const TIMEOUT_CODES = new Set(['timeout_error', 'DEADLINE_EXCEEDED', 'timeout']);
const INVALID_CODES = new Set(['invalid_request_error', 'INVALID_ARGUMENT', 'invalid_prompt']);

const QUOTA_MESSAGE =
  /exceeded your current quota|credit balance is too low|spend(?:ing)? limit|usage limits? (?:has been |have been )?reached|reached your specified (?:\w+ )?(?:api )?usage limit/i;
const CONTEXT_MESSAGE =
  /context[_ ]length|context window|prompt is too long|input token count.*exceeds|reduce the length of the messages|too many input tokens/i;
const REQUEST_TOO_LARGE = /^\s*request too large/i;
const AUTH_MESSAGE = /api key not valid|invalid (?:x-)?api[-_ ]?key|incorrect api key/i;
const OVERLOADED_MESSAGE = /overloaded|server busy|high demand/i;
const GO_DURATION_TEXT = '(?:(?:\\d+(?:\\.\\d+)?|\\.\\d+)(?:ns|us|µs|μs|ms|s|m|h))+';
const WAIT_GO = new RegExp(`(?:try again|retry) (?:in|after)\\s+(${GO_DURATION_TEXT})`, 'i');
const WAIT_WORDS = /(?:try again|retry) (?:in|after)\s+(\d+(?:\.\d+)?)\s*(milliseconds?|seconds?|minutes?|hours?)\b/i;
const WORD_UNIT_MS: Readonly<Record<string, number>> = { millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000 };

const MAX_MESSAGE = 1000;
const MAX_SNIPPET = 200;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const codeStr = (v: unknown): string | undefined => str(v) ?? (typeof v === 'number' ? String(v) : undefined);

function tryParseJson(text: string): unknown {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return undefined;
  }
}

/** Parses a protobuf JSON duration (`"43s"`, `"0.5s"`), tolerating Go-style durations. */
function parseProtoDuration(v: unknown): number | undefined {
  if (typeof v === 'string') return parseGoDuration(v);
  if (isObject(v)) {
    const seconds = Number(v.seconds ?? 0);
    const nanos = Number(v.nanos ?? 0);
    const ms = seconds * 1000 + nanos / 1e6;
    return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
  }
  return undefined;
}

function readGeminiDetails(details: unknown, facts: ErrorFacts): void {
  if (!Array.isArray(details)) return;
  for (const d of details) {
    if (!isObject(d)) continue;
    const at = str(d['@type']) ?? '';
    if (at.endsWith('google.rpc.RetryInfo')) {
      const ms = parseProtoDuration(d.retryDelay);
      if (ms !== undefined) facts.retryDelayMs = ms;
    } else if (at.endsWith('google.rpc.QuotaFailure') && Array.isArray(d.violations)) {
      for (const v of d.violations) {
        if (!isObject(v)) continue;
        for (const key of ['quotaId', 'quotaMetric']) {
          const id = str(v[key]);
          if (id) facts.quotaIds.push(id);
        }
      }
    } else if (at.endsWith('google.rpc.ErrorInfo')) {
      facts.code ??= str(d.reason);
    }
  }
}

/** Reads the facts out of any provider's error payload (already parsed, or `undefined`). */
function readFacts(payload: unknown): ErrorFacts {
  const facts: ErrorFacts = { shape: 'unknown', quotaIds: [] };
  const root = Array.isArray(payload) ? (payload[0] as unknown) : payload;
  if (!isObject(root)) return facts;
  const error = root.error;
  if (typeof error === 'string') {
    facts.shape = 'ollama';
    facts.message = error;
  } else if (isObject(error)) {
    facts.message = str(error.message);
    if (root.type === 'error') {
      facts.shape = 'anthropic';
      facts.type = str(error.type);
      facts.code = isObject(error.details) ? str(error.details.error_code) : undefined;
      facts.code ??= codeStr(error.code); // OpenAI Responses streams nest OpenAI-style errors the same way
      facts.requestId = str(root.request_id);
    } else if (typeof error.status === 'string' && (typeof error.code === 'number' || error.code === undefined)) {
      facts.shape = 'gemini';
      facts.type = error.status;
      if (typeof error.code === 'number') facts.status = error.code;
      readGeminiDetails(error.details, facts);
    } else {
      facts.shape = 'openai';
      facts.type = str(error.type);
      facts.code = codeStr(error.code);
      facts.param = str(error.param);
    }
  } else {
    // Flat shapes: the Responses API's documented `{"type":"error","code","message"}`, vLLM's
    // `{"object":"error","message","type","code"}`, FastAPI's `{"detail": …}`.
    facts.message = str(root.message) ?? str(root.detail);
    if (root.type !== 'error') facts.type = str(root.type);
    facts.code = str(root.code);
    if (facts.message !== undefined || facts.code !== undefined) facts.shape = 'openai';
  }
  if (facts.message && facts.message.length > MAX_MESSAGE) facts.message = `${facts.message.slice(0, MAX_MESSAGE)}…`;
  return facts;
}

function has(facts: ErrorFacts, set: ReadonlySet<string>): boolean {
  return (facts.type !== undefined && set.has(facts.type)) || (facts.code !== undefined && set.has(facts.code));
}

/**
 * The wait stated in a message: "Please try again in 644ms", "retry in 43.6s", "try again in 2
 * seconds", Azure's "Please retry after 6 seconds".
 */
export function waitFromMessage(message: string): number | undefined {
  const go = WAIT_GO.exec(message);
  if (go) {
    const ms = parseGoDuration(go[1]!);
    if (ms !== undefined) return ms;
  }
  const words = WAIT_WORDS.exec(message);
  if (words) {
    const unit = words[2]!.toLowerCase().replace(/s$/, '');
    const ms = Number(words[1]) * (WORD_UNIT_MS[unit] ?? NaN);
    if (Number.isFinite(ms)) return ms;
  }
  return undefined;
}

/** The kind of a 429 (or a status-less `RESOURCE_EXHAUSTED`) that carried no quota code. */
function tooManyRequestsKind(facts: ErrorFacts, headerWaitMs: number | undefined): ErrorKind {
  const message = facts.message ?? '';
  // "Request too large for … on tokens per min": retrying can never succeed here, but a target
  // with a higher TPM limit or a larger window can serve it. `context_length` is the kind with
  // exactly that action (no retry, no breaker, no cooldown, fall back to a bigger target);
  // `invalid_request` would stop the fallback walk, and `quota`/`rate_limit` would cool down a
  // target that serves smaller requests fine.
  if (REQUEST_TOO_LARGE.test(message)) return 'context_length';
  if (facts.shape === 'gemini' || facts.type === 'RESOURCE_EXHAUSTED') {
    // A per-day quota, or one without RetryInfo (the "sticky" case), does not clear in seconds.
    if (facts.quotaIds.some((id) => /PerDay/i.test(id))) return 'quota';
    return facts.retryDelayMs !== undefined ? 'rate_limit' : 'quota';
  }
  if (facts.shape === 'anthropic') {
    // Anthropic's monthly spend cap is a 429 too; a missing retry-after is the tell.
    if (facts.code === 'ramp_limit_exceeded' || headerWaitMs !== undefined) return 'rate_limit';
    return 'quota';
  }
  if (QUOTA_MESSAGE.test(message)) return 'quota';
  return 'rate_limit';
}

function decideKind(status: number | undefined, facts: ErrorFacts, headerWaitMs: number | undefined): ErrorKind {
  const message = facts.message ?? '';
  const requestStatus = status === undefined || status === 400 || status === 422;

  if (status === 402 || has(facts, QUOTA_CODES)) return 'quota';
  // Anthropic's spend limits and "credit balance is too low" come as 400 invalid_request_error;
  // Gemini says "exceeded your current quota" on every 429, so it is judged by its details instead.
  if (facts.shape !== 'gemini' && (requestStatus || status === 429) && QUOTA_MESSAGE.test(message)) return 'quota';
  if (has(facts, CONTENT_FILTER_CODES)) return 'content_filter';
  if (facts.code === 'context_length_exceeded' || status === 413) return 'context_length';
  if (requestStatus && CONTEXT_MESSAGE.test(message)) return 'context_length';
  if (status === 401 || status === 403 || has(facts, AUTH_CODES)) return 'auth';
  if (requestStatus && AUTH_MESSAGE.test(message)) return 'auth';
  if (status === 404 || has(facts, NOT_FOUND_CODES)) return 'not_found';
  if (status === 429 || facts.type === 'RESOURCE_EXHAUSTED') return tooManyRequestsKind(facts, headerWaitMs);
  if (status === 408) return 'timeout';
  // 499 is "client closed request": something between us and the model hung up, not our caller.
  if (status === 499) return 'connection';
  if (status === 503 || status === 529 || has(facts, OVERLOADED_CODES)) return 'overloaded';
  if ((status === undefined || status >= 500) && OVERLOADED_MESSAGE.test(message)) return 'overloaded';
  if (status !== undefined) {
    // 409 (conflict) is retried by the official SDKs, like a 5xx.
    if (status >= 500 || status === 409) return 'server';
    if (status >= 400) return 'invalid_request';
    return 'server';
  }
  if (has(facts, RATE_LIMIT_CODES)) return 'rate_limit';
  if (has(facts, TIMEOUT_CODES)) return 'timeout';
  if (has(facts, INVALID_CODES)) return 'invalid_request';
  return 'server';
}

/** The wait for a retryable kind: Retry-After headers, then exhausted-bucket resets, RetryInfo, the message. */
function retryWait(kind: ErrorKind, facts: ErrorFacts, rateLimit: RateLimitInfo | undefined): number | undefined {
  if (!DEFAULT_ERROR_ACTIONS[kind].retrySameTarget) return undefined;
  const ms =
    rateLimit?.retryAfterMs ??
    (kind === 'rate_limit' ? cooldownMs(rateLimit) : undefined) ??
    facts.retryDelayMs ??
    (facts.message === undefined ? undefined : waitFromMessage(facts.message));
  return ms === undefined ? undefined : Math.ceil(ms);
}

function snippet(body: string): string {
  const text = body
    .slice(0, 64 * 1024)
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return 'empty body';
  return text.length > MAX_SNIPPET ? `${text.slice(0, MAX_SNIPPET)}…` : text;
}

function describe(provider: string, status: number | undefined, facts: ErrorFacts, fallback: string): string {
  const where = status === undefined ? `${provider} stream error` : `${provider} HTTP ${status}`;
  const tag = facts.code ?? facts.type;
  return `${where}${tag ? ` (${tag})` : ''}: ${facts.message ?? fallback}`;
}

function build(
  kind: ErrorKind,
  message: string,
  context: LlmErrorContext,
  extra: Partial<Pick<LlmError, 'status' | 'retryAfterMs' | 'code' | 'type' | 'param' | 'requestId' | 'rateLimit'>> & {
    cause?: unknown;
  },
): LlmError {
  return new LlmError({ kind, message, provider: context.provider, model: context.model, ...extra });
}

/**
 * Classifies an HTTP error response of any provider into an {@link LlmError}: its kind, the
 * provider's code and type, the request id (`x-request-id`, `request-id`, or the body's
 * `request_id`), the rate-limit headers, and for retryable kinds the wait (Retry-After headers,
 * an exhausted bucket's reset, Gemini's RetryInfo, or "try again in 644ms" in the message).
 * Never throws, whatever the body.
 */
export function classifyHttpError(input: HttpErrorInput): LlmError {
  const { provider, status, body } = input;
  const facts = readFacts(tryParseJson(body));
  const rateLimit = input.headers ? parseRateLimitHeaders(input.headers, input.now ?? Date.now()) : undefined;
  const kind = decideKind(status, facts, cooldownMs(rateLimit));
  const get = input.headers ? headerGetter(input.headers) : undefined;
  const requestId = get?.('x-request-id') ?? get?.('request-id') ?? facts.requestId;
  return build(kind, describe(provider, status, facts, snippet(body)), input, {
    status,
    retryAfterMs: retryWait(kind, facts, rateLimit),
    code: facts.code,
    type: facts.type,
    param: facts.param,
    requestId,
    rateLimit,
  });
}

/**
 * Classifies an error frame received inside a stream after HTTP 200: OpenAI `{"error":{…}}`,
 * Anthropic `{"type":"error","error":{…}}`, Gemini `{"error":{"code":503,…}}`, Ollama
 * `{"error":"…"}`, the Responses API's flat and nested `error` events. `frame` is the parsed JSON
 * or its raw text. Unknown errors are `server` (retryable before the commit point).
 */
export function classifyStreamError(
  provider: ProviderName,
  frame: unknown,
  context: Omit<LlmErrorContext, 'provider'> & { requestId?: string } = {},
): LlmError {
  const payload = typeof frame === 'string' ? (tryParseJson(frame) ?? { error: frame }) : frame;
  const facts = readFacts(payload);
  const kind = decideKind(facts.status, facts, undefined);
  return build(kind, describe(provider, facts.status, facts, 'malformed error frame'), { ...context, provider }, {
    status: facts.status,
    retryAfterMs: retryWait(kind, facts, undefined),
    code: facts.code,
    type: facts.type,
    requestId: context.requestId ?? facts.requestId,
  });
}

function describeCause(cause: unknown): { text: string; code?: string } {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    const code =
      str((cause as { code?: unknown }).code) ?? (isObject(inner) ? str(inner.code) : undefined);
    const innerText = inner instanceof Error && inner.message !== cause.message ? `: ${inner.message}` : '';
    return { text: `${cause.message}${innerText}${code ? ` (${code})` : ''}`, code };
  }
  return { text: typeof cause === 'string' ? cause : 'unknown error' };
}

/**
 * A `connection` error (refused, reset, DNS, TLS, a body that broke off). The cause's errno-style
 * code (`ECONNREFUSED`, `UND_ERR_SOCKET`, …) becomes `code`.
 */
export function connectionError(cause: unknown, context: LlmErrorContext = {}): LlmError {
  const { text, code } = describeCause(cause);
  return build('connection', `${context.provider ?? 'provider'} connection failed: ${text}`, context, { code, cause });
}

/** A `connection` error for a stream that ended before its terminal event (`[DONE]`, `message_stop`, …). */
export function truncatedStreamError(context: LlmErrorContext = {}): LlmError {
  return build(
    'connection',
    `${context.provider ?? 'provider'} stream ended before its terminal event`,
    context,
    { code: 'stream_truncated' },
  );
}

/** Which timer ran out: the attempt, the total deadline, the wait for the first token, or a stall. */
export type TimeoutScope = 'attempt' | 'deadline' | 'first_token' | 'idle';

/** A `timeout` error; `code` is `<scope>_timeout`. */
export function timeoutError(
  scope: TimeoutScope,
  context: LlmErrorContext & { timeoutMs?: number; cause?: unknown } = {},
): LlmError {
  const what = {
    attempt: 'attempt timed out',
    deadline: 'deadline exceeded',
    first_token: 'no first token in time',
    idle: 'stream stalled',
  }[scope];
  const after = context.timeoutMs === undefined ? '' : ` after ${context.timeoutMs}ms`;
  return build('timeout', `${context.provider ?? 'provider'} ${what}${after}`, context, {
    code: `${scope}_timeout`,
    cause: context.cause,
  });
}

/**
 * A `content_filter` error, for a route that treats a refusal or safety block (an HTTP 200 with
 * finish `content_filter` / `refusal` / `SAFETY`, or Gemini's `promptFeedback.blockReason`) as a
 * failure to fall back from. `rawReason` becomes `code`.
 */
export function contentFilterError(rawReason?: string, context: LlmErrorContext = {}): LlmError {
  const why = rawReason ? ` (${rawReason})` : '';
  return build('content_filter', `${context.provider ?? 'provider'} blocked the content${why}`, context, { code: rawReason });
}

/** An `aborted` error: the caller's signal fired. `reason` (the signal's reason) becomes the cause. */
export function abortedError(reason?: unknown, context: LlmErrorContext = {}): LlmError {
  const why = reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
  return build('aborted', `request aborted${why}`, context, { cause: reason });
}

function asTimeout(error: unknown, context: LlmErrorContext): LlmError | undefined {
  if (isPolicyError(error, 'timeout')) {
    const { scope, timeoutMs } = error as unknown as { scope?: unknown; timeoutMs?: unknown };
    return timeoutError(scope === 'deadline' ? 'deadline' : 'attempt', {
      ...context,
      timeoutMs: typeof timeoutMs === 'number' ? timeoutMs : undefined,
      cause: error,
    });
  }
  // undici's own timers (a pooled transport's safety net): no response headers, or a silent body.
  const code = isObject(error) ? (error as { code?: unknown }).code : undefined;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return timeoutError('attempt', { ...context, cause: error });
  if (code === 'UND_ERR_BODY_TIMEOUT') return timeoutError('idle', { ...context, cause: error });
  // AbortSignal.timeout() aborts with a DOMException named TimeoutError.
  if (isObject(error) && (error as { name?: unknown }).name === 'TimeoutError' && !isPolicyError(error)) {
    return timeoutError('attempt', { ...context, cause: error });
  }
  return undefined;
}

/**
 * Turns anything a `fetch` or stream read threw into an {@link LlmError}: an `LlmError` passes
 * through; a policy timeout (or `AbortSignal.timeout`) is `timeout`; an abort of `signal` (the
 * caller's) or an `AbortError` is `aborted`; anything else is `connection`.
 */
export function classifyThrown(error: unknown, context: LlmErrorContext & { signal?: AbortSignal } = {}): LlmError {
  if (isLlmError(error)) return error;
  const ctx: LlmErrorContext = { provider: context.provider, model: context.model };
  const timeout = asTimeout(error, ctx);
  if (timeout) return timeout;
  if (context.signal?.aborted) return asTimeout(context.signal.reason, ctx) ?? abortedError(context.signal.reason, ctx);
  if (isObject(error) && (error as { name?: unknown }).name === 'AbortError') return abortedError(error, ctx);
  return connectionError(error, ctx);
}

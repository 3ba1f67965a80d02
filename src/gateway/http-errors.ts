import type { ErrorKind } from '../llm/error-kind.js';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import type { AttemptRecord } from '../router/attempt-record.js';

/** An error answer in OpenAI's shape: `{"error":{"message","type","param","code"}}` with its status. */
export interface ApiError {
  status: number;
  message: string;
  type: string;
  code: string | null;
  param: string | null;
  /** Extra response headers (`retry-after`). */
  headers?: Record<string, string>;
  /** Every attempt of a routed call, for the `attempts` field of the body. */
  attempts?: readonly AttemptRecord[];
}

/** The JSON text of an error body. */
export function errorBody(error: ApiError): string {
  const inner: Record<string, unknown> = { message: error.message, type: error.type, param: error.param, code: error.code };
  if (error.attempts?.length) {
    inner.attempts = error.attempts.map((a) => {
      const out: Record<string, unknown> = { target: a.target, outcome: a.outcome };
      if (a.outcome === 'skipped') out.skipReason = a.skipReason;
      else out.attempt = a.attempt;
      if (a.kind !== undefined) out.kind = a.kind;
      if (a.status !== undefined) out.status = a.status;
      return out;
    });
  }
  return JSON.stringify({ error: inner });
}

/** 400 naming the field. */
export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return { status: 400, message, type: 'invalid_request_error', param, code };
}

const STATUS: Record<ErrorKind, number> = {
  rate_limit: 429,
  quota: 429,
  overloaded: 503,
  server: 502,
  connection: 502,
  timeout: 504,
  // Upstream credentials or model names are the gateway's configuration, not the client's fault.
  auth: 502,
  not_found: 502,
  context_length: 400,
  content_filter: 400,
  invalid_request: 400,
  aborted: 499,
};

const TYPE: Record<ErrorKind, string> = {
  rate_limit: 'rate_limit_error',
  quota: 'insufficient_quota',
  overloaded: 'service_unavailable_error',
  server: 'upstream_error',
  connection: 'upstream_error',
  timeout: 'timeout_error',
  auth: 'upstream_error',
  not_found: 'upstream_error',
  context_length: 'invalid_request_error',
  content_filter: 'invalid_request_error',
  invalid_request: 'invalid_request_error',
  aborted: 'client_closed_request',
};

/** The `code` of each kind: OpenAI's own where it has one, else a stable Ballast code. */
const CODE: Record<ErrorKind, string> = {
  rate_limit: 'rate_limit_exceeded',
  quota: 'insufficient_quota',
  overloaded: 'server_is_overloaded',
  server: 'server_error',
  connection: 'upstream_connection_error',
  timeout: 'timeout',
  // The gateway's upstream key or model is wrong, not the client's (`invalid_api_key` would say so).
  auth: 'upstream_auth_error',
  not_found: 'upstream_model_not_found',
  context_length: 'context_length_exceeded',
  content_filter: 'content_filter',
  invalid_request: 'invalid_request',
  aborted: 'client_closed_request',
};

/**
 * Kinds whose error is a provider's answer, so its own code says more than the kind's. Not the kinds
 * with a fixed OpenAI code, nor transport and timer kinds, whose `code` is an errno or undici code
 * (`ECONNRESET`, `UND_ERR_SOCKET`) or a detail the message already gives.
 */
const PROVIDER_CODE_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['overloaded', 'server', 'invalid_request']);
/** An OpenAI-style code: `server_is_overloaded`, `unsupported_parameter` (errno and Gemini codes are upper case). */
const OPENAI_STYLE_CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Codes the router sets for itself, not about the failure (the body's `attempts` tell it). */
const ROUTER_CODES: ReadonlySet<string> = new Set(['all_targets_failed']);

/**
 * The error's `code`: the provider's own when it is OpenAI-style and its kind allows, else the
 * kind's. A call that failed on every target carries the router's code; the provider's is then
 * that of the failure behind it (its `cause`), when that failure is of the same kind.
 */
function errorCode(error: LlmError): string {
  const behind = failureBehind(error);
  return providerCode(error) ?? (behind && providerCode(behind)) ?? CODE[error.kind] ?? 'server_error';
}

/** The failure behind a call that failed on every target (its `cause`), when it is of the same kind. */
function failureBehind(error: LlmError): LlmError | undefined {
  return isLlmError(error.cause) && error.cause.kind === error.kind ? error.cause : undefined;
}

/** Kinds where the client's request is at fault, so the provider's `param` names a field it sent. */
const PARAM_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['invalid_request', 'context_length']);
/** A request field's path, as OpenAI names it (`temperature`, `messages[1].content`). */
const FIELD_PATH = /^[A-Za-z0-9_.[\]-]{1,100}$/;

/** The request field the provider found fault with, from the error or the failure behind it. */
function errorParam(error: LlmError): string | null {
  if (!PARAM_KINDS.has(error.kind)) return null;
  const param = error.param ?? failureBehind(error)?.param;
  return param !== undefined && FIELD_PATH.test(param) ? param : null;
}

function providerCode(error: LlmError): string | undefined {
  const own = error.code;
  return own !== undefined && PROVIDER_CODE_KINDS.has(error.kind) && OPENAI_STYLE_CODE.test(own) && !ROUTER_CODES.has(own) ? own : undefined;
}

/**
 * The answer for a failed routed call: the status from the error's kind (429 rate limits and
 * quotas, 503 overloaded or every breaker open, 502 upstream failures, 504 timeouts, 400 for
 * requests that fail everywhere), `retry-after` when the router knows when a target frees up,
 * the (already redacted) message that lists every attempt, and a stable `code` ({@link errorCode}).
 * Also the body of a mid-stream error frame.
 */
export function fromLlmError(error: LlmError): ApiError {
  const status = STATUS[error.kind] ?? 502;
  const headers: Record<string, string> = {};
  if (error.retryAfterMs !== undefined && (status === 429 || status === 503)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    headers['retry-after-ms'] = String(Math.max(0, Math.round(error.retryAfterMs)));
  }
  const attempts = (error as { attempts?: readonly AttemptRecord[] }).attempts;
  return {
    status,
    message: error.message,
    type: TYPE[error.kind] ?? 'upstream_error',
    code: errorCode(error),
    param: errorParam(error),
    headers,
    attempts,
  };
}

/**
 * Real attempts (skips left out) and fallbacks, for the `x-ballast-*` headers. `fallbacks` is the
 * router's own count when it has one (an answered call: a hedge that lost is no fallback);
 * otherwise the moves to another target among the attempts.
 */
export function attemptCounts(attempts: readonly AttemptRecord[] | undefined, fallbacks?: number): { attempts: number; fallbacks: number } {
  if (!attempts) return { attempts: 0, fallbacks: fallbacks ?? 0 };
  let tried = 0;
  let switches = 0;
  let last: string | undefined;
  for (const a of attempts) {
    if (a.outcome === 'skipped') continue;
    tried++;
    if (last !== undefined && a.target !== last) switches++;
    last = a.target;
  }
  return { attempts: tried, fallbacks: fallbacks ?? switches };
}

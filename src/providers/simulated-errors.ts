import { abortedError, connectionError, truncatedStreamError } from '../llm/classify.js';
import type { ErrorKind } from '../llm/error-kind.js';
import { LlmError } from '../llm/llm-error.js';
import type { RateLimitInfo } from '../llm/rate-limit-headers.js';

/** Who failed, and the overrides a fault rule may give. */
export interface SimulatedErrorContext {
  provider: string;
  model: string;
  /** Overrides the kind's usual status (e.g. 503 instead of 529 for `overloaded`). */
  status?: number;
  /** Overrides the kind's usual message. */
  message?: string;
  /** Overrides the kind's usual provider error code. */
  code?: string;
  /** Overrides the kind's usual provider error type. */
  type?: string;
  retryAfterMs?: number;
  rateLimit?: RateLimitInfo;
  /**
   * The error arrives as an error frame inside a stream that already answered HTTP 200: it has
   * no HTTP status, as a real mid-stream error frame has none.
   */
  midStream?: boolean;
}

interface KindShape {
  status?: number;
  code?: string;
  type?: string;
  message: (model: string) => string;
}

/** Realistic status, code, type and message per kind (OpenAI's shapes, Anthropic's for 529). */
const SHAPES: Readonly<Record<ErrorKind, KindShape>> = {
  rate_limit: {
    status: 429,
    code: 'rate_limit_exceeded',
    type: 'requests',
    message: (m) => `Rate limit reached for ${m} on requests per min`,
  },
  quota: {
    status: 429,
    code: 'insufficient_quota',
    type: 'insufficient_quota',
    message: () => 'You exceeded your current quota, please check your plan and billing details',
  },
  overloaded: { status: 529, code: 'overloaded_error', type: 'overloaded_error', message: () => 'Overloaded' },
  server: { status: 500, code: 'server_error', type: 'server_error', message: () => 'The server had an error while processing your request' },
  timeout: { status: 408, code: 'request_timeout', type: 'timeout_error', message: () => 'Request timed out' },
  connection: { code: 'ECONNRESET', message: () => 'socket hang up' },
  auth: { status: 401, code: 'invalid_api_key', type: 'invalid_request_error', message: () => 'Incorrect API key provided' },
  not_found: {
    status: 404,
    code: 'model_not_found',
    type: 'invalid_request_error',
    message: (m) => `The model \`${m}\` does not exist or you do not have access to it`,
  },
  context_length: {
    status: 400,
    code: 'context_length_exceeded',
    type: 'invalid_request_error',
    message: (m) => `This model's maximum context length was exceeded (${m})`,
  },
  content_filter: {
    status: 400,
    code: 'content_policy_violation',
    type: 'invalid_request_error',
    message: () => 'Your request was rejected as a result of our safety system',
  },
  invalid_request: {
    status: 400,
    code: 'invalid_request_error',
    type: 'invalid_request_error',
    message: () => 'Invalid request',
  },
  aborted: { message: () => 'request aborted' },
};

/**
 * The {@link LlmError} a simulated provider answers with for an injected `kind`: the status,
 * code and type a real provider would send (429 `rate_limit_exceeded` with `retryAfterMs`, 429
 * `insufficient_quota`, 529 `overloaded_error`, 500, 408, 401, 404 `model_not_found`, 400
 * `context_length_exceeded` / `content_policy_violation` / `invalid_request_error`; `connection`
 * is an `ECONNRESET` without status). The message says it was simulated.
 */
export function simulatedError(kind: ErrorKind, context: SimulatedErrorContext): LlmError {
  const { provider, model } = context;
  const shape = SHAPES[kind];
  const text = `${context.message ?? shape.message(model)} (simulated)`;
  if (kind === 'connection') {
    return connectionError(Object.assign(new Error(text), { code: shape.code }), { provider, model });
  }
  if (kind === 'aborted') return abortedError(text, { provider, model });
  const status = context.midStream ? undefined : (context.status ?? shape.status);
  const where = status === undefined ? `${provider} stream error` : `${provider} HTTP ${status}`;
  const code = context.code ?? shape.code;
  return new LlmError({
    kind,
    message: `${where} (${code}): ${text}`,
    status,
    provider,
    model,
    code,
    type: context.type ?? shape.type,
    retryAfterMs: context.retryAfterMs,
    rateLimit: context.rateLimit,
  });
}

/** The error of a stream cut after it started (no terminal event): kind `connection`, code `stream_truncated`. */
export function simulatedCut(provider: string, model: string, midStream: boolean): LlmError {
  return midStream ? truncatedStreamError({ provider, model }) : simulatedError('connection', { provider, model });
}

import type { ErrorKind } from './error-kind.js';
import { DEFAULT_ERROR_ACTIONS } from './error-kind.js';
import type { RateLimitInfo } from './rate-limit-headers.js';
import { redactSecrets } from './redact.js';

const BRAND = Symbol.for('ballast.llm-error');

/** The fields of an {@link LlmError}. */
export interface LlmErrorInit {
  kind: ErrorKind;
  /** Redacted with {@link redactSecrets} before it is stored. */
  message: string;
  /** HTTP status, when the failure was an HTTP response (absent for stream frames, network errors). */
  status?: number;
  /** Provider name, e.g. `openai`. */
  provider?: string;
  model?: string;
  /** How long the provider asked us to wait, in ms (Retry-After, reset headers, RetryInfo, message). */
  retryAfterMs?: number;
  /** The provider's error code (OpenAI `error.code`, Anthropic `details.error_code`, Gemini `ErrorInfo.reason`). */
  code?: string;
  /** The provider's error type (OpenAI / Anthropic `error.type`, Gemini `error.status`). */
  type?: string;
  /** The request field the provider found fault with (OpenAI `error.param`, e.g. `temperature`). */
  param?: string;
  /** `x-request-id` / `request-id` header or body `request_id`. */
  requestId?: string;
  rateLimit?: RateLimitInfo;
  cause?: unknown;
}

/**
 * The one error type every provider throws (and every stream's `error` event carries). The router
 * acts on `kind`; the retry policy reads `retryAfterMs`. The message is always secret-free.
 * Check with {@link isLlmError}, which works across copies of the package.
 */
export class LlmError extends Error {
  readonly [BRAND] = true;
  readonly kind: ErrorKind;
  declare readonly status?: number;
  declare readonly provider?: string;
  declare readonly model?: string;
  declare readonly retryAfterMs?: number;
  declare readonly code?: string;
  declare readonly type?: string;
  declare readonly param?: string;
  declare readonly requestId?: string;
  declare readonly rateLimit?: RateLimitInfo;

  constructor(init: LlmErrorInit) {
    super(redactSecrets(init.message), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LlmError';
    this.kind = init.kind;
    // Optional fields are `declare`d and only set when known, so logs and `toEqual` see no
    // `undefined` noise.
    if (init.status !== undefined) this.status = init.status;
    if (init.provider !== undefined) this.provider = init.provider;
    if (init.model !== undefined) this.model = init.model;
    if (init.retryAfterMs !== undefined && Number.isFinite(init.retryAfterMs) && init.retryAfterMs >= 0) {
      this.retryAfterMs = init.retryAfterMs;
    }
    if (init.code !== undefined) this.code = init.code;
    if (init.type !== undefined) this.type = init.type;
    if (init.param !== undefined) this.param = init.param;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.rateLimit !== undefined) this.rateLimit = init.rateLimit;
  }

  /** Whether the default action retries on the same target (DESIGN.md table). */
  get retryable(): boolean {
    return DEFAULT_ERROR_ACTIONS[this.kind].retrySameTarget;
  }

  /** A plain, secret-free summary for logs, events and `/status` (no `cause`, no stack). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, kind: this.kind, message: this.message };
    for (const key of ['status', 'provider', 'model', 'retryAfterMs', 'code', 'type', 'param', 'requestId'] as const) {
      if (this[key] !== undefined) out[key] = this[key];
    }
    return out;
  }
}

/** True when `error` is an {@link LlmError} (optionally of the given kind), across package copies. */
export function isLlmError(error: unknown, kind?: ErrorKind): error is LlmError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (kind === undefined || (error as LlmError).kind === kind)
  );
}

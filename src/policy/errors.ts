const BRAND = Symbol.for('ballast.policy-error');

/** The codes carried by errors the policies throw themselves. */
export type PolicyErrorCode =
  | 'circuit_open'
  | 'circuit_isolated'
  | 'timeout'
  | 'bulkhead_full'
  | 'rate_limited'
  | 'all_attempts_failed';

/** Base of every error a policy throws on its own account; check with {@link isPolicyError}. */
export class PolicyError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PolicyError';
  }
}

/** True when `error` is a {@link PolicyError} (optionally of the given code), across package copies. */
export function isPolicyError(error: unknown, code?: PolicyErrorCode): error is PolicyError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as PolicyError).code === code)
  );
}

/** Thrown when a call reaches an open circuit. `retryAfterMs` is the time until it half-opens. */
export class BrokenCircuitError extends PolicyError {
  constructor(readonly retryAfterMs: number) {
    super('circuit_open', `circuit is open; next probe in ${Math.max(0, Math.round(retryAfterMs))}ms`);
    this.name = 'BrokenCircuitError';
  }
}

/** Thrown when a call reaches a circuit that was isolated by hand. */
export class IsolatedCircuitError extends PolicyError {
  constructor() {
    super('circuit_isolated', 'circuit is isolated');
    this.name = 'IsolatedCircuitError';
  }
}

/** Thrown (and used as the abort reason) when an attempt timeout or the total deadline passes. */
export class TimeoutError extends PolicyError {
  constructor(
    readonly scope: 'attempt' | 'deadline',
    readonly timeoutMs: number,
  ) {
    super('timeout', scope === 'deadline' ? `deadline of ${timeoutMs}ms exceeded` : `attempt timed out after ${timeoutMs}ms`);
    this.name = 'TimeoutError';
  }
}

/** Thrown when a bulkhead's slots and queue are full. */
export class BulkheadRejectedError extends PolicyError {
  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {
    super('bulkhead_full', `bulkhead is full (${concurrency} running, ${queue} queued)`);
    this.name = 'BulkheadRejectedError';
  }
}

/** Thrown by a rate limiter in reject mode, or when the wait would pass the deadline. */
export class RateLimitedError extends PolicyError {
  constructor(readonly retryAfterMs: number) {
    super('rate_limited', `rate limit reached; capacity in ${Math.round(retryAfterMs)}ms`);
    this.name = 'RateLimitedError';
  }
}

/** Thrown when every attempt of a hedge (or similar) failed; `errors` holds each in start order. */
export class AllAttemptsFailedError extends PolicyError {
  constructor(readonly errors: readonly unknown[]) {
    super(
      'all_attempts_failed',
      `all ${errors.length} attempts failed: ${errors.map((e, i) => `#${i + 1} ${e instanceof Error ? e.message : String(e)}`).join('; ')}`,
      { cause: errors[errors.length - 1] },
    );
    this.name = 'AllAttemptsFailedError';
  }
}

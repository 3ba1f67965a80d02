import type { ExecuteOptions, Operation } from './context.js';

/**
 * A resilience policy: runs an operation under some rule (retry, timeout, breaker, …).
 * Pass a parent's context as `options` to nest policies by hand, or compose them with `pipeline`.
 */
export interface Policy {
  /** Runs `operation` under this policy, starting from the caller's (or a parent policy's) context. */
  execute<T>(operation: Operation<T>, options?: ExecuteOptions): Promise<T>;
}

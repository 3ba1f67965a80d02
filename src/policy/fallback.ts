import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { createEmitter, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';

/** Computes the fallback from the error that caused it (and the caller's context). */
export type FallbackHandler<R> = (error: unknown, ctx: PolicyContext) => R | Promise<R>;

/** Options of {@link fallback}. */
export interface FallbackOptions {
  /** Falls back only when this returns `true`. Default: on every error (never on the caller's own abort). */
  when?: (error: unknown, ctx: PolicyContext) => boolean;
}

/** Emitted when the operation failed and the alternative is used. */
export interface FallbackEvent {
  readonly error: unknown;
}

/**
 * A policy whose result may come from its alternative: `execute` resolves to the operation's
 * `T` or the alternative's `R`. With a `Policy` alternative `R` is `never`, so it is a plain {@link Policy}.
 */
export interface FallbackPolicy<R> {
  execute<T>(operation: Operation<T>, options?: ExecuteOptions): Promise<T | R>;
  readonly onFallback: EventSubscriber<FallbackEvent>;
}

/** Runs the same operation again under `alternative` (e.g. a slower, more patient retry) when it fails. */
export function fallback(alternative: Policy, options?: FallbackOptions): FallbackPolicy<never>;
/** Calls `alternative(error, ctx)` when the operation fails and returns what it returns. */
export function fallback<R>(alternative: FallbackHandler<R>, options?: FallbackOptions): FallbackPolicy<R>;
/** Returns `alternative` when the operation fails. (To fall back to a function value, wrap it: `() => fn`.) */
export function fallback<R>(alternative: R, options?: FallbackOptions): FallbackPolicy<R>;
/**
 * When the operation fails (and `when(error)` agrees), answers with `alternative` instead: a
 * value, a {@link FallbackHandler}, or another {@link Policy} that runs the operation again.
 * The caller's own abort is never fallen back on. An error of the alternative itself propagates.
 */
export function fallback<R>(alternative: R | FallbackHandler<R> | Policy, options: FallbackOptions = {}): FallbackPolicy<R> {
  const { when } = options;
  const fallbacks = createEmitter<FallbackEvent>();
  const answer = resolveAlternative(alternative);

  return {
    onFallback: fallbacks.on,
    async execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T | R> {
      const ctx = toContext(executeOptions);
      try {
        return await operation(ctx);
      } catch (error) {
        if (ctx.signal.aborted || (when && !when(error, ctx))) throw error;
        if (fallbacks.active) fallbacks.emit({ error });
        return answer(error, ctx, operation);
      }
    },
  };
}

type Answer<R> = <T>(error: unknown, ctx: PolicyContext, operation: Operation<T>) => T | R | Promise<T | R>;

function resolveAlternative<R>(alternative: R | FallbackHandler<R> | Policy): Answer<R> {
  if (typeof alternative === 'function') {
    const handler = alternative as FallbackHandler<R>;
    return (error, ctx) => handler(error, ctx);
  }
  if (isPolicy(alternative)) return (_error, ctx, operation) => alternative.execute(operation, ctx);
  const value = alternative as R;
  return () => value;
}

function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && typeof (value as { execute?: unknown }).execute === 'function';
}

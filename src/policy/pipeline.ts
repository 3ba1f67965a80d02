import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import type { FallbackPolicy } from './fallback.js';

/**
 * What {@link pipeline} composes: any `Policy` (`R = never`), or a policy that may answer
 * with a value of another type `R` instead of the operation's — a `fallback` to a value or a
 * handler, or a pipeline holding one.
 */
export interface Composable<R = never> {
  execute<T>(operation: Operation<T>, options?: ExecuteOptions): Promise<T | R>;
}

/** The type a composable may answer with besides the operation's own: `R` of a `fallback` or a {@link Pipeline}, else `never`. */
export type AnswerOf<P> = P extends FallbackPolicy<infer R> ? R : P extends Pipeline<infer R> ? R : never;

/**
 * Policies composed in order, outermost first. `R` is what its fallbacks may answer with
 * (`never` when it holds none: then it is a plain `Policy` and nests like one).
 */
export interface Pipeline<R = never> extends Composable<R> {
  readonly policies: ReadonlyArray<Composable<unknown>>;
}

/**
 * Composes policies, outermost first: `pipeline(deadline('60s'), retry(...), breaker, timeout('10s'))`
 * runs the retry inside the deadline, and each attempt through the breaker and its own timeout.
 * One signal and one context flow from the outside in. The result is typed: with
 * `pipeline(fallback('sorry'), retry())`, `execute(op)` resolves to `T | string`.
 */
export function pipeline<P extends Array<Composable<unknown>>>(...policies: P): Pipeline<AnswerOf<P[number]>> {
  const list: ReadonlyArray<Composable<unknown>> = [...policies];
  return {
    policies: list,
    execute<T>(operation: Operation<T>, options?: ExecuteOptions): Promise<T> {
      // Never throws synchronously: every policy (built-in or not) gets a promise to handle.
      const step = (index: number, ctx: PolicyContext): Promise<T> => {
        try {
          const policy = list[index];
          if (!policy) return Promise.resolve(operation(ctx));
          // A fallback's answer flows outwards like a result: the types above say so.
          return policy.execute((inner) => step(index + 1, inner), ctx) as Promise<T>;
        } catch (error) {
          return Promise.reject(error);
        }
      };
      return step(0, toContext(options));
    },
  };
}

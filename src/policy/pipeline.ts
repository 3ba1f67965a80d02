import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import type { Policy } from './policy.js';

/** Policies composed in order, outermost first. */
export interface Pipeline extends Policy {
  readonly policies: readonly Policy[];
}

/**
 * Composes policies, outermost first: `pipeline(deadline('60s'), retry(...), breaker, timeout('10s'))`
 * runs the retry inside the deadline, and each attempt through the breaker and its own timeout.
 * One signal and one context flow from the outside in.
 */
export function pipeline(...policies: Policy[]): Pipeline {
  const list = [...policies];
  return {
    policies: list,
    execute<T>(operation: Operation<T>, options?: ExecuteOptions): Promise<T> {
      const step = (index: number, ctx: PolicyContext): Promise<T> => {
        const policy = list[index];
        if (!policy) return Promise.resolve(operation(ctx));
        return policy.execute((inner) => step(index + 1, inner), ctx);
      };
      try {
        return step(0, toContext(options));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

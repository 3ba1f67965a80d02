import { abortedError, classifyThrown, timeoutError } from '../llm/classify.js';
import { LlmError, isLlmError } from '../llm/llm-error.js';
import { isPolicyError, type BrokenCircuitError, type TimeoutError } from '../policy/errors.js';
import { HedgeLostError } from '../policy/hedge.js';
import type { Target } from './target.js';

/** Turns whatever an attempt threw (provider errors, policy errors, aborts) into an `LlmError`. */
export function toLlmError(error: unknown, target: Target): LlmError {
  if (isLlmError(error)) return error;
  const context = { provider: target.provider.name, model: target.model };
  if (isPolicyError(error, 'timeout')) {
    const timeout = error as TimeoutError;
    return timeoutError(timeout.scope, { ...context, timeoutMs: timeout.timeoutMs, cause: error });
  }
  if (isPolicyError(error, 'circuit_open') || isPolicyError(error, 'circuit_isolated')) {
    return new LlmError({
      kind: 'overloaded',
      code: 'circuit_open',
      message: `circuit breaker of ${target.id} is ${error.code === 'circuit_open' ? 'open' : 'isolated'}`,
      retryAfterMs: error.code === 'circuit_open' ? (error as BrokenCircuitError).retryAfterMs : undefined,
      ...context,
      cause: error,
    });
  }
  // A hedge lane that lost (or was stopped because the call ended) was aborted by the router itself.
  if (error instanceof HedgeLostError) return abortedError(error, context);
  return classifyThrown(error, context);
}

import type { CircuitBreakerPolicy, CircuitOutcome, CircuitTicket } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import type { PolicyContext } from '../policy/context.js';

/** Committed streams whose breaker outcome is still open, with what settles it. */
const pending = new WeakMap<object, (outcome: CircuitOutcome) => void>();

/**
 * Opens a stream under the target's breaker without settling at the commit point: a stream that
 * fails after its first token is a failure of the target too (a target that cuts every stream
 * must trip its breaker). The outcome waits for {@link settleStream}; whether it was slow is
 * judged on the time to commit, not on the length of the answer.
 */
export async function openUnderBreaker<T>(breaker: CircuitBreakerPolicy, open: (ctx: PolicyContext) => Promise<T>, ctx: PolicyContext, clock: Clock): Promise<T> {
  const ticket: CircuitTicket = breaker.acquire(ctx);
  const startedAt = clock.now();
  let value: T;
  try {
    value = await open(ctx);
  } catch (error) {
    ticket.settle({ error });
    throw error;
  }
  const commitMs = clock.now() - startedAt;
  // A half-open probe's slot is free from the commit on: a long answer, or one the consumer
  // abandons without a word, must not hold back the next probes.
  ticket.release();
  if (typeof value === 'object' && value !== null) pending.set(value, (outcome) => ticket.settle(outcome, commitMs));
  else ticket.settle('success', commitMs);
  return value;
}

/** Tells the breaker how a committed stream ended: only the first outcome counts. */
export function settleStream(stream: object, outcome: CircuitOutcome): void {
  const settle = pending.get(stream);
  if (!settle) return;
  pending.delete(stream);
  settle(outcome);
}

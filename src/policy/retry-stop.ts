import { toMs, type Duration } from './duration.js';

/** What a {@link StopCondition} sees after a retryable failure, before the retry sleeps. */
export interface StopInfo {
  /** Attempts made so far (1-based: 1 after the first attempt failed). */
  readonly attempt: number;
  /** Milliseconds since the retry started. */
  readonly elapsed: number;
  /** The delay the retry would sleep before the next attempt. */
  readonly delay: number;
}

/** Decides whether to give up instead of retrying: `true` means stop. */
export type StopCondition = (info: StopInfo) => boolean;

/** Stops once `attempts` attempts have been made (first attempt included): `stopAfterAttempts(3)` retries twice. */
export function stopAfterAttempts(attempts: number): StopCondition {
  if (!(attempts >= 1) || (!Number.isInteger(attempts) && attempts !== Infinity)) {
    throw new RangeError(`stopAfterAttempts: attempts must be an integer >= 1, got ${attempts}`);
  }
  return (info) => info.attempt >= attempts;
}

/** Stops once `limit` has passed since the retry started (checked after each failure). */
export function stopAfterElapsed(limit: Duration): StopCondition {
  const ms = toMs(limit);
  return (info) => info.elapsed >= ms;
}

/**
 * Stops when the next sleep would end after `limit` since the retry started, so the retry never
 * sleeps past it (tenacity's `stop_before_delay`).
 */
export function stopBeforeElapsed(limit: Duration): StopCondition {
  const ms = toMs(limit);
  return (info) => info.elapsed + info.delay >= ms;
}

/** Never stops (combine it with a deadline, a budget or a non-retryable condition). */
export const stopNever: StopCondition = () => false;

/** Stops when any condition says stop (`a or b`). */
export function stopAny(...conditions: StopCondition[]): StopCondition {
  nonEmpty('stopAny', conditions);
  return (info) => {
    for (const condition of conditions) if (condition(info)) return true;
    return false;
  };
}

/** Stops only when every condition says stop (`a and b`). */
export function stopAll(...conditions: StopCondition[]): StopCondition {
  nonEmpty('stopAll', conditions);
  return (info) => {
    for (const condition of conditions) if (!condition(info)) return false;
    return true;
  };
}

function nonEmpty(name: string, conditions: readonly StopCondition[]): void {
  if (conditions.length === 0) throw new RangeError(`${name}: needs at least one condition`);
}

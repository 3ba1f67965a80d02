import type { LlmError } from '../llm/llm-error.js';
import type { Clock } from '../policy/clock.js';
import { TimeoutError } from '../policy/errors.js';
import { NEVER_ABORTED } from '../policy/context.js';
import { AllTargetsFailedError } from './all-targets-failed.js';
import type { AttemptRecord } from './attempt-record.js';

/** One call's signal (the caller's abort and the total deadline) and its timing. */
export interface CallScope {
  callerSignal: AbortSignal;
  /** Aborts with the caller's reason, or with a `TimeoutError('deadline')` when the total deadline passes. */
  signal: AbortSignal;
  start: number;
  deadline: number;
  /** Releases the deadline timer and the listener on the caller's signal. */
  end: () => void;
}

/** Opens the scope of one routed call. */
export function openCallScope(clock: Clock, callerSignal: AbortSignal, totalMs: number | undefined): CallScope {
  const start = clock.now();
  // Nothing can abort the call: no controller needed (it costs more than the rest of the scope).
  // A caller's signal always gets one of its own, even without a deadline: providers hang their
  // listeners on the scope's signal (fetch leaves them until GC), never on a long-lived app signal.
  if (totalMs === undefined && callerSignal === NEVER_ABORTED) {
    return { callerSignal, signal: NEVER_ABORTED, start, deadline: Infinity, end: noop };
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort(callerSignal.reason);
  if (callerSignal.aborted) controller.abort(callerSignal.reason);
  else callerSignal.addEventListener('abort', onAbort, { once: true });
  const cancelDeadline =
    totalMs === undefined ? () => {} : clock.setTimer(totalMs, () => controller.abort(new TimeoutError('deadline', totalMs)));
  return {
    callerSignal,
    signal: controller.signal,
    start,
    deadline: totalMs === undefined ? Infinity : start + totalMs,
    end: () => {
      cancelDeadline();
      callerSignal.removeEventListener('abort', onAbort);
    },
  };
}

/** The error a failed call ends with: the walk's own, an abort, or everything tried so far. */
export function asFinalError(thrown: unknown, attempts: readonly AttemptRecord[], now: number): LlmError {
  if (thrown instanceof AllTargetsFailedError) return thrown;
  if (thrown instanceof Error && 'kind' in thrown && (thrown as LlmError).kind === 'aborted') return thrown as LlmError;
  return new AllTargetsFailedError(attempts, { now, cause: thrown });
}

const noop = () => {};

import { realClock, type Clock } from './clock.js';
import { NEVER_ABORTED, toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { TimeoutError } from './errors.js';
import { createEmitter, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';
import { toMs, type Duration } from './duration.js';

/**
 * `cooperative`: the operation's signal aborts when time is up (or the caller aborts) and the
 * policy waits for the operation to settle (it must honour the signal). `aggressive`: the policy
 * also rejects at once — with the `TimeoutError`, or with the caller's reason when the caller
 * aborted — whether or not the operation stops.
 */
export type TimeoutMode = 'cooperative' | 'aggressive';

/** Options of {@link timeout} and {@link deadline}. */
export interface TimeoutOptions {
  /** Defaults to `'aggressive'`: a stuck operation must never hold the caller past its time. */
  mode?: TimeoutMode;
  /** Source of time and timers; default the real clock. */
  clock?: Clock;
}

/** Emitted when a timeout or deadline passes. */
export interface TimeoutEvent {
  scope: 'attempt' | 'deadline';
  timeoutMs: number;
}

/** A policy that bounds how long an operation may run. */
export interface TimeoutPolicy extends Policy {
  /** When time runs out (not when the caller aborts first). */
  readonly onTimeout: EventSubscriber<TimeoutEvent>;
}

/**
 * A per-attempt timeout. The operation's `ctx.signal` aborts with a {@link TimeoutError}
 * after `duration` (or at the enclosing deadline, if that comes first).
 */
export function timeout(duration: Duration, options: TimeoutOptions = {}): TimeoutPolicy {
  return createTimeout('attempt', toMs(duration), options);
}

/**
 * A total deadline: sets `ctx.deadline` for everything inside (retries stop waiting when it
 * cannot be met) and aborts the work with a {@link TimeoutError} when it passes.
 */
export function deadline(duration: Duration, options: TimeoutOptions = {}): TimeoutPolicy {
  return createTimeout('deadline', toMs(duration), options);
}

function createTimeout(scope: 'attempt' | 'deadline', ms: number, options: TimeoutOptions): TimeoutPolicy {
  const clock = options.clock ?? realClock;
  const aggressive = (options.mode ?? 'aggressive') === 'aggressive';
  const timeouts = createEmitter<TimeoutEvent>();

  return {
    onTimeout: timeouts.on,
    execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T> {
      const parent = toContext(executeOptions);
      const now = clock.now();
      const ownEnd = now + ms;
      // The enclosing deadline wins when it is sooner; the error then names the deadline.
      const byDeadline = parent.deadline < ownEnd;
      const end = byDeadline ? parent.deadline : ownEnd;
      // Built only when time is up: an Error captures a stack, which costs more than the whole policy.
      const makeReason = () => (byDeadline ? new TimeoutError('deadline', parent.deadline - now) : new TimeoutError(scope, ms));
      if (end <= now) {
        const reason = makeReason();
        if (timeouts.active) timeouts.emit({ scope: reason.scope, timeoutMs: reason.timeoutMs });
        return Promise.reject(reason);
      }
      return run(operation, parent, now, end, makeReason);
    },
  };

  function run<T>(operation: Operation<T>, parent: PolicyContext, now: number, end: number, makeReason: () => TimeoutError): Promise<T> {
    const parentSignal = parent.signal;
    if (parentSignal.aborted) return Promise.reject(parentSignal.reason);
    // The controller is made only when the operation reads `ctx.signal`: an AbortController costs
    // more than the rest of the policy together, and many operations never look at it.
    let controller: AbortController | undefined;
    let abortedWith: unknown;
    let aborted = false;
    const abort = (why: unknown) => {
      if (aborted) return;
      aborted = true;
      abortedWith = why;
      controller?.abort(why);
    };
    const linked = parentSignal !== NEVER_ABORTED;
    const ctx: PolicyContext = {
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (aborted) controller.abort(abortedWith);
        }
        return controller.signal;
      },
      attempt: parent.attempt,
      deadline: scope === 'deadline' ? end : parent.deadline,
      elapsed: parent.elapsed,
    };

    return new Promise<T>((resolve, reject) => {
      let reason: TimeoutError | undefined;
      let settled = false;
      const cleanup = () => {
        settled = true;
        cancelTimer();
        if (linked) parentSignal.removeEventListener('abort', onParentAbort);
      };
      const cancelTimer = clock.setTimer(end - now, () => {
        reason = makeReason();
        abort(reason);
        if (timeouts.active) timeouts.emit({ scope: reason.scope, timeoutMs: reason.timeoutMs });
        if (aggressive && !settled) {
          cleanup();
          reject(reason);
        }
      });
      // The caller gave up: time can no longer run out on this call (no timeout event, no
      // TimeoutError in place of the caller's reason), and an aggressive policy stops waiting.
      const onParentAbort = () => {
        cancelTimer();
        abort(parentSignal.reason);
        if (aggressive && !settled) {
          cleanup();
          reject(parentSignal.reason);
        }
      };
      if (linked) parentSignal.addEventListener('abort', onParentAbort, { once: true });
      let result: Promise<T> | T;
      try {
        result = operation(ctx);
      } catch (error) {
        cleanup();
        reject(error);
        return;
      }
      Promise.resolve(result).then(
        (value) => {
          if (settled) return;
          cleanup();
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          cleanup();
          reject(reason && !parentSignal.aborted ? reason : error);
        },
      );
    });
  }
}

import { NEVER_ABORTED } from './context.js';
import type { Dispose } from './events.js';

/**
 * The source of time for every time-dependent piece. Production uses {@link realClock};
 * tests and the simulator use a virtual clock so that an hour passes in milliseconds.
 */
export interface Clock {
  /** Current time in milliseconds (epoch-based for the real clock). */
  now(): number;
  /** Calls `fn` after `ms` milliseconds (never when `ms` is `Infinity`); the returned function cancels it. */
  setTimer(ms: number, fn: () => void): Dispose;
  /** Resolves after `ms`; rejects at once with `signal.reason` when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Builds an abortable `sleep` from a clock's `setTimer`. */
export function sleepWith(setTimer: Clock['setTimer']): Clock['sleep'] {
  return (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // A signal that can never abort needs no listener (a shared one would collect them).
      if (!signal || signal === NEVER_ABORTED) {
        setTimer(ms, resolve);
        return;
      }
      const onAbort = () => {
        cancel();
        reject(signal.reason);
      };
      const cancel = setTimer(ms, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

/** The longest delay a Node (or browser) timer holds; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const never: Dispose = () => {};

function setRealTimer(ms: number, fn: () => void): Dispose {
  if (ms === Infinity) return never;
  if (!(ms > MAX_TIMER_MS)) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  }
  // Longer delays (about 24.8 days and up) are slept in legs.
  let handle: ReturnType<typeof setTimeout>;
  const arm = (left: number): void => {
    handle = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left);
  };
  arm(ms);
  return () => clearTimeout(handle);
}

/** Wall-clock time and Node timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: setRealTimer,
  sleep: sleepWith(setRealTimer),
};

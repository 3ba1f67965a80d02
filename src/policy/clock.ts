import type { Dispose } from './events.js';

/**
 * The source of time for every time-dependent piece. Production uses {@link realClock};
 * tests and the simulator use a virtual clock so that an hour passes in milliseconds.
 */
export interface Clock {
  /** Current time in milliseconds (epoch-based for the real clock). */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; the returned function cancels it. */
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
      if (!signal) {
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

function setRealTimer(ms: number, fn: () => void): Dispose {
  const handle = setTimeout(fn, Math.max(0, ms));
  return () => clearTimeout(handle);
}

/** Wall-clock time and Node timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: setRealTimer,
  sleep: sleepWith(setRealTimer),
};

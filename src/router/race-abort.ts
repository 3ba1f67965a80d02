import { NEVER_ABORTED } from '../policy/context.js';

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts, so an
 * operation that ignores its signal cannot hold a call past its deadline or a lost hedge.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // Nothing to race against: no listener on the shared never-aborted signal.
  if (signal === NEVER_ABORTED) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

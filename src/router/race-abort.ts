/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts, so an
 * operation that ignores its signal cannot hold a call past its deadline or a lost hedge.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

/**
 * {@link raceAbort} for a sequence of reads under one signal (the events of one stream): one abort
 * listener for the whole sequence instead of one added and removed per read. Reads must not
 * overlap: each call replaces the pending one.
 */
export function sequentialAbortRace(signal: AbortSignal): <T>(promise: Promise<T>) => Promise<T> {
  let rejectPending: ((reason: unknown) => void) | undefined;
  let listening = false;
  return <T>(promise: Promise<T>): Promise<T> => {
    if (signal.aborted) {
      promise.catch(() => {});
      return Promise.reject(signal.reason);
    }
    if (!listening) {
      listening = true;
      signal.addEventListener('abort', () => rejectPending?.(signal.reason), { once: true });
    }
    return new Promise<T>((resolve, reject) => {
      rejectPending = reject;
      promise.then(
        (value) => {
          rejectPending = undefined;
          resolve(value);
        },
        (error: unknown) => {
          rejectPending = undefined;
          reject(error);
        },
      );
    });
  };
}

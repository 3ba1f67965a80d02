/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Dispose = () => void;

/** Subscribes a listener to one kind of event: `policy.onRetry((e) => …)` returns a {@link Dispose}. */
export type EventSubscriber<T> = (listener: (event: T) => void) => Dispose;

/** A tiny synchronous event channel. `emit` costs nothing when nobody listens. */
export interface Emitter<T> {
  /** Adds a listener; returns the function that removes it. */
  readonly on: EventSubscriber<T>;
  /**
   * Calls every listener in subscription order. A throwing listener never breaks the caller, and
   * neither does one returning a promise that rejects: both are logged.
   */
  emit(event: T): void;
  /** True when at least one listener is subscribed (lets callers skip building events). */
  readonly active: boolean;
}

/** Creates an {@link Emitter}. */
export function createEmitter<T>(): Emitter<T> {
  let listeners: Array<(event: T) => void> = [];
  return {
    on(listener) {
      // Each subscription is its own entry, so disposing one of two subscriptions of the same
      // function keeps the other.
      const entry = (event: T) => listener(event);
      listeners = [...listeners, entry];
      let done = false;
      return () => {
        if (done) return;
        done = true;
        listeners = listeners.filter((l) => l !== entry);
      };
    },
    emit(event) {
      const current = listeners;
      for (let i = 0; i < current.length; i++) {
        try {
          // Typed as returning void, but an async listener returns a promise: catch its rejection.
          const result: unknown = current[i]!(event);
          if (isThenable(result)) result.then(undefined, reportListenerError);
        } catch (error) {
          reportListenerError(error);
        }
      }
    },
    get active() {
      return listeners.length > 0;
    },
  };
}

/** Logs an error thrown (or rejected) by a listener; it never reaches the emitter's caller. */
function reportListenerError(error: unknown): void {
  console.error('ballast: an event listener threw', error);
}

/** True for a promise or any object with a callable `then`. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

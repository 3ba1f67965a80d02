import type { Dispose } from './events.js';
import type { JsonValue } from './state-store.js';

/** The per-key subscribers of a {@link StateStore} implementation. */
export interface KeyListeners {
  /** Tells every subscriber of `key`; one that throws does not keep the others from hearing. */
  notify(key: string, value: JsonValue | undefined): void;
  subscribe(key: string, listener: (value: JsonValue | undefined) => void): Dispose;
}

/** Creates the subscriber registry stores share. */
export function createKeyListeners(): KeyListeners {
  const listeners = new Map<string, Set<(value: JsonValue | undefined) => void>>();
  return {
    notify(key, value) {
      const set = listeners.get(key);
      if (!set) return;
      for (const listener of [...set]) {
        try {
          listener(value);
        } catch {
          // A subscriber's own bug is its own: the write and the other subscribers go on.
        }
      }
    },
    subscribe(key, listener) {
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
      };
    },
  };
}

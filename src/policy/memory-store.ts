import { realClock, type Clock } from './clock.js';
import { createKeyListeners } from './key-listeners.js';
import type { JsonValue, StateStore } from './state-store.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock used for expiry; defaults to the real clock. */
  clock?: Clock;
}

interface Entry {
  value: JsonValue;
  expiresAt: number;
}

/**
 * An in-process {@link StateStore}. Everything sharing one store instance sees the same state,
 * and every write is pushed to the key's subscribers (the writer's own included).
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): StateStore {
  const clock = options.clock ?? realClock;
  const entries = new Map<string, Entry>();
  const { notify, subscribe } = createKeyListeners();

  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= clock.now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : clock.now() + ttlMs });
      notify(key, value);
    },
    delete(key) {
      if (entries.delete(key)) notify(key, undefined);
    },
    subscribe,
  };
}

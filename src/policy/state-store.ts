import type { Dispose } from './events.js';

/** A JSON-serializable value, as kept by a {@link StateStore}. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Where shared state (breaker states, cooldowns, rate-limit windows, health) lives.
 * Reads are synchronous from the local view, so the hot path never waits on a network;
 * a distributed store (Redis) writes through and pushes other replicas' changes to `subscribe`.
 */
export interface StateStore {
  /** The current value under `key` in this process's view. */
  get(key: string): JsonValue | undefined;
  /** Stores `value`, optionally expiring after `ttlMs`. Subscribers of the key are told. */
  set(key: string, value: JsonValue, ttlMs?: number): void;
  /** Removes `key`. Subscribers are told with `undefined`. */
  delete(key: string): void;
  /** Calls `listener` whenever the value under `key` changes (from any writer). */
  subscribe(key: string, listener: (value: JsonValue | undefined) => void): Dispose;
  /** How a shared store is doing (for `/status` and logs); a local store need not say. */
  health?(): StoreHealth;
  /**
   * The prefix every key must start with to be shared (a Redis store shares only keys under its
   * own); routers on this store use it as their default `keyPrefix`.
   */
  readonly keyPrefix?: string;
}

/** What a shared store reports about itself. Never holds a secret. */
export interface StoreHealth {
  type: string;
  /** Where it lives, without credentials (`redis://127.0.0.1:6379`). */
  url?: string;
  /** True while it is connected and in step with the other replicas. */
  connected: boolean;
  /** ISO time of the last change of `connected`. */
  since: string;
  /** Keys in this process's view. */
  keys: number;
  /** The last error, with credentials removed. */
  lastError?: string;
}

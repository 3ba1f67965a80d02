import { redactSecrets } from '../llm/redact.js';
import type { Clock } from '../policy/clock.js';
import { createMemoryStore } from '../policy/memory-store.js';
import type { StateStore, StoreHealth } from '../policy/state-store.js';
import { createRedisStore, safeRedisUrl } from '../store/redis-store.js';
import type { StoreConfig } from './config-schema.js';
import type { Logger } from './logger.js';

/** The store a gateway built from its config's `store` section, with what it takes to start and stop it. */
export interface ConfiguredStore {
  readonly store: StateStore;
  /** Settles once the store can serve: at once for memory; for Redis once connected and loaded, or failed. Never rejects. */
  readonly ready: Promise<void>;
  /** Stops the store (its connections); later health changes are not logged. */
  close(): Promise<void>;
}

/** What `/status` shows of a store: its own health when it reports one, else `{ type: 'memory' }`. */
export type StoreStatus = StoreHealth | { type: 'memory' };

/**
 * Builds the store the config names. A Redis store logs one line when its connection comes
 * (info) or goes (warn), without credentials; it never throws, and a request never waits on it.
 */
export function createConfiguredStore(config: StoreConfig, options: { clock: Clock; logger: Logger }): ConfiguredStore {
  const { clock, logger } = options;
  if (config.type === 'memory') return { store: createMemoryStore({ clock }), ready: Promise.resolve(), close: () => Promise.resolve() };

  let closing = false;
  // undefined while the first connection is being made: not being connected yet is no news.
  let connected: boolean | undefined;
  const store = createRedisStore({
    url: config.url,
    prefix: config.prefix,
    clock,
    onHealth: (health) => {
      if (closing || health.connected === connected) return;
      if (!health.connected && connected === undefined && health.lastError === undefined) return;
      connected = health.connected;
      const fields = { store: health.type, url: health.url, ...(health.lastError !== undefined && !health.connected && { error: health.lastError }) };
      if (health.connected) logger.info('state store connected: breaker states and cooldowns are shared with the other replicas', fields);
      else logger.warn('state store not connected: this replica goes on with its own breaker states and cooldowns, and keeps reconnecting', fields);
    },
  });
  return {
    store,
    ready: store.ready,
    close: () => {
      closing = true;
      return store.close();
    },
  };
}

/** The prefix of the routers' keys: the Redis store only shares keys under its own prefix. */
export function storeKeyPrefix(config: StoreConfig): string {
  return config.type === 'redis' ? config.prefix : 'ballast:';
}

/** `memory`, or `redis redis://host:port (prefix ballast:)`: the store section without credentials. */
export function describeStoreConfig(config: StoreConfig): string {
  return config.type === 'redis' ? `redis ${safeRedisUrl(config.url)} (prefix ${config.prefix})` : 'memory';
}

/** `memory`, or `redis redis://host:port (connected | NOT connected: reason)`: a running store, without credentials. */
export function describeStore(store: StateStore): string {
  const health = store.health?.();
  if (!health) return 'memory';
  const state = health.connected ? 'connected' : `NOT connected: ${health.lastError ?? 'no connection yet'}`;
  // The store keeps secrets out of its health; redacted again all the same, as this goes to a terminal.
  return redactSecrets(`${health.type}${health.url ? ` ${health.url}` : ''} (${state})`);
}

/** The `store` field of `/status`. */
export function storeStatus(store: StateStore): StoreStatus {
  return store.health?.() ?? { type: 'memory' };
}

/** The credentials in the store section (the Redis URL's password, and the URL holding it), for the logger's mask. */
export function storeSecrets(config: StoreConfig): string[] {
  if (config.type !== 'redis') return [];
  try {
    const { password } = new URL(config.url);
    if (!password) return [];
    return [...new Set([config.url, password, safeDecode(password)])];
  } catch {
    return [config.url];
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

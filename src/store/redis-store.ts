import { Redis, type RedisOptions } from 'ioredis';
import { realClock, type Clock } from '../policy/clock.js';
import { createKeyListeners } from '../policy/key-listeners.js';
import type { JsonValue, StateStore, StoreHealth } from '../policy/state-store.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[:password@]host:port[/db]` (or `rediss://`). Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * The keys this store shares: every key it writes must start with it, and a (re)connect loads
   * every key under it. Default `ballast:`, the prefix routers use.
   */
  prefix?: string;
  /** The pub/sub channel that carries changes to the other replicas. Default `<prefix>changes`. */
  channel?: string;
  /** Clock of local expiry; default the real clock. */
  clock?: Clock;
  /** Told when the connection comes or goes (for logs). Never given secrets. */
  onHealth?: (health: StoreHealth) => void;
  /** Extra ioredis options (TLS, timeouts). The store sets its own reconnect and queue options. */
  redis?: Omit<RedisOptions, 'lazyConnect' | 'enableOfflineQueue' | 'autoResubscribe'>;
}

/** A {@link StateStore} shared through Redis, with what a process needs to watch and stop it. */
export interface RedisStore extends StateStore {
  /** Settles once the first connection has loaded the shared state, or has failed (the store then runs on local state). */
  readonly ready: Promise<void>;
  health(): StoreHealth;
  /** Closes both connections. Local reads and writes go on working. */
  close(): Promise<void>;
}

interface Entry {
  value: JsonValue;
  expiresAt: number;
}

/** One change as published on the channel. */
interface Change {
  /** The writing store (a replica never re-applies its own change). */
  o: string;
  k: string;
  /** The value; absent for a delete. */
  v?: JsonValue;
  /** Milliseconds to live, when the write had one. */
  t?: number;
}

const RECONNECT_MAX_MS = 5_000;

/**
 * A {@link StateStore} for several gateway replicas: breaker states, cooldowns and health live in
 * Redis, and every change is published so the other replicas apply it at once. Reads come from
 * this process's view, so the request path never waits on Redis; writes apply locally first, then
 * go to Redis (`SET` with the TTL, and a `PUBLISH`, in one transaction).
 *
 * If Redis is unreachable the store carries on with local state, says so in {@link RedisStore.health},
 * and reconnects with backoff: a broken store never fails a request. On every (re)connect it loads
 * the shared keys (Redis wins for the keys it holds; breakers compare versions themselves) and
 * writes through what changed here meanwhile.
 */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  const clock = options.clock ?? realClock;
  const prefix = options.prefix ?? 'ballast:';
  const channel = options.channel ?? `${prefix}changes`;
  const origin = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const url = options.url ?? 'redis://127.0.0.1:6379';
  const where = safeRedisUrl(url);

  const entries = new Map<string, Entry>();
  const { notify, subscribe } = createKeyListeners();
  /** Keys written while Redis was unreachable: written through on reconnect. */
  const dirty = new Set<string>();
  let connected = false;
  let synced = false;
  let lastError: string | undefined;
  let changedAt = Date.now();
  let closed = false;

  const connectionOptions: RedisOptions = {
    ...options.redis,
    lazyConnect: true,
    // Fail at once while disconnected: the caller's request must not wait for Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => (closed ? null : Math.min(100 * 2 ** Math.min(times, 6), RECONNECT_MAX_MS)),
  };
  const commands = new Redis(url, connectionOptions);
  const subscriber = new Redis(url, { ...connectionOptions, autoResubscribe: true });

  const health = (): StoreHealth => ({
    type: 'redis',
    url: where,
    connected: connected && synced,
    since: new Date(changedAt).toISOString(),
    keys: entries.size,
    ...(lastError !== undefined && { lastError }),
  });
  const report = () => options.onHealth?.(health());
  const fail = (error: unknown) => {
    const message = redactUrl(error instanceof Error ? error.message : String(error), url);
    // ioredis follows each refused connect with "Connection is closed.": keep the cause instead.
    if (!connected && lastError !== undefined && (message === lastError || message === 'Connection is closed.')) return;
    lastError = message;
    report();
  };
  const setConnected = (value: boolean) => {
    if (connected === value) return;
    connected = value;
    if (!value) synced = false;
    changedAt = Date.now();
    report();
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= clock.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const applyLocal = (key: string, value: JsonValue | undefined, ttlMs: number | undefined) => {
    if (value === undefined) {
      if (entries.delete(key)) notify(key, undefined);
      return;
    }
    entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : clock.now() + ttlMs });
    notify(key, value);
  };

  const writeThrough = (key: string) => {
    const entry = live(key);
    const change: Change = { o: origin, k: key };
    const tx = commands.multi();
    if (entry) {
      change.v = entry.value;
      const text = JSON.stringify(entry.value);
      if (entry.expiresAt === Infinity) tx.set(key, text);
      else {
        const ttl = Math.max(1, Math.ceil(entry.expiresAt - clock.now()));
        change.t = ttl;
        tx.set(key, text, 'PX', ttl);
      }
    } else tx.del(key);
    tx.publish(channel, JSON.stringify(change));
    tx.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error);
        if (failed) fail(failed[0]);
      },
      (error: unknown) => {
        dirty.add(key);
        fail(error);
      },
    );
  };
  const write = (key: string) => {
    // A key outside the prefix would never be loaded by a replica that starts later: kept local, and said.
    if (!key.startsWith(prefix)) return fail(new Error(`key '${key}' is outside the store's prefix '${prefix}': kept in this process only`));
    if (connected && synced) writeThrough(key);
    else dirty.add(key);
  };

  /** Loads every shared key, then writes through what changed here while disconnected. */
  const sync = async () => {
    const remote = new Map<string, { value: JsonValue; ttl: number | undefined }>();
    let cursor = '0';
    do {
      const [next, keys] = await commands.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const tx = commands.multi();
      for (const key of keys) tx.get(key).pttl(key);
      const results = (await tx.exec()) ?? [];
      keys.forEach((key, i) => {
        const [getError, text] = results[2 * i] ?? [];
        const [ttlError, ttl] = results[2 * i + 1] ?? [];
        if (getError || ttlError || typeof text !== 'string') return;
        try {
          remote.set(key, { value: JSON.parse(text) as JsonValue, ttl: typeof ttl === 'number' && ttl > 0 ? ttl : undefined });
        } catch {
          // Not one of ours (not JSON): left alone.
        }
      });
    } while (cursor !== '0');
    for (const [key, { value, ttl }] of remote) {
      dirty.delete(key);
      const current = live(key);
      if (current && JSON.stringify(current.value) === JSON.stringify(value)) continue;
      applyLocal(key, value, ttl);
    }
    synced = true;
    for (const key of dirty) writeThrough(key);
    dirty.clear();
    changedAt = Date.now();
    report();
    resolveReady();
  };

  subscriber.on('message', (_channel: string, message: string) => {
    let change: Change;
    try {
      change = JSON.parse(message) as Change;
    } catch {
      return;
    }
    if (change.o === origin || typeof change.k !== 'string' || !change.k.startsWith(prefix)) return;
    dirty.delete(change.k);
    applyLocal(change.k, change.v, change.t);
  });

  let subscribed = false;
  const onReady = () => {
    if (commands.status !== 'ready' || !subscribed) return;
    setConnected(true);
    sync().catch((error: unknown) => {
      fail(error);
      resolveReady();
    });
  };
  commands.on('ready', onReady);
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true;
        onReady();
      },
      (error: unknown) => fail(error),
    );
  });
  for (const connection of [commands, subscriber]) {
    connection.on('error', (error: unknown) => fail(error));
    connection.on('close', () => {
      if (connection === subscriber) subscribed = false;
      setConnected(false);
    });
  }

  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  Promise.all([commands.connect(), subscriber.connect()]).catch((error: unknown) => {
    fail(error);
    resolveReady();
  });

  return {
    ready,
    get(key) {
      return live(key)?.value;
    },
    set(key, value, ttlMs) {
      applyLocal(key, value, ttlMs);
      write(key);
    },
    delete(key) {
      applyLocal(key, undefined, undefined);
      write(key);
    },
    subscribe,
    health,
    async close() {
      closed = true;
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
      commands.disconnect();
      subscriber.disconnect();
      setConnected(false);
      resolveReady();
    },
  };
}

/** `redis://host:port[/db]` of a Redis URL: what logs and `/status` may show (never a user name or password). */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'redis (unparseable URL)';
  }
}

/** Removes the URL's password (and the URL itself) from a message. */
function redactUrl(message: string, url: string): string {
  let out = message.split(url).join(safeRedisUrl(url));
  try {
    const { password } = new URL(url);
    if (password) out = out.split(decodeURIComponent(password)).join('***').split(password).join('***');
  } catch {
    // Nothing more to hide.
  }
  return out;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

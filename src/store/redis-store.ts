import { Redis, type RedisOptions } from 'ioredis';
import { realClock, type Clock } from '../policy/clock.js';
import { createEmitter, type EventSubscriber } from '../policy/events.js';
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
  /** Told when the connection comes or goes (for logs), from the start; as `store.onHealth(listener)`. Never given secrets. */
  onHealth?: (health: StoreHealth) => void;
  /**
   * How long {@link RedisStore.ready} waits for the first sync before the store serves from local
   * state (and, when Redis has said nothing, reports that it did not answer). Default 3000.
   */
  readyTimeoutMs?: number;
  /**
   * How often each of the two connections sends a PING while connected, so that a Redis that stops
   * answering with its socket still open (frozen, overloaded, a half-dead network path) is noticed.
   * Default 1000.
   */
  pingIntervalMs?: number;
  /**
   * How long a PING may go unanswered before the store counts Redis as unreachable: it reports not
   * connected (`lastError`: Redis did not answer a PING within this time), serves from local state,
   * drops the connection (what was queued on it fails and is written through later) and reconnects,
   * resyncing once Redis answers. A hang is so noticed within `pingIntervalMs + pingTimeoutMs`.
   * Default 2000.
   */
  pingTimeoutMs?: number;
  /**
   * Extra ioredis options (TLS, timeouts). The store sets its own reconnect and queue options; it
   * defaults `keepAlive` to 10000 (TCP keep-alive on both sockets) and `disconnectTimeout` to 1000.
   */
  redis?: Omit<RedisOptions, 'lazyConnect' | 'enableOfflineQueue' | 'autoResubscribe'>;
}

/** A {@link StateStore} shared through Redis, with what a process needs to watch and stop it. */
export interface RedisStore extends StateStore {
  /**
   * Settles once the first connection has loaded the shared state, or after `readyTimeoutMs`
   * (the store then serves from local state and goes on trying). Never rejects.
   */
  readonly ready: Promise<void>;
  health(): StoreHealth;
  /** Calls `listener` with the health whenever the connection comes or goes, or fails again; returns what unsubscribes it. */
  onHealth: EventSubscriber<StoreHealth>;
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
const PING_INTERVAL_MS = 1_000;
const PING_TIMEOUT_MS = 2_000;

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
  const readyTimeoutMs = options.readyTimeoutMs ?? 3000;
  const pingIntervalMs = positive(options.pingIntervalMs ?? PING_INTERVAL_MS, 'pingIntervalMs');
  const pingTimeoutMs = positive(options.pingTimeoutMs ?? PING_TIMEOUT_MS, 'pingTimeoutMs');

  const entries = new Map<string, Entry>();
  const { notify, subscribe } = createKeyListeners();
  /** Keys changed here that Redis does not have yet: written through once in step again. */
  const dirty = new Set<string>();
  /** Own writes per key whose published change has not come back yet (see `onMessage`). */
  const inFlight = new Map<string, number>();
  /** Keys changed (here or by a message) while a sync is reading Redis: its snapshot is older for them. */
  let touched: Set<string> | undefined;
  let connected = false;
  let synced = false;
  let subscribed = false;
  let generation = 0;
  let lastError: string | undefined;
  let changedAt = Date.now();
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout) => {
    clearTimeout(timer);
    timers.delete(timer);
  };

  const connectionOptions: RedisOptions = {
    // Keep-alive notices a peer that is gone without a word; a socket that hangs is dropped after 1 s.
    keepAlive: 10_000,
    disconnectTimeout: 1_000,
    ...options.redis,
    lazyConnect: true,
    // Fail at once while disconnected: the caller's request must not wait for Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => (closed ? null : backoff(times)),
  };
  const commands = new Redis(url, connectionOptions);
  const subscriber = new Redis(url, { ...connectionOptions, autoResubscribe: false });

  const health = (): StoreHealth => ({
    type: 'redis',
    url: where,
    connected: connected && synced,
    since: new Date(changedAt).toISOString(),
    keys: entries.size,
    ...(lastError !== undefined && { lastError }),
  });
  const healthEvents = createEmitter<StoreHealth>();
  if (options.onHealth) healthEvents.on(options.onHealth);
  const report = () => {
    if (healthEvents.active) healthEvents.emit(health());
  };
  const fail = (error: unknown) => {
    const message = redactUrl(error instanceof Error ? error.message : String(error), url);
    // ioredis follows each lost connection with "Connection is closed." or, for the commands it
    // drops, MaxRetriesPerRequestError: keep the cause instead.
    const aftermath = message === 'Connection is closed.' || (error instanceof Error && error.name === 'MaxRetriesPerRequestError');
    if (!(connected && synced) && lastError !== undefined && (message === lastError || aftermath)) return;
    lastError = message;
    report();
  };
  const setInStep = (value: boolean) => {
    const before = connected && synced;
    connected = value;
    synced = value;
    if (!value) {
      // Whatever sync runs now reads a connection that is gone.
      generation++;
      inFlight.clear();
      touched = undefined;
    }
    if (before !== value) {
      changedAt = Date.now();
      report();
    }
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

  const settleOwn = (key: string) => {
    const n = (inFlight.get(key) ?? 1) - 1;
    if (n > 0) inFlight.set(key, n);
    else inFlight.delete(key);
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
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    tx.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error);
        if (!failed) return;
        settleOwn(key);
        dirty.add(key);
        fail(failed[0]);
      },
      (error: unknown) => {
        settleOwn(key);
        dirty.add(key);
        fail(error);
      },
    );
  };
  const write = (key: string) => {
    // A key outside the prefix would never be loaded by a replica that starts later: kept local, and said.
    if (!key.startsWith(prefix)) return fail(new Error(`key '${key}' is outside the store's prefix '${prefix}': kept in this process only`));
    touched?.add(key);
    if (connected && synced) writeThrough(key);
    else dirty.add(key);
  };

  /**
   * Applies a published change. Changes arrive in the order Redis applied the writes, this store's
   * own included; while one of its own writes to a key is still on its way back, changes to that
   * key are older than the local value and are skipped. So every replica ends where Redis is.
   */
  const onMessage = (message: string) => {
    let change: Change;
    try {
      change = JSON.parse(message) as Change;
    } catch {
      return;
    }
    if (typeof change.k !== 'string' || !change.k.startsWith(prefix)) return;
    if (change.o === origin) {
      settleOwn(change.k);
      return;
    }
    if (inFlight.has(change.k)) return;
    touched?.add(change.k);
    dirty.delete(change.k);
    const current = live(change.k);
    if (change.v !== undefined && current && JSON.stringify(current.value) === JSON.stringify(change.v)) return;
    applyLocal(change.k, change.v, change.t);
  };

  /** Loads every shared key, then writes through what changed here while out of step. */
  const sync = async (gen: number) => {
    touched = new Set();
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
    if (gen !== generation) return;
    const recent = touched ?? new Set<string>();
    touched = undefined;
    for (const [key, { value, ttl }] of remote) {
      if (recent.has(key) || dirty.has(key)) continue;
      const current = live(key);
      if (current && JSON.stringify(current.value) === JSON.stringify(value)) continue;
      applyLocal(key, value, ttl);
    }
    // Gone from Redis while this replica was away (a reset, a cleared cooldown): gone here too.
    for (const key of [...entries.keys()]) {
      if (key.startsWith(prefix) && !remote.has(key) && !recent.has(key) && !dirty.has(key)) applyLocal(key, undefined, undefined);
    }
    setInStep(true);
    for (const key of dirty) writeThrough(key);
    dirty.clear();
    resolveReady();
  };
  /** The generation a sync runs (or ran) for: one sync per connection. */
  let syncedFor = -1;
  const startSync = (attempt = 0) => {
    if (closed || commands.status !== 'ready' || !subscribed || syncedFor === generation) return;
    connected = true;
    const gen = (syncedFor = generation);
    sync(gen).catch((error: unknown) => {
      fail(error);
      if (gen !== generation) return;
      // Still connected but not in step (BUSY, LOADING, a denied SCAN): try again.
      syncedFor = -1;
      later(backoff(attempt + 1), () => gen === generation && startSync(attempt + 1));
    });
  };
  const subscribeChannel = (attempt = 0) => {
    if (closed || subscriber.status !== 'ready') return;
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true;
        startSync();
      },
      (error: unknown) => {
        // e.g. an ACL without channel rights: said, and tried again.
        fail(error);
        later(backoff(attempt + 1), () => subscribeChannel(attempt + 1));
      },
    );
  };

  /**
   * A Redis that stops answering with its socket open (SIGSTOP, a stuck host, a silent network
   * path) sends neither an error nor a close. Each connection is sent a PING every `pingIntervalMs`
   * while ready; one unanswered within `pingTimeoutMs` puts the store out of step at once (said once,
   * on `/status` and to the listeners) and drops that connection: the commands queued on it fail
   * (their keys are written through again later), writes meanwhile stay local, and the reconnect
   * resyncs as after any outage once Redis answers again.
   */
  const hung = (connection: Redis) => {
    if (closed) return;
    const message = `Redis did not answer a PING within ${pingTimeoutMs} ms`;
    if (connected && synced) {
      lastError = message;
      setInStep(false);
    } else if (lastError !== message) fail(new Error(message));
    connection.disconnect(true);
  };
  const watch = (connection: Redis) => {
    let waiting = false;
    return () => {
      if (closed || waiting || connection.status !== 'ready') return;
      waiting = true;
      const timer = later(pingTimeoutMs, () => hung(connection));
      // A failed PING needs no report: the connection's own error or close says why.
      connection
        .ping()
        .catch(() => undefined)
        .finally(() => {
          cancel(timer);
          waiting = false;
        });
    };
  };
  const checks = [watch(commands), watch(subscriber)];
  const pinger = setInterval(() => {
    for (const check of checks) check();
  }, pingIntervalMs);
  pinger.unref();

  subscriber.on('message', (_channel: string, message: string) => onMessage(message));
  commands.on('ready', () => startSync());
  subscriber.on('ready', () => subscribeChannel());
  for (const connection of [commands, subscriber]) {
    connection.on('error', (error: unknown) => fail(error));
    connection.on('close', () => {
      if (connection === subscriber) subscribed = false;
      setInStep(false);
    });
  }

  // The first sync, or the time limit: a Redis that never answers must not hold up a gateway's start.
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  later(readyTimeoutMs, () => {
    // A Redis that accepts the connection but never answers raises no error: said here.
    if (!(connected && synced) && lastError === undefined) fail(new Error(`Redis did not answer within ${readyTimeoutMs} ms`));
    resolveReady();
  });
  commands.connect().catch((error: unknown) => fail(error));
  subscriber.connect().catch((error: unknown) => fail(error));

  return {
    ready,
    keyPrefix: prefix,
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
    onHealth: healthEvents.on,
    async close() {
      closed = true;
      clearInterval(pinger);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // QUIT waits for an answer a stuck Redis never gives: a short wait, then the sockets go.
      const quit = Promise.allSettled([commands.quit(), subscriber.quit()]);
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      commands.disconnect();
      subscriber.disconnect();
      setInStep(false);
      resolveReady();
    },
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name}: expected a positive number of milliseconds, got ${String(value)}`);
  return value;
}

function backoff(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), RECONNECT_MAX_MS);
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

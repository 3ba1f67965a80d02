// The Redis state store against a real Redis on 127.0.0.1:6379 (.ci/run starts one when it is
// not running). Redis being unreachable here is a failure, never a skip. Each run works under its
// own key prefix and deletes its keys at the end.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../src/policy/circuit-breaker.js';
import { createVirtualClock } from '../src/policy/virtual-clock.js';
import type { JsonValue } from '../src/policy/state-store.js';
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../src/store/redis-store.js';
import { simulated } from '../src/providers/simulated.js';
import { createRouter } from '../src/router/router.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `ballast-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
let admin: Redis;
const stores: RedisStore[] = [];

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await admin.ping();
  } catch (error) {
    throw new Error(`these tests need Redis on 127.0.0.1:6379 (.ci/run starts it): ${(error as Error).message}`);
  }
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length) await admin.del(...keys);
  await admin.quit();
});

let run = 0;
/** A store on this run's prefix; `scope` keeps tests apart. */
async function store(scope: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const s = createRedisStore({ url: REDIS_URL, prefix: `${PREFIX}${scope}:`, ...options });
  stores.push(s);
  await s.ready;
  return s;
}
const scope = () => `t${++run}`;

describe('redis store: replicas share state', () => {
  it('a write in one store reaches another store and its subscribers; a delete too', async () => {
    const s = scope();
    const a = await store(s);
    const b = await store(s);
    const heard: Array<JsonValue | undefined> = [];
    b.subscribe(`${PREFIX}${s}:breaker:x`, (v) => heard.push(v));

    a.set(`${PREFIX}${s}:breaker:x`, { state: 'open', version: 1 });
    expect(a.get(`${PREFIX}${s}:breaker:x`)).toEqual({ state: 'open', version: 1 }); // local at once
    await expect.poll(() => b.get(`${PREFIX}${s}:breaker:x`)).toEqual({ state: 'open', version: 1 });
    expect(heard).toEqual([{ state: 'open', version: 1 }]);
    expect(JSON.parse((await admin.get(`${PREFIX}${s}:breaker:x`))!)).toEqual({ state: 'open', version: 1 });

    a.delete(`${PREFIX}${s}:breaker:x`);
    await expect.poll(() => b.get(`${PREFIX}${s}:breaker:x`)).toBeUndefined();
    expect(heard.at(-1)).toBeUndefined();
    expect(await admin.exists(`${PREFIX}${s}:breaker:x`)).toBe(0);
  });

  it('a TTL goes to Redis, and the local view expires on its clock', async () => {
    const s = scope();
    const clock = createVirtualClock();
    const a = await store(s, { clock });
    a.set(`${PREFIX}${s}:cooldown:x`, { until: 30_000 }, 30_000);
    await expect.poll(async () => admin.pttl(`${PREFIX}${s}:cooldown:x`)).toBeGreaterThan(29_000);
    expect(await admin.pttl(`${PREFIX}${s}:cooldown:x`)).toBeLessThanOrEqual(30_000);
    await clock.advance(29_999);
    expect(a.get(`${PREFIX}${s}:cooldown:x`)).toEqual({ until: 30_000 });
    await clock.advance(1);
    expect(a.get(`${PREFIX}${s}:cooldown:x`)).toBeUndefined();
  });

  it('a store that starts later loads the shared state, with what is left of the TTL', async () => {
    const s = scope();
    const a = await store(s);
    a.set(`${PREFIX}${s}:breaker:y`, { state: 'half_open' });
    a.set(`${PREFIX}${s}:cooldown:y`, { until: 1 }, 60_000);
    await expect.poll(async () => admin.exists(`${PREFIX}${s}:breaker:y`, `${PREFIX}${s}:cooldown:y`)).toBe(2);
    const clock = createVirtualClock();
    const late = await store(s, { clock });
    expect(late.get(`${PREFIX}${s}:breaker:y`)).toEqual({ state: 'half_open' });
    expect(late.get(`${PREFIX}${s}:cooldown:y`)).toEqual({ until: 1 });
    await clock.advance(60_001);
    expect(late.get(`${PREFIX}${s}:cooldown:y`)).toBeUndefined();
    expect(late.health()).toMatchObject({ type: 'redis', url: 'redis://127.0.0.1:6379', connected: true });
  });

  it('two circuit breakers in two processes\' stores agree: one trips, the other rejects', async () => {
    const s = scope();
    const clock = createVirtualClock();
    const key = `${PREFIX}${s}:breaker:target`;
    const options = { consecutive: 2, openFor: '30s' as const, clock, key };
    const a = circuitBreaker({ ...options, store: await store(s) });
    const b = circuitBreaker({ ...options, store: await store(s) });
    const boom = () => Promise.reject(new Error('upstream down'));
    for (let i = 0; i < 2; i++) await expect(a.execute(boom)).rejects.toThrow('upstream down');
    expect(a.state).toBe('open');
    await expect.poll(() => b.state).toBe('open');
    let called = false;
    await expect(
      b.execute(async () => {
        called = true;
        return 1;
      }),
    ).rejects.toMatchObject({ code: 'circuit_open' });
    expect(called).toBe(false);
  });
});

describe('redis store: routers on it', () => {
  it('routers take the store\'s prefix by default, so a cooldown learnt by one keeps the other away', async () => {
    const s = scope();
    const clock = createVirtualClock();
    const build = async () => {
      const limited = simulated({ name: 'a', clock, faults: [{ kind: 'rate_limit', retryAfter: '30s' }] });
      const backup = simulated({ name: 'b', clock });
      return {
        limited,
        router: createRouter({ targets: [{ provider: limited, model: 'm', id: 'a' }, { provider: backup, model: 'm', id: 'b' }], store: await store(s), clock, retry: { attempts: 1 } }),
      };
    };
    const one = await build();
    const two = await build();
    expect((await one.router.chat({ messages: [{ role: 'user', content: 'hi' }] })).target).toBe('b');
    await expect.poll(() => two.router.runtime('a')!.availability(clock.now())?.reason).toBe('cooldown');
    expect((await two.router.chat({ messages: [{ role: 'user', content: 'hi' }] })).target).toBe('b');
    expect(two.limited.control.calls).toBe(0);
    one.router.close();
    two.router.close();
  });

  it('a keyPrefix outside the store\'s prefix is refused: it would share nothing, silently', async () => {
    const shared = await store(scope());
    const provider = simulated({ name: 'a' });
    expect(() => createRouter({ targets: [{ provider, model: 'm' }], store: shared, keyPrefix: 'elsewhere:' })).toThrow(/keyPrefix: expected a prefix under the store's prefix/);
  });
});

describe('redis store: concurrent writers', () => {
  it('two replicas writing the same key at once end where Redis is, every time', async () => {
    const s = scope();
    const a = await store(s);
    const b = await store(s);
    const key = `${PREFIX}${s}:cooldown:z`;
    for (let round = 0; round < 30; round++) {
      a.set(key, { from: 'a', round });
      b.set(key, { from: 'b', round });
      await expect.poll(async () => JSON.stringify([a.get(key), b.get(key)]) === JSON.stringify(Array(2).fill(JSON.parse((await admin.get(key))!)))).toBe(true);
      expect(a.get(key)).toMatchObject({ round });
    }
  });
});

describe('redis store: when Redis is unreachable', () => {
  it('a Redis that accepts connections but never answers holds up neither ready nor close', async () => {
    const silent = createServer(() => {}); // accepts, never replies
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const s = createRedisStore({ url: `redis://127.0.0.1:${port}`, prefix: `${PREFIX}silent:`, readyTimeoutMs: 100 });
      await s.ready;
      expect(s.health().connected).toBe(false);
      s.set(`${PREFIX}silent:k`, 1);
      expect(s.get(`${PREFIX}silent:k`)).toBe(1);
      await s.close();
    } finally {
      silent.close();
    }
  });

  it('works on local state, says so, and never throws', async () => {
    const health: boolean[] = [];
    const s = createRedisStore({ url: 'redis://:s3cret-pass@127.0.0.1:1', prefix: `${PREFIX}down:`, onHealth: (h) => health.push(h.connected) });
    stores.push(s);
    await s.ready;
    const heard: Array<JsonValue | undefined> = [];
    s.subscribe(`${PREFIX}down:k`, (v) => heard.push(v));
    expect(() => s.set(`${PREFIX}down:k`, { a: 1 }, 1000)).not.toThrow();
    expect(s.get(`${PREFIX}down:k`)).toEqual({ a: 1 });
    expect(heard).toEqual([{ a: 1 }]);
    const h = s.health();
    expect(h.connected).toBe(false);
    expect(h.lastError).toBeDefined();
    expect(JSON.stringify(h)).not.toContain('s3cret-pass');
    expect(h.url).toBe('redis://127.0.0.1:1');
  });

  it('onHealth(listener) hears the connection come and go, until disposed; the option hears the same', async () => {
    const fromOption: boolean[] = [];
    const s = createRedisStore({ url: REDIS_URL, prefix: `${PREFIX}health:`, onHealth: (h) => fromOption.push(h.connected) });
    stores.push(s);
    const heard: boolean[] = [];
    const later: boolean[] = [];
    const dispose = s.onHealth((h) => heard.push(h.connected));
    s.onHealth((h) => later.push(h.connected));
    await s.ready;
    expect(heard).toEqual([true]);
    dispose();
    await s.close();
    expect(heard).toEqual([true]);
    expect(later).toEqual([true, false]);
    expect(fromOption).toEqual([true, false]);
  });

  it('a key outside the prefix stays local and is reported, not thrown', async () => {
    const s = await store(scope());
    expect(() => s.set('elsewhere:key', 1)).not.toThrow();
    expect(s.get('elsewhere:key')).toBe(1);
    expect(s.health().lastError).toMatch(/outside the store's prefix/);
    expect(await admin.exists('elsewhere:key')).toBe(0);
  });

  it('after an outage it reconnects, loads what others wrote, and writes through what changed here', async () => {
    const proxy = await startProxy(6379);
    try {
      const s = scope();
      const viaProxy = await store(s, { url: `redis://127.0.0.1:${proxy.port}` });
      const direct = await store(s);
      expect(viaProxy.health().connected).toBe(true);

      direct.set(`${PREFIX}${s}:cooldown:cleared`, { until: 2 }, 60_000);
      await expect.poll(() => viaProxy.get(`${PREFIX}${s}:cooldown:cleared`)).toEqual({ until: 2 });
      proxy.cut();
      await expect.poll(() => viaProxy.health().connected).toBe(false);
      // During the outage: this replica writes one key, the other replica another and deletes a third.
      viaProxy.set(`${PREFIX}${s}:cooldown:mine`, { until: 1 }, 60_000);
      direct.set(`${PREFIX}${s}:breaker:theirs`, { state: 'open' });
      direct.delete(`${PREFIX}${s}:cooldown:cleared`);
      await expect.poll(async () => admin.exists(`${PREFIX}${s}:breaker:theirs`)).toBe(1);
      expect(await admin.exists(`${PREFIX}${s}:cooldown:mine`)).toBe(0);

      proxy.restore();
      await expect.poll(() => viaProxy.health().connected, { timeout: 10_000 }).toBe(true);
      expect(viaProxy.get(`${PREFIX}${s}:breaker:theirs`)).toEqual({ state: 'open' });
      expect(viaProxy.get(`${PREFIX}${s}:cooldown:cleared`)).toBeUndefined();
      await expect.poll(() => direct.get(`${PREFIX}${s}:cooldown:mine`)).toEqual({ until: 1 });
      expect(await admin.pttl(`${PREFIX}${s}:cooldown:mine`)).toBeGreaterThan(50_000);
    } finally {
      await proxy.close();
    }
  });
});

/** A TCP proxy to Redis whose connections can be cut (and refused) on demand: an outage. */
async function startProxy(targetPort: number): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      refusing = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// The Redis state store against a real Redis on 127.0.0.1:6379 (.ci/run starts one when it is
// not running). Redis being unreachable here is a failure, never a skip. Each run works under its
// own key prefix and deletes its keys at the end. The frozen-Redis tests start their own
// redis-server (on PATH; .ci/run installs it) on a free port, and stop it with SIGSTOP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../src/policy/circuit-breaker.js';
import { createVirtualClock } from '../src/policy/virtual-clock.js';
import type { JsonValue, StoreHealth } from '../src/policy/state-store.js';
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
      expect(s.health()).toMatchObject({ connected: false, lastError: 'Redis did not answer within 100 ms' });
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

// Without redis-server on PATH this block is skipped on a developer's machine, and fails under CI.
const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;

describe.skipIf(!haveRedisServer && !process.env.CI)('redis store: a Redis that stops answering (SIGSTOP, socket open)', () => {
  let redis: { child: ChildProcess; port: number; url: string; dir: string } | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    if (!redis) return;
    const { child, dir } = redis;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('is reported within ping interval + timeout, local state serves meanwhile, and it resyncs when Redis answers again', async () => {
    const { child, url } = redis!;
    const pid = child.pid!;
    const p = `${PREFIX}frozen:`;
    const heard: StoreHealth[] = [];
    const fast = { url, prefix: p, pingIntervalMs: 200, pingTimeoutMs: 300 };
    const s = createRedisStore({ ...fast, onHealth: (h) => heard.push(h) });
    const peer = createRedisStore(fast); // another replica, to check the channel after the freeze
    stores.push(s, peer);
    const other = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    let frozen = false;
    try {
      await other.connect();
      await Promise.all([s.ready, peer.ready]);
      expect(s.health().connected).toBe(true);
      s.set(`${p}before`, { n: 1 });
      await expect.poll(async () => other.get(`${p}before`)).toBe('{"n":1}');
      await other.config('RESETSTAT');

      const down = nextHealth(s, (h) => !h.connected, 2_000);
      const frozenAt = Date.now();
      process.kill(pid, 'SIGSTOP');
      frozen = true;
      const reported = await down;
      expect(Date.now() - frozenAt).toBeLessThan(1_500);
      expect(reported).toMatchObject({ connected: false, lastError: 'Redis did not answer a PING within 300 ms' });
      expect(s.health()).toMatchObject({ connected: false, lastError: 'Redis did not answer a PING within 300 ms', url });

      // Meanwhile: local reads and writes work at once, and writes do not queue up for Redis.
      s.set(`${p}mine`, { until: 1 }, 60_000);
      expect(s.get(`${p}mine`)).toEqual({ until: 1 });
      for (let i = 0; i < 2_000; i++) s.set(`${p}hot`, { i });
      expect(s.get(`${p}hot`)).toEqual({ i: 1_999 });
      expect(s.get(`${p}before`)).toEqual({ n: 1 });
      // Another client writes during the freeze (Redis applies it when it runs again).
      const theirs = other.set(`${p}theirs`, JSON.stringify({ state: 'open' }));

      const up = nextHealth(s, (h) => h.connected, 10_000);
      process.kill(pid, 'SIGCONT');
      frozen = false;
      await up;
      await theirs;
      expect(s.health()).toMatchObject({ connected: true });
      expect(s.get(`${p}theirs`)).toEqual({ state: 'open' }); // loaded by the resync
      await expect.poll(async () => other.get(`${p}hot`)).toBe('{"i":1999}'); // written through once in step
      await expect.poll(async () => other.get(`${p}mine`)).toBe('{"until":1}');
      expect(await other.pttl(`${p}mine`)).toBeGreaterThan(50_000);
      const sets = Number(/cmdstat_set:calls=(\d+)/.exec(await other.info('commandstats'))?.[1] ?? 0);
      expect(sets).toBeLessThan(20); // not the 2,000 writes made while Redis was frozen
      // Told once that it went, once that it came back.
      expect(heard.map((h) => h.connected)).toEqual([true, false, true]);

      // Re-subscribed: a change from another replica after the freeze arrives.
      await expect.poll(() => peer.health().connected, { timeout: 10_000 }).toBe(true);
      peer.set(`${p}after`, { state: 'half_open' });
      await expect.poll(() => s.get(`${p}after`)).toEqual({ state: 'half_open' });
    } finally {
      if (frozen) process.kill(pid, 'SIGCONT');
      other.disconnect();
    }
  });

  it('a Redis frozen before the store starts is reported when ready gives up, and caught up with once it answers', async () => {
    const { child, url } = redis!;
    const pid = child.pid!;
    const p = `${PREFIX}frozen-start:`;
    const other = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    let frozen = false;
    try {
      await other.connect();
      await other.set(`${p}k`, '"shared"');
      process.kill(pid, 'SIGSTOP');
      frozen = true;
      const s = createRedisStore({ url, prefix: p, readyTimeoutMs: 200, pingIntervalMs: 200, pingTimeoutMs: 300 });
      stores.push(s);
      await s.ready;
      expect(s.health()).toMatchObject({ connected: false, lastError: 'Redis did not answer within 200 ms' });
      s.set(`${p}local`, 1);
      expect(s.get(`${p}local`)).toBe(1);
      const up = nextHealth(s, (h) => h.connected, 10_000);
      process.kill(pid, 'SIGCONT');
      frozen = false;
      await up;
      expect(s.get(`${p}k`)).toBe('shared');
      await expect.poll(async () => other.get(`${p}local`)).toBe('1');
    } finally {
      if (frozen) process.kill(pid, 'SIGCONT');
      other.disconnect();
    }
  });

  it('ping options must be positive; the ping timer keeps no process alive and stops on close', async () => {
    expect(() => createRedisStore({ url: redis!.url, pingIntervalMs: 0 })).toThrow(/pingIntervalMs: expected a positive number/);
    expect(() => createRedisStore({ url: redis!.url, pingTimeoutMs: Number.NaN })).toThrow(/pingTimeoutMs/);
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    try {
      const s = createRedisStore({ url: redis!.url, prefix: `${PREFIX}closing:`, pingIntervalMs: 123, pingTimeoutMs: 50 });
      const index = setSpy.mock.calls.findIndex(([, ms]) => ms === 123);
      expect(index).toBeGreaterThanOrEqual(0);
      const timer = setSpy.mock.results[index]!.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      await s.ready;
      expect(s.health().connected).toBe(true);
      await s.close();
      expect(clearSpy).toHaveBeenCalledWith(timer);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});

/** The next health `store` reports that matches, or a rejection after `timeoutMs`. */
function nextHealth(store: RedisStore, matches: (health: StoreHealth) => boolean, timeoutMs: number): Promise<StoreHealth> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`no matching store health within ${timeoutMs} ms; now ${JSON.stringify(store.health())}`));
    }, timeoutMs);
    const dispose = store.onHealth((health) => {
      if (!matches(health)) return;
      clearTimeout(timer);
      dispose();
      resolve(health);
    });
  });
}

/** A throwaway redis-server on a free port of 127.0.0.1 (no persistence), once it accepts connections. */
async function startRedisServer(): Promise<{ child: ChildProcess; port: number; url: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-redis-'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const started = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`these tests need redis-server on PATH (.ci/run installs it): ${error.message}`));
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (started) {
      child.stdout!.resume();
      child.stderr!.resume();
      return { child, port, url: `redis://127.0.0.1:${port}`, dir };
    }
    // The port was taken between freePort() and the start: another one.
    if (attempt === 3) throw new Error(`redis-server did not start: ${output}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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

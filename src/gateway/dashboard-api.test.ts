import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { simulated } from '../providers/simulated.js';
import { createRouter, type Router } from '../router/router.js';
import type { MetricsEvent } from '../router/router-metrics.js';
import { createDashboardHandler, createEventFeed, dashboardData, describeEvent, type DashboardData, type DashboardRouter } from './dashboard-api.js';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };
const SECRET = 'sk-proj-SECRETabcdefghijklmnopqrstuvwxyz0123';

const routers: Router[] = [];
afterEach(() => {
  for (const r of routers.splice(0)) r.close();
});

/** Two routes on a virtual clock: `chat` (primary falls over to backup) and `fast` (one target). */
async function scenario() {
  const clock = createVirtualClock(1_000_000);
  const primary = simulated({ name: 'primary', clock, latency: 20, firstToken: 5 });
  const backup = simulated({ name: 'backup', clock, latency: 40, firstToken: 10 });
  const options = { clock, metrics: { slotMs: 1000, recentMs: 10_000 }, retry: { attempts: 2, wait: 10 }, breaker: { window: '10s', failureRate: 0.5, minCalls: 3, openFor: '30s' } } as const;
  const chat = createRouter({ ...options, targets: [{ provider: primary, model: 'gpt-4o', id: 'primary' }, { provider: backup, model: 'claude', id: 'backup' }] });
  const fast = createRouter({ ...options, targets: [{ provider: simulated({ name: 'local', clock, latency: 5 }), model: 'llama', id: 'local' }] });
  routers.push(chat, fast);
  const run = async <T>(p: Promise<T>): Promise<T> => {
    await clock.runAll();
    return p;
  };
  const stream = async (router: Router) => {
    for await (const _ of router.stream(ask)) void _;
  };
  for (let i = 0; i < 3; i++) {
    await run(chat.chat(ask));
    await run(stream(chat));
    await run(fast.chat(ask));
    await clock.advance(1000);
  }
  primary.control.injectOutage('overloaded', '1m', { message: `bad key ${SECRET}` });
  for (let i = 0; i < 3; i++) await run(chat.chat(ask));
  await run(fast.chat(ask));
  return { clock, chat, fast, map: new Map<string, Router>([['chat', chat], ['fast', fast]]) };
}

describe('dashboardData', () => {
  it('describes every route and target: health, breaker, success rate, quantiles and trimmed series', async () => {
    const { map, clock } = await scenario();
    const data = dashboardData(map, 0, { demo: true });
    expect(data.demo).toBe(true);
    expect(data.now).toBe(clock.now());
    expect(data.routes.map((r) => r.name)).toEqual(['chat', 'fast']);

    const chat = data.routes[0]!;
    expect(chat.recentMs).toBe(10_000);
    expect(chat.health.status).toBe('degraded');
    expect(chat.requests).toBe(9);
    expect(chat.successRate).toBe(1);
    expect(chat.fallbacks).toBe(3);
    expect(chat.latency.p50).toBeGreaterThan(0);
    expect(chat.ttft.p99).toBeGreaterThan(0);
    const [primary, backup] = chat.targets;
    expect(primary).toMatchObject({ id: 'primary', provider: 'primary', model: 'gpt-4o', health: { status: 'unavailable', reason: 'breaker_open' }, breaker: { state: 'open', trips: 1 }, cooldown: null });
    expect(primary!.successRate).toBe(0.5);
    expect(primary!.lastError).toMatchObject({ kind: 'overloaded', status: 529 });
    expect(backup).toMatchObject({ id: 'backup', health: { status: 'healthy' }, breaker: { state: 'closed' } });

    // Series: one-second slots since the router started (3 s ago), not the 30-slot window padded with nothing.
    const s = primary!.series;
    expect(s.slotMs).toBe(1000);
    expect(s.successes.length).toBe(4);
    expect(s.successes).toEqual([2, 2, 2, 0]);
    expect(s.failures.at(-1)).toBe(6);
    expect([s.failures, s.latencyP50, s.latencyP99, s.ttftP50, s.ttftP99].every((col) => col.length === 4)).toBe(true);
    expect(s.latencyP50[0]).toBeGreaterThan(0);
    expect(s.latencyP50.at(-1)).toBeNull();

    // Secret-free: the upstream error quoted a key.
    const json = JSON.stringify(data);
    expect(json).toContain('bad key sk-proj-***');
    expect(json).not.toContain(SECRET);
  });

  it('merges the events of every route, each with its route, and pages them with after=', async () => {
    const { map } = await scenario();
    const feed = createEventFeed();
    const first = dashboardData(map, 0, { feed });
    expect(first.reset).toBe(false);
    expect(first.events.length).toBeGreaterThan(0);
    expect(first.events.map((e) => e.seq)).toEqual(first.events.map((_, i) => i + 1));
    expect(first.seq).toBe(first.events.length);
    expect(new Set(first.events.map((e) => e.route))).toEqual(new Set(['chat']));
    const types = new Set(first.events.map((e) => e.type));
    for (const type of ['retry', 'fallback', 'breaker'] as const) expect(types).toContain(type);
    const fallback = first.events.find((e) => e.type === 'fallback')!;
    expect(fallback).toMatchObject({ severity: 'warn', target: 'primary', text: 'fallback primary → backup after overloaded 529' });
    expect(fallback.detail).toContain('bad key sk-proj-***');

    // Nothing new: nothing returned. The same cursor again: still nothing.
    expect(dashboardData(map, first.seq, { feed }).events).toEqual([]);
    // A new event on another route comes next, with its route.
    map.get('fast')!.runtime('local')!.breaker!.isolate();
    const next = dashboardData(map, first.seq, { feed });
    expect(next.events).toMatchObject([{ seq: first.seq + 1, route: 'fast', type: 'breaker', severity: 'bad', text: 'breaker of local: closed → isolated' }]);
    // A cursor from a previous gateway (beyond this feed): everything, flagged as a reset.
    const stale = dashboardData(map, 10_000, { feed });
    expect(stale.reset).toBe(true);
    expect(stale.events.length).toBe(next.seq);
  });
});

describe('createEventFeed', () => {
  /** A router stand-in whose ring holds the events given. */
  const fake = (events: MetricsEvent[]): DashboardRouter => ({
    metrics: () => {
      throw new Error('not used');
    },
    events: (after = 0) => events.filter((e) => e.seq > after),
  });
  const breaker = (seq: number, at: number, target: string): MetricsEvent => ({ seq, at, type: 'breaker', target, from: 'closed', to: 'open' });

  it('interleaves routes by time, keeps each route in order, and starts afresh for a replaced router', () => {
    const feed = createEventFeed();
    const a = [breaker(1, 10, 'a1'), breaker(2, 30, 'a2')];
    const b = [breaker(1, 20, 'b1')];
    const routes = new Map([['A', fake(a)], ['B', fake(b)]]);
    feed.pull(routes);
    expect(feed.since(0).map((e) => [e.seq, e.route, e.target])).toEqual([[1, 'A', 'a1'], [2, 'B', 'b1'], [3, 'A', 'a2']]);
    a.push(breaker(3, 40, 'a3'));
    feed.pull(routes);
    expect(feed.since(3).map((e) => e.target)).toEqual(['a3']);
    // A reload swaps route B's router: its ring starts at seq 1 again and is read from the start.
    routes.set('B', fake([breaker(1, 50, 'b-new')]));
    feed.pull(routes);
    expect(feed.since(4).map((e) => e.target)).toEqual(['b-new']);
    expect(feed.seq).toBe(5);
  });

  it('keeps the newest events and answers at most `limit`', () => {
    const feed = createEventFeed({ keep: 10 });
    const events = Array.from({ length: 50 }, (_, i) => breaker(i + 1, i, `t${i}`));
    feed.pull(new Map([['r', fake(events)]]));
    expect(feed.seq).toBe(50);
    expect(feed.since(0).length).toBeGreaterThanOrEqual(10);
    expect(feed.since(0).at(-1)!.seq).toBe(50);
    expect(feed.since(45).map((e) => e.seq)).toEqual([46, 47, 48, 49, 50]);
    expect(feed.since(0, 3).map((e) => e.seq)).toEqual([48, 49, 50]);
  });
});

describe('describeEvent', () => {
  it('says each decision in one plain line', () => {
    const error = { kind: 'rate_limit' as const, message: 'slow down <b>now</b>', status: 429 };
    const lines = (
      [
        { seq: 1, at: 0, type: 'retry', callId: 1, target: 't', attempt: 1, delayMs: 1500, kind: 'server', status: 502 },
        { seq: 2, at: 0, type: 'fallback', callId: 1, from: 'a', to: 'b', error },
        { seq: 3, at: 0, type: 'hedge', callId: 1, target: 'b', afterMs: 800 },
        { seq: 4, at: 0, type: 'breaker', target: 'a', from: 'open', to: 'half_open' },
        { seq: 5, at: 0, type: 'breaker', target: 'a', from: 'half_open', to: 'closed' },
        { seq: 6, at: 1000, type: 'cooldown', callId: 1, target: 'a', until: 21_000, reason: 'rate_limit' },
        { seq: 7, at: 0, type: 'failure', callId: 1, stream: false, durationMs: 10, error, attempts: 3 },
      ] satisfies MetricsEvent[]
    ).map((e) => describeEvent(e, 'r', e.seq));
    expect(lines.map((e) => [e.severity, e.text])).toEqual([
      ['warn', 'retry on t in 1.5 s after server 502 (attempt 1)'],
      ['warn', 'fallback a → b after rate_limit 429'],
      ['info', 'hedged to b after 800 ms'],
      ['warn', 'breaker of a: open → half-open'],
      ['good', 'breaker of a: half-open → closed'],
      ['warn', 'a cooling down for 20 s (rate limit)'],
      ['bad', 'request failed on every target: rate_limit 429 after 3 attempts'],
    ]);
    expect(lines[1]!.detail).toBe('slow down <b>now</b>');
  });
});

describe('createDashboardHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  const serve = async (getRouters: () => ReadonlyMap<string, DashboardRouter>, demo: boolean) => {
    const handler = createDashboardHandler(getRouters, { demo });
    server = createServer((req, res) => {
      if (handler(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('gateway 404');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('serves the page at / and the JSON at /dashboard/data, and leaves everything else to the caller', async () => {
    const { map } = await scenario();
    const base = await serve(() => map, true);

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-/);
    const html = await page.text();
    expect(html).toContain('SIMULATED');
    expect((await fetch(`${base}/?x=1`)).status).toBe(200);
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    const res = await fetch(`${base}/dashboard/data?after=0`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const data = (await res.json()) as DashboardData;
    expect(data.demo).toBe(true);
    expect(data.routes.map((r) => r.name)).toEqual(['chat', 'fast']);
    expect(data.events.length).toBe(data.seq);
    // The handler keeps one feed: the next poll from the cursor brings nothing old.
    const again = (await (await fetch(`${base}/dashboard/data?after=${data.seq}`)).json()) as DashboardData;
    expect(again.events).toEqual([]);
    // A malformed cursor counts as 0.
    for (const after of ['abc', '-4', '1e400', '']) {
      const all = (await (await fetch(`${base}/dashboard/data?after=${after}`)).json()) as DashboardData;
      expect(all.events.length).toBe(data.seq);
    }

    for (const [method, path] of [['POST', '/'], ['DELETE', '/dashboard/data'], ['GET', '/dashboard'], ['GET', '/dashboard/data/x'], ['GET', '/index.html'], ['GET', '/v1/models']]) {
      const other = await fetch(`${base}${path}`, { method });
      expect([method, path, other.status, await other.text()]).toEqual([method, path, 404, 'gateway 404']);
    }
  });

  it('reads the routers on every request (a reload shows up) and serves no banner outside demo mode', async () => {
    const { chat, fast } = await scenario();
    let current = new Map<string, Router>([['chat', chat]]);
    const base = await serve(() => current, false);
    expect(await (await fetch(`${base}/`)).text()).toMatch(/<div id="demo"[^>]* hidden>/);
    const before = (await (await fetch(`${base}/dashboard/data`)).json()) as DashboardData;
    expect(before.demo).toBe(false);
    expect(before.routes.map((r) => r.name)).toEqual(['chat']);
    current = new Map([['fast', fast]]);
    const after = (await (await fetch(`${base}/dashboard/data?after=${before.seq}`)).json()) as DashboardData;
    expect(after.routes.map((r) => r.name)).toEqual(['fast']);
  });
});

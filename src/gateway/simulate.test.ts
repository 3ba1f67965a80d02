import { describe, expect, it, vi } from 'vitest';
import { DEMO_CONFIG } from './demo-config.js';
import type { GatewayConfigInput } from './config-schema.js';
import { simulateTraffic, SimulationConfigError, SimulationOptionsError, type SimulatedRouteReport } from './simulate.js';

const MIN = 60_000;

/** Every number of a route's report agrees with the others. */
function expectConsistent(route: SimulatedRouteReport, started: number): void {
  expect(route.requests).toBe(started);
  expect(route.successes + route.failures).toBe(route.requests);
  expect(route.successRate).toBeCloseTo(route.successes / route.requests, 5);
  expect(Object.values(route.failuresByKind).reduce((a, b) => a + b, 0)).toBe(route.failures);
  expect(route.fallbackPaths.reduce((a, p) => a + p.count, 0)).toBe(route.fallbacks);
  expect(route.meanAttempts).toBeCloseTo(route.attempts / route.requests, 2);
  expect(route.perTarget.reduce((a, t) => a + t.attempts, 0)).toBe(route.attempts);
  expect(route.perTarget.reduce((a, t) => a + t.served, 0)).toBe(route.successes);
  expect(route.timeline.reduce((a, b) => a + b.requests, 0)).toBe(route.requests);
  expect(route.timeline.reduce((a, b) => a + b.successes, 0)).toBe(route.successes);
  expect(route.timeline.reduce((a, b) => a + b.fallbacks, 0)).toBe(route.fallbacks);
  if (route.latencyMs) expect(route.latencyMs.p50).toBeLessThanOrEqual(route.latencyMs.p99);
}

/** A primary that answers 503 from 10m to 40m, and a healthy backup. */
const OUTAGE: GatewayConfigInput = {
  providers: {
    main: { type: 'simulated', latency: '200ms', faults: [{ kind: 'overloaded', status: 503, between: ['10m', '40m'] }] },
    spare: { type: 'simulated', latency: '300ms' },
  },
  routes: {
    chat: { targets: [{ provider: 'main', model: 'm1' }, { provider: 'spare', model: 's1' }] },
  },
};

describe('simulateTraffic', () => {
  it('runs the demo config for an hour of virtual time in seconds: fallbacks, breakers, every number consistent', async () => {
    const started = performance.now();
    const report = await simulateTraffic(DEMO_CONFIG, { duration: '1h', rps: 2 });
    expect(performance.now() - started).toBeLessThan(20_000);

    expect(report).toMatchObject({ seed: 1, durationMs: 3_600_000, rps: 2, stream: false, requestsPerRoute: 7200, replaced: [], notes: [] });
    expect(report.routes.map((r) => r.route)).toEqual(['demo', 'demo-hedged']);
    for (const route of report.routes) {
      expectConsistent(route, 7200);
      expect(route.timeline).toHaveLength(12);
      expect(route.timeline[0]).toMatchObject({ fromMs: 0, toMs: 5 * MIN, requests: 600 });
    }
    // Both routes carry the traffic through the primary's outages, retries and rate limits.
    const demo = report.routes[0]!;
    expect(demo.successRate).toBeGreaterThan(0.95);
    expect(report.routes[1]!.successRate).toBeGreaterThan(0.95);
    expect(demo.fallbacks).toBeGreaterThan(0);
    expect(demo.retries).toBeGreaterThan(0);
    expect(demo.perTarget.find((t) => t.id === 'primary/sim-large')!.breaker.open).toBeGreaterThan(0);
    expect(demo.perTarget.some((t) => t.cooldowns > 0)).toBe(true);
    expect(report.routes[1]!.hedges).toBeGreaterThan(0);
  }, 30_000);

  it('an outage from 10m to 40m: every request answered, fallbacks only in the outage, the breaker opens and closes again', async () => {
    const report = await simulateTraffic(OUTAGE, { duration: '1h', rps: 2 });
    const route = report.routes[0]!;
    expectConsistent(route, 7200);
    expect(route.successRate).toBe(1);
    expect(route.fallbackPaths).toEqual([{ from: 'main/m1', to: 'spare/s1', count: route.fallbacks }]);
    expect(route.fallbacks).toBeGreaterThan(0);

    for (const bucket of route.timeline) {
      const inOutage = bucket.fromMs >= 10 * MIN && bucket.toMs <= 40 * MIN;
      expect(bucket.successRate, `bucket from ${bucket.fromMs}`).toBe(1);
      if (inOutage) {
        expect(bucket.fallbacks, `bucket from ${bucket.fromMs}`).toBeGreaterThan(0);
        expect(bucket.topTarget).toBe('spare/s1');
      } else {
        expect(bucket.fallbacks, `bucket from ${bucket.fromMs}`).toBe(0);
        expect(bucket.topTarget).toBe('main/m1');
        // Right after the outage the breaker still keeps a few requests away (skipped, not a fallback).
        if (bucket.fromMs !== 40 * MIN) expect(bucket.topShare).toBe(1);
      }
    }
    const main = route.perTarget.find((t) => t.id === 'main/m1')!;
    expect(main.breaker.open).toBeGreaterThan(0);
    expect(main.breaker.closed).toBeGreaterThan(0);
    expect(route.timeline.findIndex((b) => b.breakersOpened.includes('main/m1'))).toBe(2); // 10m-15m
    expect(route.perTarget.find((t) => t.id === 'spare/s1')!.breaker).toEqual({ open: 0, half_open: 0, closed: 0 });
  }, 30_000);

  it('the same seed gives the same report; another seed, another one', async () => {
    const flaky: GatewayConfigInput = {
      providers: {
        a: { type: 'simulated', latency: { dist: 'lognormal', median: '300ms', p99: '2s' }, faults: [{ kind: 'server', probability: 0.2 }] },
        b: { type: 'simulated', latency: '500ms', faults: [{ kind: 'rate_limit', probability: 0.1, retryAfter: '2s' }] },
      },
      routes: { chat: { targets: [{ provider: 'a', model: 'x' }, { provider: 'b', model: 'y' }] } },
    };
    const options = { duration: '20m', rps: 3 };
    const first = JSON.stringify(await simulateTraffic(flaky, { ...options, seed: 7 }));
    const again = JSON.stringify(await simulateTraffic(flaky, { ...options, seed: 7 }));
    const other = JSON.stringify(await simulateTraffic(flaky, { ...options, seed: 8 }));
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    // Streams too, and the demo config (retry jitter, hedges, recurring outages).
    const demo = { duration: '10m', stream: true, seed: 3 };
    expect(JSON.stringify(await simulateTraffic(DEMO_CONFIG, demo))).toBe(JSON.stringify(await simulateTraffic(DEMO_CONFIG, demo)));
  }, 30_000);

  it('puts a healthy simulated provider in place of a network one, and says so', async () => {
    const config: GatewayConfigInput = {
      providers: {
        openai: { type: 'openai', apiKey: 'sk-unused', baseURL: 'http://127.0.0.1:1/v1' },
        sim: { type: 'simulated', latency: '100ms', faults: [{ kind: 'server', probability: 0.3 }] },
      },
      routes: {
        chat: { targets: [{ provider: 'openai', model: 'gpt-4o' }, { provider: 'sim', model: 's' }] },
        direct: { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      },
    };
    const fetch = vi.spyOn(globalThis, 'fetch');
    let report;
    try {
      report = await simulateTraffic(config, { duration: '5m', rps: 1, routes: ['direct', 'chat'], stream: true });
      expect(fetch).not.toHaveBeenCalled();
    } finally {
      fetch.mockRestore();
    }
    expect(report.replaced).toEqual([{ provider: 'openai', type: 'openai' }]);
    expect(report.notes).toEqual(['openai: not simulated in the config; replaced by a healthy simulated provider']);
    expect(report.routes.map((r) => r.route)).toEqual(['chat', 'direct']); // config order
    for (const route of report.routes) {
      expectConsistent(route, 300);
      expect(route.successRate).toBe(1);
    }
    expect(report.routes[0]!.perTarget[0]).toMatchObject({ id: 'openai/gpt-4o', served: 300, failures: 0 });
  }, 30_000);

  it('refuses more than the request bound, bad options and bad configs', async () => {
    // 24h × 2/s × 2 routes = 345,600 requests.
    await expect(simulateTraffic(DEMO_CONFIG, { duration: '24h' })).rejects.toThrow(
      /would send 345600 requests \(172800 on each of 2 routes\), more than the limit of 200000/,
    );
    await expect(simulateTraffic(OUTAGE, { duration: '1h', rps: 100 })).rejects.toBeInstanceOf(SimulationOptionsError);
    await expect(simulateTraffic(OUTAGE, { duration: '10s', maxRequests: 19 })).rejects.toThrow(/limit of 19/);
    await expect(simulateTraffic(OUTAGE, { duration: 'soon' })).rejects.toThrow(/^duration: invalid duration/);
    await expect(simulateTraffic(OUTAGE, { rps: 0 })).rejects.toThrow(/^rps: expected/);
    await expect(simulateTraffic(OUTAGE, { routes: ['nope'] })).rejects.toThrow('no route named "nope" in the config (routes: chat)');

    const bad = { providers: {}, routes: { chat: { targets: [{ provider: 'gone', model: 'm' }] } } };
    const error = await simulateTraffic(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulationConfigError);
    expect((error as SimulationConfigError).problems[0]!.path).toBe('routes.chat.targets[0].provider');
  });

  it('aborts what still runs after the drain time, and says so', async () => {
    // Stalls without an end and no timeouts: the first minute's requests never finish by themselves.
    const stuck: GatewayConfigInput = {
      providers: { p: { type: 'simulated', latency: '100ms', faults: [{ kind: 'stall', between: ['0s', '1m'] }] } },
      routes: { r: { targets: [{ provider: 'p', model: 'm' }] } },
    };
    const route = (await simulateTraffic(stuck, { duration: '2m', rps: 1 })).routes[0]!;
    expectConsistent(route, 120);
    expect(route).toMatchObject({ successes: 60, failures: 60, unfinished: 60, failuresByKind: { aborted: 60 } });
  });

  it('runs one simulation at a time, and leaves Math.random as it found it', async () => {
    const flaky: GatewayConfigInput = {
      providers: { p: { type: 'simulated', latency: { dist: 'uniform', min: 10, max: 2000 }, faults: [{ kind: 'server', probability: 0.3 }] } },
      routes: { r: { targets: [{ provider: 'p', model: 'm' }] } },
    };
    const [a, b] = await Promise.all([simulateTraffic(flaky, { duration: '5m' }), simulateTraffic(flaky, { duration: '5m' })]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('leaves Math.random as it found it', async () => {
    const random = Math.random;
    await simulateTraffic(OUTAGE, { duration: '1m' });
    expect(Math.random).toBe(random);
  });
});

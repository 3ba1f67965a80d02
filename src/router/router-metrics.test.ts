import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { ERROR_KINDS, type ErrorKind } from '../llm/error-kind.js';
import { LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { simulated, type SimulatedOptions } from '../providers/simulated.js';
import type { ChatProvider } from '../providers/provider.js';
import { createRouter, type Router, type RouterOptions } from './router.js';
import { createRouterMetrics, type MetricsSource, type RouterMetricsOptions, type TargetMetrics } from './router-metrics.js';
import type { TokenPrices } from './target.js';

// 20 characters: 5 input tokens with the simulated providers' 4 characters per token.
const ask: ChatRequest = { messages: [{ role: 'user', content: 'abcd'.repeat(5) }] };
// 40 characters: 10 output tokens.
const REPLY = 'wxyz'.repeat(10);

type Spec = Omit<SimulatedOptions, 'clock' | 'name'> & { cost?: TokenPrices; provider?: ChatProvider };

function setup(specs: Record<string, Spec>, options: Partial<RouterOptions> = {}, metricsOptions: Partial<RouterMetricsOptions> = {}) {
  const clock = createVirtualClock();
  const providers = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, simulated({ reply: REPLY, ...spec, name, clock })]));
  const router = createRouter({
    targets: Object.entries(specs).map(([name, spec]) => ({ provider: spec.provider ?? providers[name]!, model: 'm', id: name, cost: spec.cost })),
    clock,
    retry: { wait: 100 },
    ...options,
  });
  const metrics = createRouterMetrics(router, { clock, route: 'chat', ...metricsOptions });
  const target = (id: string): TargetMetrics => {
    const found = metrics.snapshot().targets.find((t) => t.id === id);
    if (!found) throw new Error(`no target ${id} in the snapshot`);
    return found;
  };
  return { clock: clock as VirtualClock, providers, router, metrics, target };
}

const noFailures = (): Record<ErrorKind, number> => Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
const failuresOf = (counts: Partial<Record<ErrorKind, number>>) => ({ ...noFailures(), ...counts });

async function drain(stream: AsyncIterable<StreamEvent>): Promise<unknown> {
  try {
    for await (const _event of stream) {
      // read everything
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('router metrics: calls, retries and fallbacks', () => {
  it('counts a plain success with latency, tokens and cost', async () => {
    const { clock, router, metrics, target } = setup({ a: { latency: 200, cost: { input: 2, output: 10 } }, b: {} });
    await clock.run(router.chat(ask));
    const a = target('a');
    expect(a).toMatchObject({
      requests: 1,
      attempts: 1,
      successes: 1,
      failures: 0,
      failuresByKind: noFailures(),
      retries: 0,
      fallbacksFrom: 0,
      fallbacksTo: 0,
      tokens: { input: 5, output: 10 },
      lastError: null,
      lastSuccessAt: 200,
      inFlight: 0,
      latencyEwmaMs: 200,
      breaker: { state: 'closed', openUntil: null, trips: 0, windowCalls: 1, windowFailures: 0 },
      cooldown: null,
      health: { status: 'healthy', reason: 'ok', detail: '100% success over the last 60 s (1/1 attempts)', until: null },
    });
    expect(a.costUsd).toBeCloseTo((5 * 2 + 10 * 10) / 1e6, 12);
    expect(a.latencyMs).toMatchObject({ count: 1, sum: 200, min: 200, max: 200, p50: 200, p90: 200, p99: 200 });
    expect(a.ttftMs.count).toBe(0);
    const bounds = metrics.snapshot().histogramBoundsMs;
    expect(a.latencyMs.buckets).toEqual(bounds.map((le) => (le >= 200 ? 1 : 0)));
    expect(a.recent).toMatchObject({ windowMs: 60_000, successes: 1, failures: 0, successRate: 1, latencyMs: { count: 1, p50: 200 } });

    const b = target('b');
    expect([b.requests, b.attempts, b.successes, b.costUsd, b.lastSuccessAt, b.health.reason]).toEqual([0, 0, 0, 0, null, 'idle']);

    const { totals, route, at, startedAt } = metrics.snapshot();
    expect([route, at, startedAt]).toEqual(['chat', 200, 0]);
    expect(totals).toMatchObject({ requests: 1, attempts: 1, successes: 1, failures: 0, fallbacks: 0, fallbackPaths: [], tokens: { input: 5, output: 10 } });
    expect(totals.costUsd).toBeCloseTo(110e-6, 12);
    expect(totals.latencyMs).toMatchObject({ count: 1, sum: 200 });
    // The status line shows the route.
    expect(metrics.status()).toMatchObject({ route: 'chat', at: 200, status: 'healthy', reason: 'ok' });
  });

  it('counts retries on the same target, the fallback, and where the time went', async () => {
    const { clock, router, metrics, target } = setup(
      { a: { faults: [{ kind: 'server' }] }, b: { latency: 50 } },
      { retry: { attempts: 3, wait: 100 } },
    );
    await clock.run(router.chat(ask));
    const a = target('a');
    expect(a).toMatchObject({ requests: 1, attempts: 3, successes: 0, failures: 3, retries: 2, fallbacksFrom: 1, fallbacksTo: 0 });
    expect(a.failuresByKind).toEqual(failuresOf({ server: 3 }));
    expect(a.lastError).toMatchObject({ at: 200, kind: 'server', status: 500 });
    expect(a.lastError!.message).toContain('The server had an error');
    expect(a.latencyMs.count).toBe(0);
    expect(a.health).toEqual({ status: 'degraded', reason: 'recent_errors', detail: '3 failures in the last 60 s (last: server 500)', until: null });

    const b = target('b');
    expect(b).toMatchObject({ requests: 1, attempts: 1, successes: 1, failures: 0, retries: 0, fallbacksFrom: 0, fallbacksTo: 1, lastSuccessAt: 250 });
    expect(b.latencyMs).toMatchObject({ count: 1, sum: 50 });

    const { totals, events } = metrics.snapshot();
    expect(totals).toMatchObject({ requests: 1, attempts: 4, successes: 1, failures: 0, retries: 2, fallbacks: 1 });
    expect(totals.fallbackPaths).toEqual([{ from: 'a', to: 'b', count: 1 }]);
    expect(totals.failuresByKind).toEqual(noFailures()); // the call itself succeeded
    expect(totals.latencyMs).toMatchObject({ count: 1, sum: 250 }); // two 100 ms waits + B's 50 ms
    expect(totals.health).toMatchObject({ status: 'degraded', reason: 'targets_unhealthy', detail: 'a: degraded (recent_errors)' });

    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'fallback'],
    ]);
    expect(events[0]).toMatchObject({ type: 'retry', target: 'a', attempt: 1, delayMs: 100, kind: 'server', status: 500, at: 0 });
    expect(events[2]).toMatchObject({ type: 'fallback', from: 'a', to: 'b', at: 200, error: { kind: 'server', status: 500, provider: 'a', model: 'm' } });
  });

  it('counts failed calls by the final kind, and skips by reason', async () => {
    const { clock, router, metrics, target } = setup({ a: { faults: [{ kind: 'invalid_request' }] }, b: {} });
    await clock.run(router.chat(ask)).catch(() => {});
    await clock.run(router.chat(ask, { ignore: ['a'] }));
    const { totals, events } = metrics.snapshot();
    expect(totals).toMatchObject({ requests: 2, successes: 1, failures: 1, fallbacks: 0 });
    expect(totals.failuresByKind).toEqual(failuresOf({ invalid_request: 1 }));
    expect(totals.lastError).toMatchObject({ at: 0, kind: 'invalid_request', status: 400, target: 'a' });
    // A request error says nothing about health: the route stays healthy.
    expect(totals.recent).toMatchObject({ successes: 1, failures: 0 });
    expect(totals.health.status).toBe('healthy');
    expect(target('a').failuresByKind).toEqual(failuresOf({ invalid_request: 1 }));
    expect(target('a').skips).toMatchObject({ ignored: 1, cooldown: 0, breaker_open: 0 });
    expect(target('a').health.status).toBe('healthy');
    expect(events.map((e) => e.type)).toEqual(['failure']);
    expect(events[0]).toMatchObject({ type: 'failure', stream: false, attempts: 1, error: { kind: 'invalid_request', status: 400 } });
  });

  it('counts requests in flight while a call runs', async () => {
    const { clock, router, metrics } = setup({ a: { latency: 1000 } });
    const call = router.chat(ask);
    await clock.advance(500);
    const during = metrics.snapshot();
    expect([during.targets[0]!.inFlight, during.totals.inFlight, during.targets[0]!.requests, during.totals.requests]).toEqual([1, 1, 1, 0]);
    await clock.run(call);
    const after = metrics.snapshot();
    expect([after.targets[0]!.inFlight, after.totals.inFlight, after.totals.requests]).toEqual([0, 0, 1]);
  });
});

describe('router metrics: breakers and cooldowns', () => {
  it('follows a breaker through open, probe due, half-open and closed', async () => {
    const { clock, router, metrics, target } = setup(
      { a: { faults: [{ kind: 'server', between: ['0s', '20s'] }] }, b: {} },
      { breaker: { consecutive: 3, openFor: '30s' }, retry: { attempts: 1 } },
    );
    for (let i = 0; i < 3; i++) await clock.run(router.chat(ask));
    let a = target('a');
    expect(a.breakerTransitions).toEqual({ closed: 0, open: 1, half_open: 0, isolated: 0 });
    expect(a.breaker).toMatchObject({ state: 'open', openUntil: 30_000, trips: 1 });
    expect(a.health).toEqual({ status: 'unavailable', reason: 'breaker_open', detail: 'breaker open for another 30 s', until: 30_000 });
    expect(metrics.status()).toMatchObject({
      status: 'degraded',
      reason: 'targets_unhealthy',
      targets: [
        { id: 'a', status: 'unavailable', reason: 'breaker_open', until: 30_000 },
        { id: 'b', status: 'healthy', reason: 'ok' },
      ],
    });

    await clock.run(router.chat(ask));
    a = target('a');
    expect(a.skips.breaker_open).toBe(1);
    expect([a.requests, a.attempts, a.failures]).toEqual([3, 3, 3]);
    expect(metrics.snapshot().events.filter((e) => e.type === 'breaker')).toEqual([
      expect.objectContaining({ type: 'breaker', target: 'a', from: 'closed', to: 'open', at: 0 }),
    ]);

    await clock.advance(30_000);
    expect(target('a').health).toMatchObject({ status: 'degraded', reason: 'probe_due' });
    const probe = await clock.run(router.chat(ask));
    expect(probe.target).toBe('a');
    a = target('a');
    expect(a.breakerTransitions).toEqual({ closed: 1, open: 1, half_open: 1, isolated: 0 });
    expect(a.breaker).toMatchObject({ state: 'closed', openUntil: null });
    // 3 failures and 1 success in the last minute: too few to judge a rate, but errors.
    expect(a.health).toMatchObject({ status: 'degraded', reason: 'recent_errors' });

    await clock.advance(60_000);
    expect(target('a').health).toMatchObject({ status: 'healthy', reason: 'idle' });
    expect(metrics.status()).toMatchObject({ status: 'healthy', reason: 'idle' });
  });

  it('reports a cooldown with its reason and end, and the route when every target is away', async () => {
    const { clock, router, metrics, target } = setup({
      a: { faults: [{ kind: 'rate_limit', retryAfter: '30s', times: 1 }] },
      b: { faults: [{ kind: 'rate_limit', retryAfter: '45s', times: 1 }] },
      c: {},
    });
    await clock.run(router.chat(ask, { ignore: ['b'] }));
    let a = target('a');
    expect(a).toMatchObject({ cooldowns: 1, cooldown: { until: 30_000, reason: 'rate_limit' }, fallbacksFrom: 1 });
    expect(a.failuresByKind.rate_limit).toBe(1);
    expect(a.health).toEqual({ status: 'unavailable', reason: 'cooldown', detail: 'cooling down (rate_limit) for another 30 s', until: 30_000 });

    await clock.advance(10_000);
    await clock.run(router.chat(ask, { ignore: ['c'] })).catch(() => {}); // a skipped (cooling), b rate-limited: all failed
    a = target('a');
    expect(a.skips.cooldown).toBe(1);
    expect(target('b').cooldown).toEqual({ until: 55_000, reason: 'rate_limit' });
    const { totals, events } = metrics.snapshot();
    expect(totals.failuresByKind.rate_limit).toBe(1);
    expect(events.filter((e) => e.type === 'cooldown').map((e) => [e.at, (e as { target: string }).target, (e as { until: number }).until])).toEqual([
      [0, 'a', 30_000],
      [10_000, 'b', 55_000],
    ]);

    router.removeTarget('c');
    expect(metrics.status()).toMatchObject({
      status: 'unavailable',
      reason: 'all_unavailable',
      until: 30_000,
      detail: 'every target is unavailable; the first returns in 20 s',
    });
    await clock.advance(20_000);
    expect(target('a').cooldown).toBeNull();
    expect(metrics.status().targets[0]).toMatchObject({ id: 'a', status: 'degraded', reason: 'recent_errors' });
  });

  it('marks a target disabled after an auth error', async () => {
    const { clock, router, target } = setup({ a: { faults: [{ kind: 'auth' }] }, b: {} });
    await clock.run(router.chat(ask));
    expect(target('a').health).toEqual({
      status: 'unavailable',
      reason: 'disabled',
      detail: 'disabled after a auth error for another 600 s',
      until: 600_000,
    });
    expect(target('a').cooldown).toEqual({ until: 600_000, reason: 'auth' });
  });

  it('judges the recent success rate of targets (attempts) and of the route (calls)', async () => {
    const { clock, router, metrics, target } = setup({ a: { faults: [{ kind: 'overloaded', every: 2 }] } }, { retry: { attempts: 1 }, breaker: false });
    for (let i = 0; i < 10; i++) {
      await clock.run(router.chat(ask)).catch(() => {});
      await clock.advance(1000);
    }
    const a = target('a');
    expect([a.successes, a.failures, a.failuresByKind.overloaded]).toEqual([5, 5, 5]);
    expect(a.breaker).toBeNull();
    expect(a.health).toEqual({ status: 'degraded', reason: 'low_success_rate', detail: '50% success over the last 60 s (5/10 attempts)', until: null });
    const status = metrics.status();
    expect(status).toMatchObject({ status: 'degraded', reason: 'low_success_rate', detail: '50% success over the last 60 s (5/10 calls)' });
    const { totals } = metrics.snapshot();
    expect(totals.recent).toMatchObject({ successes: 5, failures: 5, successRate: 0.5 });
    // Ten calls over 10 s sit in the first slot of the series.
    const last = totals.series[totals.series.length - 1]!;
    const first = totals.series.find((p) => p.successes + p.failures > 0)!;
    expect(totals.series).toHaveLength(30);
    expect([first.at, first.successes, first.failures]).toEqual([0, 5, 5]);
    expect(last.at).toBe(10_000);

    // Healthy again once the bad minute has passed and traffic succeeds.
    await clock.advance(60_000);
    expect(target('a').health.reason).toBe('idle');
  });
});

describe('router metrics: streams', () => {
  it('records time to first token and the stream duration', async () => {
    const { clock, router, target, metrics } = setup({ a: { firstToken: 100, chunkInterval: 10, reply: 'one two three four' } });
    await clock.run(drain(router.stream(ask)));
    const a = target('a');
    // Four word chunks: the first at 100 ms, then three 10 ms intervals.
    expect(a.ttftMs).toMatchObject({ count: 1, sum: 100, p50: 100 });
    expect(a.latencyMs).toMatchObject({ count: 1, sum: 130 });
    expect(a.ttftEwmaMs).toBe(100);
    expect(a.tokens).toEqual({ input: 5, output: 5 });
    const { totals } = metrics.snapshot();
    expect(totals.ttftMs).toMatchObject({ count: 1, sum: 100 });
    expect(totals.latencyMs).toMatchObject({ count: 1, sum: 130 });
    expect(totals.recent.ttftMs).toMatchObject({ count: 1, p99: 100 });
  });

  it('the route TTFT includes the failed first target; the target TTFT does not', async () => {
    const { clock, router, metrics, target } = setup(
      { a: { faults: [{ kind: 'stall' }] }, b: { firstToken: 50, chunkInterval: 10, reply: 'one two' } },
      { timeouts: { firstToken: '2s' }, retry: { attempts: 1 } },
    );
    await clock.run(drain(router.stream(ask)));
    expect(target('a').failuresByKind.timeout).toBe(1);
    expect(target('a').lastError).toMatchObject({ at: 2000, kind: 'timeout' });
    expect(target('b')).toMatchObject({ successes: 1, fallbacksTo: 1, ttftMs: { count: 1, sum: 50 }, latencyMs: { count: 1, sum: 60 } });
    const { totals } = metrics.snapshot();
    expect(totals.ttftMs).toMatchObject({ count: 1, sum: 2050 });
    expect(totals.latencyMs).toMatchObject({ count: 1, sum: 2060 });
  });

  it('a stream cut after its first token is a failure of the call and of the target, not a success', async () => {
    const { clock, router, metrics, target } = setup({ a: { faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 1 }] }, b: {} });
    const error = await clock.run(drain(router.stream(ask)));
    expect((error as LlmError).kind).toBe('connection');
    const a = target('a');
    expect([a.successes, a.failures, a.failuresByKind.connection, a.latencyMs.count, a.ttftMs.count]).toEqual([0, 1, 1, 0, 0]);
    const { totals, events } = metrics.snapshot();
    expect([totals.requests, totals.successes, totals.failures, totals.failuresByKind.connection]).toEqual([1, 0, 1, 1]);
    expect(events).toEqual([expect.objectContaining({ type: 'failure', stream: true, error: expect.objectContaining({ kind: 'connection' }) })]);
  });
});

describe('router metrics: secrets, the event ring and lifecycle', () => {
  const KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUv0123456789';

  it('never lets key material into the snapshot, the status or the ring', async () => {
    const clock = createVirtualClock();
    // A provider (or a wrapper around one) that put a key into an error after it was built.
    const leaky: ChatProvider = {
      name: 'leaky',
      protocol: 'function',
      chat: () => {
        const error = new LlmError({ kind: 'server', status: 500, message: 'upstream failed' });
        error.message = `upstream failed for Authorization: Bearer ${KEY} (key ${KEY})`;
        return Promise.reject(error);
      },
      stream: () => {
        throw new Error('not used');
      },
    };
    const fromConfig = simulated({ name: 'sim', clock, faults: [{ kind: 'overloaded', message: `bad key ${KEY}` }] });
    const router = createRouter({
      targets: [
        { provider: leaky, model: 'm', id: 'leaky' },
        { provider: fromConfig, model: 'm', id: 'sim' },
      ],
      clock,
      retry: { attempts: 1 },
    });
    const metrics = createRouterMetrics(router, { clock, eventTypes: ['attempt', 'retry', 'fallback', 'hedge', 'breaker', 'cooldown', 'success', 'failure'] });
    await clock.run(router.chat(ask)).catch(() => {});
    const snapshot = metrics.snapshot();
    const text = JSON.stringify(snapshot) + JSON.stringify(metrics.status()) + JSON.stringify(metrics.events());
    expect(text).not.toContain('AbCdEfGhIjKlMnOpQrStUv');
    expect(text).toContain('sk-proj-***');
    const leakyTarget = snapshot.targets.find((t) => t.id === 'leaky')!;
    expect(leakyTarget.lastError?.message).toBe('upstream failed for Authorization: Bearer *** (key sk-proj-***)');
    expect(snapshot.events.find((e) => e.type === 'fallback')).toMatchObject({ error: { message: expect.stringContaining('sk-proj-***') } });
  });

  it('is plain JSON: a round trip gives the same object', async () => {
    const { clock, router, metrics } = setup({ a: { faults: [{ kind: 'server', times: 1 }] }, b: {} }, { breaker: { consecutive: 1, openFor: '10s' } });
    await clock.run(router.chat(ask));
    await clock.run(drain(router.stream(ask)));
    const snapshot = metrics.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toStrictEqual(snapshot);
    const status = metrics.status();
    expect(JSON.parse(JSON.stringify(status))).toStrictEqual(status);
  });

  it('keeps a bounded ring of recent events, numbered for polling', async () => {
    const { clock, router, metrics } = setup(
      { a: { faults: [{ kind: 'server' }] } },
      { retry: { attempts: 4, wait: 10 }, breaker: false },
      { eventsKept: 3, eventTypes: ['retry', 'success', 'failure'] },
    );
    await clock.run(router.chat(ask)).catch(() => {}); // 3 retries + 1 failure = 4 events
    const all = metrics.events();
    expect(all.map((e) => [e.seq, e.type])).toEqual([
      [2, 'retry'],
      [3, 'retry'],
      [4, 'failure'],
    ]);
    expect(all[2]).toMatchObject({ type: 'failure', attempts: 4, durationMs: 30 });
    expect(metrics.events(3).map((e) => e.seq)).toEqual([4]);
    expect(metrics.events(4)).toEqual([]);
    expect(metrics.snapshot({ events: false, series: false })).toMatchObject({ events: [], totals: { series: [] } });
  });

  it('records successes in the ring when asked, with tokens and attempt counts', async () => {
    const { clock, router, metrics } = setup({ a: { faults: [{ kind: 'server', times: 1 }] } }, {}, { eventTypes: ['success'] });
    await clock.run(router.chat(ask));
    expect(metrics.events()).toEqual([
      { seq: 1, type: 'success', at: 100, callId: 1, target: 'a', stream: false, durationMs: 100, attempts: 2, inputTokens: 5, outputTokens: 10 },
    ]);
  });

  it('counts hedges per target and for the route, and the latency of the lane that won', async () => {
    const { clock, router, metrics, target } = setup({ a: { latency: 1000 }, b: { latency: 100 } }, { hedge: { delay: 200 } });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('b');
    expect([target('a').hedges, target('b').hedges]).toEqual([0, 1]);
    expect(target('a')).toMatchObject({ requests: 1, attempts: 1, successes: 0 });
    expect(target('b')).toMatchObject({ requests: 1, attempts: 1, successes: 1, latencyMs: { count: 1, sum: 100 } });
    const { totals, events } = metrics.snapshot();
    expect(totals).toMatchObject({ requests: 1, attempts: 2, successes: 1, hedges: 1, fallbacks: 0, latencyMs: { count: 1, sum: 300 } });
    expect(events).toEqual([{ seq: 1, type: 'hedge', at: 200, callId: 1, target: 'b', afterMs: 200 }]);
  });

  it('drops removed targets from the snapshot but keeps the route totals', async () => {
    const { clock, router, metrics } = setup({ a: {}, b: {} });
    await clock.run(router.chat(ask));
    router.removeTarget('a');
    const snapshot = metrics.snapshot();
    expect(snapshot.targets.map((t) => t.id)).toEqual(['b']);
    expect(snapshot.totals.successes).toBe(1);
    router.addTarget({ provider: simulated({ name: 'a', clock }), model: 'm', id: 'a' });
    expect(metrics.snapshot().targets.find((t) => t.id === 'a')?.successes).toBe(0);
  });

  it('stops counting after dispose', async () => {
    const { clock, router, metrics } = setup({ a: {} });
    await clock.run(router.chat(ask));
    metrics.dispose();
    metrics.dispose();
    await clock.run(router.chat(ask));
    expect(metrics.snapshot().totals.requests).toBe(1);
  });

  it('rejects bad options', () => {
    const { router } = setup({ a: {} });
    const clock = createVirtualClock();
    expect(() => createRouterMetrics(router, { clock, degradedBelow: 2 })).toThrow(/degradedBelow/);
    expect(() => createRouterMetrics(router, { clock, eventsKept: -1 })).toThrow(/eventsKept/);
    expect(() => createRouterMetrics(router, { clock, boundsMs: [5, 1] })).toThrow(/bounds/);
  });
});

// Keeps the Router type honest as a MetricsSource (a compile-time check).
const _fits: (router: Router) => MetricsSource = (router) => router;

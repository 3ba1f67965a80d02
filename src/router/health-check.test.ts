import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { simulated } from '../providers/simulated.js';
import { createRouter } from './router.js';
import type { HealthCheckResult } from './health-check.js';

const ask: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };

function setup(aFaults: Parameters<typeof simulated>[0] = {}) {
  const clock = createVirtualClock();
  const a = simulated({ name: 'a', clock, ...aFaults });
  const b = simulated({ name: 'b', clock });
  const router = createRouter({
    clock,
    targets: [
      { provider: a, model: 'm', id: 'a' },
      { provider: b, model: 'm', id: 'b' },
    ],
    breaker: { consecutive: 2, openFor: '1m' },
    retry: { attempts: 1 },
  });
  return { clock, a, b, router };
}

describe('active health checks', () => {
  it('probes every target each interval with a cheap request, until stopped', async () => {
    const { clock, a, b, router } = setup();
    const checks = router.startHealthChecks({ interval: '30s' });
    const seen: HealthCheckResult[] = [];
    checks.onResult((r) => seen.push(r));
    await clock.advance(29_999);
    expect(a.control.calls).toBe(0);
    await clock.advance(1);
    await clock.advance(30_000);
    expect(a.control.calls).toBe(2);
    expect(b.control.calls).toBe(2);
    expect(seen.filter((r) => r.outcome === 'healthy')).toHaveLength(4);
    expect(a.control.log[0]).toMatchObject({ model: 'm', stream: false });
    checks.stop();
    await clock.advance(120_000);
    expect(a.control.calls).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts failing probes in the breaker, so a dead target is opened before traffic hits it', async () => {
    const { clock, router } = setup({ faults: [{ kind: 'overloaded' }] });
    const checks = router.startHealthChecks({ interval: '10s' });
    await clock.advance(20_000);
    expect(checks.latest().get('a')).toMatchObject({ outcome: 'unhealthy', kind: 'overloaded' });
    expect(router.runtime('a')!.breaker!.state).toBe('open');
    const answer = await clock.run(router.chat(ask));
    expect(answer.attempts[0]).toMatchObject({ target: 'a', skipReason: 'breaker_open' });
    await clock.advance(10_000);
    expect(checks.latest().get('a')).toMatchObject({ outcome: 'skipped' });
    router.close();
  });

  it('a probe that times out is unhealthy with kind timeout', async () => {
    const { clock, router } = setup({ latency: 60_000 });
    const checks = router.startHealthChecks({ interval: '10s', timeout: '2s', targets: ['a'] });
    const results = await clock.run(checks.checkNow());
    expect(results).toEqual([expect.objectContaining({ target: 'a', outcome: 'unhealthy', kind: 'timeout', latencyMs: 2000 })]);
    router.close();
  });

  it('brings back a target disabled after an auth error once a probe succeeds', async () => {
    const { clock, a, router } = setup({ faults: [{ kind: 'auth', times: 1 }] });
    await clock.run(router.chat(ask));
    expect(router.runtime('a')!.availability(clock.now())).toMatchObject({ reason: 'disabled' });
    const checks = router.startHealthChecks({ interval: '1m' });
    await clock.run(checks.checkNow());
    expect(router.runtime('a')!.availability(clock.now())).toBeUndefined();
    expect((await clock.run(router.chat(ask))).target).toBe('a');
    expect(a.control.calls).toBe(3);
    router.close();
  });

  it('leaves a target in a rate-limit cooldown alone', async () => {
    const { clock, a, router } = setup({ faults: [{ kind: 'rate_limit', retryAfter: '5m', times: 1 }] });
    await clock.run(router.chat(ask));
    const checks = router.startHealthChecks({ interval: '1m' });
    const [result] = await clock.run(checks.checkNow());
    expect(result).toMatchObject({ target: 'a', outcome: 'skipped' });
    expect(a.control.calls).toBe(1);
    router.close();
  });

  it('rejects a non-positive interval', () => {
    const { router } = setup();
    expect(() => router.startHealthChecks({ interval: 0 })).toThrow(/interval/);
  });
});

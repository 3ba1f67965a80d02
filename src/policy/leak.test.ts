import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { bulkhead } from './bulkhead.js';
import { circuitBreaker } from './circuit-breaker.js';
import type { Operation } from './context.js';
import { fallback } from './fallback.js';
import { hedge } from './hedge.js';
import { pipeline, type Composable } from './pipeline.js';
import { rateLimiter } from './rate-limiter.js';
import { retryBudget, unlimitedBudget } from './retry-budget.js';
import { retry } from './retry.js';
import { deadline, timeout } from './timeout.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';

/**
 * A gateway runs every request of a connection (or of its lifetime) under one long-lived signal.
 * Each policy must take back every listener it adds to that signal and every timer it sets,
 * whatever way a call ends: success, failure, timeout, lost hedge, retry, queue. Any build-up
 * shows after a few calls already (the count must stay exactly 0), so each policy alone runs
 * 1,000 calls and the pipeline of all of them 10,000.
 */
const CALLS = 10_000;
const BATCH = 50;

/**
 * Ends in turn with successes, errors (async and sync), a wait of 30ms (past the 20ms timeouts
 * below) or a reply after 5ms.
 */
function mixed(clock: VirtualClock): Operation<string> {
  let n = 0;
  return ({ signal }) => {
    switch (n++ % 8) {
      case 0:
      case 1:
      case 2:
        return 'ok';
      case 3:
      case 4:
        return Promise.reject(new Error('boom'));
      case 5:
        throw new Error('sync boom');
      case 6:
        return clock.sleep(30, signal).then(() => 'slow');
      default:
        return clock.sleep(5, signal).then(() => 'late');
    }
  };
}

const cases: Array<[string, (clock: VirtualClock) => Composable<unknown>, number]> = [
  ['timeout (aggressive)', (clock) => timeout(20, { clock }), CALLS / 10],
  ['timeout (cooperative)', (clock) => timeout(20, { clock, mode: 'cooperative' }), CALLS / 10],
  ['deadline', (clock) => deadline(20, { clock }), CALLS / 10],
  ['retry', (clock) => retry({ attempts: 3, wait: 1, clock }), CALLS / 10],
  ['hedge', (clock) => hedge({ delay: 2, maxAttempts: 3, budget: unlimitedBudget, clock }), CALLS / 10],
  ['circuit breaker', (clock) => circuitBreaker({ consecutive: 3, openFor: 10, clock }), CALLS / 10],
  ['bulkhead', (clock) => bulkhead({ concurrency: 1, clock }), CALLS / 10],
  ['rate limiter', (clock) => rateLimiter({ capacity: 5, refill: { amount: 1, every: 1 }, clock }), CALLS / 10],
  ['fallback', () => fallback('backup'), CALLS / 10],
  [
    'pipeline of all',
    (clock) =>
      pipeline(
        fallback('backup'),
        deadline(200, { clock }),
        retry({ attempts: 3, wait: 1, budget: retryBudget({ clock }), clock }),
        circuitBreaker({ consecutive: 5, openFor: 10, clock }),
        bulkhead({ concurrency: 2, queue: 2, clock }),
        rateLimiter({ capacity: 5, refill: { amount: 1, every: 1 }, clock }),
        hedge({ delay: 2, budget: unlimitedBudget, clock }),
        timeout(20, { clock }),
      ),
    CALLS,
  ],
];

describe('many calls under one parent signal', () => {
  it.each(cases)('%s: no listener builds up on the signal and no timer is left', async (_name, make, calls) => {
    const clock = createVirtualClock();
    const parent = new AbortController();
    // A batch of calls listens at once, rightly.
    setMaxListeners(Infinity, parent.signal);
    const policy = make(clock);
    const operation = mixed(clock);
    // In batches of concurrent calls, so that virtual time does not have to step call by call.
    for (let done = 0; done < calls; done += BATCH) {
      const batch = Array.from({ length: BATCH }, () => policy.execute(operation, { signal: parent.signal }).catch(() => undefined));
      await clock.run(Promise.all(batch));
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    }
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ['bulkhead', (clock: VirtualClock) => bulkhead({ concurrency: 3, queue: Infinity, clock })],
    ['rate limiter', (clock: VirtualClock) => rateLimiter({ capacity: 3, refill: { amount: 1, every: 1 }, clock })],
  ] as const)('%s: concurrent queued calls take their listeners back', async (_name, make) => {
    const clock = createVirtualClock();
    const parent = new AbortController();
    // Up to a thousand calls wait at once, each rightly listening while it waits.
    setMaxListeners(Infinity, parent.signal);
    const policy = make(clock);
    const operation = mixed(clock);
    const calls = Array.from({ length: CALLS / 10 }, () => policy.execute(operation, { signal: parent.signal }).catch(() => undefined));
    await clock.run(Promise.all(calls));
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

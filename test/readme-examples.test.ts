/**
 * The README's policy examples, run on the virtual clock. If one of these breaks, the README
 * is lying: fix both together.
 */
import { describe, expect, it } from 'vitest';
import {
  circuitBreaker,
  createVirtualClock,
  deadline,
  fallback,
  hedge,
  pipeline,
  retry,
  retryBudget,
  retryIfMessage,
  stopOn,
  timeout,
  waitChain,
  waitExponential,
  waitFixed,
  type PolicyContext,
} from '../src/index.js';

class AuthError extends Error {}

describe('README examples', () => {
  it('the first example: deadline, retry with server hints, breaker, per-attempt timeout', async () => {
    const clock = createVirtualClock();
    let calls = 0;
    // A flaky upstream: a 429 with a 2 s hint, then an answer.
    const callModel = async (prompt: string, { signal }: { signal: AbortSignal }) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('rate limited'), { retryAfterMs: 2000 });
      await clock.sleep(300, signal);
      return `echo: ${prompt}`;
    };

    const resilient = pipeline(
      deadline('60s', { clock }),
      retry({ attempts: 4, maxRetryAfter: '20s', clock }),
      circuitBreaker({ window: '30s', failureRate: 0.5, minCalls: 10, openFor: '60s', clock }),
      timeout('10s', { clock }),
    );
    const text = await clock.run(resilient.execute(({ signal }: PolicyContext) => callModel('hi', { signal })));
    expect(text).toBe('echo: hi');
    expect(calls).toBe(2);
    expect(clock.now()).toBe(2300);
  });

  it('retry algebra: chained waits, message conditions, stopOn', async () => {
    const clock = createVirtualClock();
    const policy = retry({
      attempts: 6,
      wait: waitChain([2, waitFixed('100ms')], waitExponential({ base: '1s', maxDelay: '30s' })),
      retryIf: retryIfMessage('rate limit', /overloaded/i),
      clock,
    });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delay));
    let n = 0;
    const result = await clock.run(
      policy.execute(async () => {
        if (++n < 5) throw new Error(n % 2 ? 'Rate limit reached' : 'Overloaded');
        return n;
      }),
    );
    expect(result).toBe(5);
    expect(delays).toEqual([100, 100, 1000, 2000]);

    const never = retry({ retryIf: stopOn(AuthError), clock });
    let tries = 0;
    await expect(
      never.execute(async () => {
        tries++;
        throw new AuthError('bad key');
      }),
    ).rejects.toBeInstanceOf(AuthError);
    expect(tries).toBe(1);
  });

  it('hedge with a budget, fallback to a value', async () => {
    const clock = createVirtualClock();
    const budget = retryBudget({ ratio: 0.2, minPerSecond: 10, clock });
    const fast = hedge({ delay: '2s', maxAttempts: 2, budget, clock });
    let starts = 0;
    const answer = await clock.run(
      fast.execute(async ({ signal }) => {
        const mine = ++starts;
        await clock.sleep(mine === 1 ? 10_000 : 500, signal);
        return `attempt ${mine}`;
      }),
    );
    expect(answer).toBe('attempt 2');
    expect(clock.now()).toBe(2500);

    const safe = fallback('Sorry, try again later.');
    await expect(safe.execute(async () => Promise.reject(new Error('down')))).resolves.toBe('Sorry, try again later.');
  });
});

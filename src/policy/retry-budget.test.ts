import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { retryBudget, tokenBucketBudget, unlimitedBudget, type RatioBudgetSnapshot, type TokenBudgetSnapshot } from './retry-budget.js';
import { createVirtualClock } from './virtual-clock.js';

function acquireAll(budget: { tryAcquire(): boolean }, max = 10_000): number {
  let n = 0;
  while (n < max && budget.tryAcquire()) n++;
  return n;
}

describe('retryBudget (ratio with a floor, over a sliding window)', () => {
  it('defaults: a floor of 10/s over a 10s window allows 100 extra attempts with no traffic', () => {
    const budget = retryBudget({ clock: createVirtualClock() });
    expect(acquireAll(budget)).toBe(100);
    expect(budget.snapshot()).toEqual({ kind: 'ratio', calls: 0, extras: 100, limit: 100, allowed: false });
  });

  it('the floor (minPerSecond × window) holds when there are few calls', () => {
    const budget = retryBudget({ ratio: 0.2, minPerSecond: 1, window: '5s', clock: createVirtualClock() });
    for (let i = 0; i < 10; i++) budget.recordCall(); // ratio alone would allow 2
    expect(acquireAll(budget)).toBe(5);
  });

  it('the ratio takes over when calls are many', () => {
    const budget = retryBudget({ ratio: 0.2, minPerSecond: 0.5, window: '10s', clock: createVirtualClock() });
    for (let i = 0; i < 100; i++) budget.recordCall();
    expect(acquireAll(budget)).toBe(20);
    expect(budget.snapshot()).toMatchObject({ calls: 100, extras: 20, limit: 20, allowed: false });
  });

  it('with no floor, extra attempts are a share of recorded calls', () => {
    const budget = retryBudget({ ratio: 0.5, minPerSecond: 0, clock: createVirtualClock() });
    expect(budget.tryAcquire()).toBe(false);
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(true); // 0 < 0.5
    expect(budget.tryAcquire()).toBe(false); // 1 < 0.5 is false
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(false); // 1 < 1 is false
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(true); // 1 < 1.5
  });

  it('recovers as the window slides, one bucket at a time', async () => {
    const clock = createVirtualClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, window: '10s', clock }); // 10 per window
    expect(acquireAll(budget, 6)).toBe(6); // at t=0
    await clock.advance(5000);
    expect(acquireAll(budget)).toBe(4); // at t=5s: exhausted
    await clock.advance(4999);
    expect(budget.tryAcquire()).toBe(false); // t=9.999s: nothing has left the window yet
    await clock.advance(1);
    expect(acquireAll(budget)).toBe(6); // t=10s: the six from t=0 left
    await clock.advance(5000);
    expect(acquireAll(budget)).toBe(4); // t=15s: the four from t=5s left
  });

  it('forgets calls as the window slides too (the ratio allowance shrinks)', async () => {
    const clock = createVirtualClock();
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 0, window: '2s', buckets: 2, clock });
    for (let i = 0; i < 50; i++) budget.recordCall();
    expect(budget.snapshot().limit).toBe(5);
    await clock.advance(2000);
    expect(budget.snapshot()).toMatchObject({ calls: 0, limit: 0, allowed: false });
    expect(budget.tryAcquire()).toBe(false);
  });

  it('a long idle gap clears the whole window', async () => {
    const clock = createVirtualClock(1_700_000_000_000);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, window: '3s', clock });
    acquireAll(budget);
    await clock.advance(3_600_000);
    expect(budget.snapshot()).toMatchObject({ extras: 0, allowed: true });
    expect(acquireAll(budget)).toBe(3);
  });

  it('tells onExhausted each time it refuses, with the state', () => {
    const budget = retryBudget({ ratio: 0, minPerSecond: 0.1, window: '10s', clock: createVirtualClock() });
    const events: RatioBudgetSnapshot[] = [];
    const dispose = budget.onExhausted((e) => events.push(e));
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    expect(events).toEqual([{ kind: 'ratio', calls: 0, extras: 1, limit: 1, allowed: false }]);
    dispose();
    budget.tryAcquire();
    expect(events).toHaveLength(1);
  });

  it('rejects invalid options', () => {
    expect(() => retryBudget({ ratio: -0.1 })).toThrow(RangeError);
    expect(() => retryBudget({ minPerSecond: -1 })).toThrow(RangeError);
    expect(() => retryBudget({ window: 0 })).toThrow(RangeError);
    expect(() => retryBudget({ window: 'ten' })).toThrow(TypeError);
    expect(() => retryBudget({ buckets: 0 })).toThrow(RangeError);
  });

  it('property: decides exactly like a naive model of a bucketed sliding window', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('call' as const) }),
      fc.record({ kind: fc.constant('extra' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(op, { minLength: 30, maxLength: 120 }),
        async (ratio, minPerSecond, buckets, ops) => {
          const clock = createVirtualClock();
          const windowMs = 5000;
          const budget = retryBudget({ ratio, minPerSecond, window: windowMs, buckets, clock });
          const bucketMs = windowMs / buckets;
          const calls: number[] = [];
          const extras: number[] = [];
          const live = (times: number[]) =>
            times.filter((t) => Math.floor(clock.now() / bucketMs) - Math.floor(t / bucketMs) < buckets).length;
          for (const o of ops) {
            if (o.kind === 'advance') await clock.advance(o.ms);
            else if (o.kind === 'call') {
              budget.recordCall();
              calls.push(clock.now());
            } else {
              const expected = live(extras) < Math.max((minPerSecond * windowMs) / 1000, ratio * live(calls));
              expect(budget.tryAcquire()).toBe(expected);
              if (expected) extras.push(clock.now());
            }
            expect(budget.snapshot()).toMatchObject({ calls: live(calls), extras: live(extras) });
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('tokenBucketBudget (gRPC retry throttling)', () => {
  it('defaults: 10 tokens; retries stop once 5 failures bring it to the threshold of 5', () => {
    const budget = tokenBucketBudget();
    expect(budget.snapshot()).toEqual({ kind: 'token', tokens: 10, maxTokens: 10, threshold: 5, allowed: true });
    for (let i = 0; i < 4; i++) budget.recordFailure();
    expect(budget.tryAcquire()).toBe(true); // 6 > 5
    budget.recordFailure();
    expect(budget.tryAcquire()).toBe(false); // 5 > 5 is false
    budget.recordSuccess();
    expect(budget.snapshot().tokens).toBe(5.1);
    expect(budget.tryAcquire()).toBe(true);
  });

  it('asking does not spend tokens; only failures do', () => {
    const budget = tokenBucketBudget({ maxTokens: 4 });
    for (let i = 0; i < 100; i++) expect(budget.tryAcquire()).toBe(true);
    budget.recordCall();
    expect(budget.snapshot().tokens).toBe(4);
  });

  it('adds tokenRatio per success in exact thousandths and never passes maxTokens', () => {
    const budget = tokenBucketBudget({ maxTokens: 3, tokenRatio: 0.3 });
    for (let i = 0; i < 3; i++) budget.recordFailure();
    expect(budget.snapshot()).toMatchObject({ tokens: 0, threshold: 1.5, allowed: false });
    for (let i = 0; i < 5; i++) budget.recordSuccess();
    expect(budget.snapshot().tokens).toBe(1.5); // exact: not 1.4999999
    expect(budget.tryAcquire()).toBe(false);
    budget.recordSuccess();
    expect(budget.tryAcquire()).toBe(true);
    for (let i = 0; i < 100; i++) budget.recordSuccess();
    expect(budget.snapshot().tokens).toBe(3);
  });

  it('never goes below zero, and tells onExhausted when it refuses', () => {
    const budget = tokenBucketBudget({ maxTokens: 2 });
    const events: TokenBudgetSnapshot[] = [];
    budget.onExhausted((e) => events.push(e));
    for (let i = 0; i < 10; i++) budget.recordFailure();
    expect(budget.snapshot().tokens).toBe(0);
    budget.recordSuccess();
    expect(budget.snapshot().tokens).toBe(0.1);
    expect(budget.tryAcquire()).toBe(false);
    expect(events).toEqual([{ kind: 'token', tokens: 0.1, maxTokens: 2, threshold: 1, allowed: false }]);
  });

  it('rejects invalid options', () => {
    expect(() => tokenBucketBudget({ maxTokens: 0 })).toThrow(RangeError);
    expect(() => tokenBucketBudget({ tokenRatio: 0 })).toThrow(RangeError);
    expect(() => tokenBucketBudget({ tokenRatio: Infinity })).toThrow(RangeError);
  });

  it('property: tokens stay within [0, maxTokens] and retries are allowed exactly above half', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 1000 }).map((n) => n / 1000),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 200 }),
        (maxTokens, tokenRatio, outcomes) => {
          const budget = tokenBucketBudget({ maxTokens, tokenRatio });
          let model = maxTokens * 1000;
          for (const ok of outcomes) {
            if (ok) budget.recordSuccess();
            else budget.recordFailure();
            model = ok ? Math.min(maxTokens * 1000, model + Math.round(tokenRatio * 1000)) : Math.max(0, model - 1000);
            const { tokens } = budget.snapshot();
            expect(tokens).toBeGreaterThanOrEqual(0);
            expect(tokens).toBeLessThanOrEqual(maxTokens);
            expect(tokens).toBe(model / 1000);
            expect(budget.tryAcquire()).toBe(model > (maxTokens * 1000) / 2);
          }
        },
      ),
    );
  });
});

describe('unlimitedBudget', () => {
  it('always allows', () => {
    expect(acquireAll(unlimitedBudget, 1000)).toBe(1000);
  });
});

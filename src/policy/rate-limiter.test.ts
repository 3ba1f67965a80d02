import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RateLimitCostError, rateLimiter, type RateLimitRejectEvent, type RateLimitWaitEvent } from './rate-limiter.js';
import { RateLimitedError, isPolicyError } from './errors.js';
import { createVirtualClock } from './virtual-clock.js';
import { NEVER_ABORTED } from './context.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('rateLimiter, reject mode', () => {
  it('lets `capacity` calls through, then rejects with the time until the next unit', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 2, refill: { amount: 1, every: '1s' }, mode: 'reject', clock });
    const events: RateLimitRejectEvent[] = [];
    limiter.onReject((e) => events.push(e));
    expect(await limiter.execute(() => 'a')).toBe('a');
    expect(await limiter.execute(() => 'b')).toBe('b');
    let ran = false;
    const error = await limiter
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(isPolicyError(error, 'rate_limited')).toBe(true);
    expect((error as RateLimitedError).retryAfterMs).toBe(1000);
    expect(ran).toBe(false);
    expect(events).toEqual([{ reason: 'empty', cost: 1, retryAfterMs: 1000 }]);

    await clock.advance(1000);
    expect(await limiter.execute(() => 'c')).toBe('c');
  });

  it('refills continuously: half the units after half the period', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 10, refill: { amount: 10, every: '10s' }, mode: 'reject', clock });
    expect(limiter.tryAcquire(10)).toBe(true);
    await clock.advance(5000);
    expect(limiter.available).toBeCloseTo(5);
    const error = (await limiter.execute(() => 'x', { cost: 8 }).catch((e: unknown) => e)) as RateLimitedError;
    expect(error.retryAfterMs).toBe(3000);
    await clock.advance(60_000);
    expect(limiter.available).toBe(10); // never above capacity
  });
});

describe('rateLimiter, wait mode', () => {
  it('is the default mode: sleeps on the clock until a unit is back', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 1, refill: { amount: 1, every: 1000 }, clock });
    const waits: RateLimitWaitEvent[] = [];
    limiter.onWait((e) => waits.push(e));
    await limiter.execute(() => 'first');
    let done = false;
    const second = limiter.execute(() => 'second').then((v) => ((done = true), v));
    await clock.advance(999);
    expect(done).toBe(false);
    expect(limiter.waiting).toBe(1);
    await clock.advance(1);
    expect(await second).toBe('second');
    expect(clock.now()).toBe(1000);
    expect(waits).toEqual([{ cost: 1, waitMs: 1000 }]);
  });

  it('is FIFO-fair: a cheap call does not overtake a costly one queued before it', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 5, refill: { amount: 1, every: 100 }, clock });
    expect(limiter.tryAcquire(5)).toBe(true);
    const order: string[] = [];
    const costly = limiter.execute(() => void order.push(`costly@${clock.now()}`), { cost: 4 });
    const cheap = limiter.execute(() => void order.push(`cheap@${clock.now()}`), { cost: 1 });
    await clock.run(Promise.all([costly, cheap]));
    expect(order).toEqual(['costly@400', 'cheap@500']);
  });

  it('a new call queues behind waiting ones even when units are there for it', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 3, refill: { amount: 1, every: 100 }, clock });
    limiter.tryAcquire(3);
    const order: string[] = [];
    const big = limiter.execute(() => void order.push('big'), { cost: 3 });
    await clock.advance(100);
    expect(limiter.tryAcquire()).toBe(false); // a unit is there, but `big` is queued
    const small = limiter.execute(() => void order.push('small'), { cost: 1 });
    await clock.run(Promise.all([big, small]));
    expect(order).toEqual(['big', 'small']);
  });

  it('an abort while waiting rejects at once with the reason, never runs, and the next call moves up', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 4, refill: { amount: 1, every: 100 }, clock });
    limiter.tryAcquire(4);
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = limiter
      .execute(
        () => {
          abortedRan = true;
        },
        { cost: 4, signal: controller.signal },
      )
      .catch((e: unknown) => e);
    const next = limiter.execute(() => clock.now(), { cost: 1 });
    await clock.advance(50);
    const reason = new Error('user left');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    expect(limiter.waiting).toBe(1);
    // Without the costly call ahead, the next one passes as soon as one unit is back.
    expect(await clock.run(next)).toBe(100);
    expect(abortedRan).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once with RateLimitedError(retryAfterMs) when the wait would pass the deadline', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 2, refill: { amount: 1, every: 1000 }, clock });
    const events: RateLimitRejectEvent[] = [];
    limiter.onReject((e) => events.push(e));
    limiter.tryAcquire(2);
    const queued = limiter.execute(() => 'queued'); // will pass at 1000
    const error = (await limiter.execute(() => 'x', { deadline: 1999 }).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAfterMs).toBe(2000); // behind the queued call
    expect(clock.now()).toBe(0);
    expect(events).toEqual([{ reason: 'deadline', cost: 1, retryAfterMs: 2000 }]);
    // Exactly at the deadline is still in time.
    const inTime = limiter.execute(() => clock.now(), { deadline: 2000 });
    expect(await clock.run(Promise.all([queued, inTime]))).toEqual(['queued', 2000]);
  });

  it('waiting calls without a signal add no listener to the shared never-aborting signal', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 1, refill: { amount: 1, every: 10 }, clock });
    const calls = Array.from({ length: 20 }, () => limiter.execute(() => 'x'));
    await flush();
    expect(limiter.waiting).toBe(19);
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    await clock.run(Promise.all(calls));
  });

  it('gives the units back when a call granted them aborted before it could run (one signal, several queued calls)', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 5, refill: { amount: 1, every: 100 }, clock });
    limiter.tryAcquire(5);
    const controller = new AbortController();
    let ran = 0;
    const big = limiter.execute(() => void ran++, { cost: 4, signal: controller.signal }).catch((e: unknown) => e);
    const small = limiter.execute(() => void ran++, { cost: 1, signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(100);
    expect(limiter.available).toBeCloseTo(1);
    // The first call leaving the queue hands the unit to the second, whose signal is the same.
    const reason = new Error('request cancelled');
    controller.abort(reason);
    expect(await big).toBe(reason);
    expect(await small).toBe(reason);
    expect(ran).toBe(0);
    expect(limiter.available).toBeCloseTo(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once when the signal has already aborted', async () => {
    const limiter = rateLimiter({ capacity: 1, refill: { amount: 1, every: '1s' } });
    const controller = new AbortController();
    controller.abort(new Error('already'));
    await expect(limiter.execute(() => 'x', { signal: controller.signal })).rejects.toThrow('already');
    expect(limiter.available).toBe(1);
  });
});

describe('rateLimiter, weighted costs', () => {
  it('charges weight(ctx) per call, and a per-call `cost` overrides it', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({
      capacity: 1000,
      refill: { amount: 1000, every: '1m' },
      mode: 'reject',
      weight: (ctx) => ctx.attempt * 100,
      clock,
    });
    await limiter.execute(() => 'x', { attempt: 3 });
    expect(limiter.available).toBe(700);
    await limiter.execute(() => 'y', { attempt: 3, cost: 50 });
    expect(limiter.available).toBe(650);
    await limiter.execute(() => 'z', { cost: 0 });
    expect(limiter.available).toBe(650);
    const error = (await limiter.execute(() => 'w', { cost: 700 }).catch((e: unknown) => e)) as RateLimitedError;
    expect(error.retryAfterMs).toBe(3000); // 50 tokens at 1000/min
  });

  it('rejects a cost above capacity at once, in every mode, with a clear message', async () => {
    for (const mode of ['wait', 'reject'] as const) {
      const limiter = rateLimiter({ capacity: 100, refill: { amount: 100, every: '1m' }, mode });
      const events: RateLimitRejectEvent[] = [];
      limiter.onReject((e) => events.push(e));
      const error = await limiter.execute(() => 'x', { cost: 101 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitCostError);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitCostError).retryAfterMs).toBe(Infinity);
      expect((error as Error).message).toMatch(/costing 101 can never pass a bucket of capacity 100/);
      expect(events).toEqual([{ reason: 'cost', cost: 101, retryAfterMs: Infinity }]);
      expect(limiter.tryAcquire(101)).toBe(false);
      expect(limiter.timeUntilAvailable(101)).toBe(Infinity);
      expect(limiter.available).toBe(100);
    }
  });

  it('rejects invalid costs and options', async () => {
    const limiter = rateLimiter({ capacity: 1, refill: { amount: 1, every: 10 } });
    await expect(limiter.execute(() => 'x', { cost: -1 })).rejects.toThrow(RangeError);
    await expect(limiter.execute(() => 'x', { cost: NaN })).rejects.toThrow(RangeError);
    expect(() => rateLimiter({ capacity: 0, refill: { amount: 1, every: 10 } })).toThrow(RangeError);
    expect(() => rateLimiter({ capacity: 1, refill: { amount: 0, every: 10 } })).toThrow(RangeError);
    expect(() => rateLimiter({ capacity: 1, refill: { amount: 1, every: 0 } })).toThrow(RangeError);
    expect(() => rateLimiter({ capacity: 1, refill: { amount: 1, every: 'soon' } })).toThrow(TypeError);
  });
});

describe('rateLimiter, for the router', () => {
  it('tryAcquire, available and timeUntilAvailable', async () => {
    const clock = createVirtualClock();
    const limiter = rateLimiter({ capacity: 3, refill: { amount: 1, every: 200 }, clock });
    expect(limiter.available).toBe(3);
    expect(limiter.tryAcquire(2)).toBe(true);
    expect(limiter.tryAcquire(2)).toBe(false);
    expect(limiter.available).toBe(1);
    expect(limiter.timeUntilAvailable()).toBe(0);
    expect(limiter.timeUntilAvailable(3)).toBe(400);
    expect(limiter.tryAcquire()).toBe(true);
    const queued = limiter.execute(() => 'q', { cost: 2 });
    await flush();
    // Counts the call queued ahead: 2 units for it, then 1 more.
    expect(limiter.timeUntilAvailable(1)).toBe(600);
    await clock.run(queued);
  });
});

describe('rateLimiter, properties', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
    fc.record({ kind: fc.constant('take' as const), cost: fc.double({ min: 0, max: 12, noNaN: true }) }),
  );

  it('the bucket never goes below 0 or above capacity, and never grants more than capacity + rate × time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.array(step, { minLength: 10, maxLength: 60 }),
        async (capacity, amount, every, steps) => {
          const clock = createVirtualClock();
          const limiter = rateLimiter({ capacity, refill: { amount, every }, mode: 'reject', clock });
          let granted = 0;
          for (const s of steps) {
            if (s.kind === 'advance') await clock.advance(s.ms);
            else if (limiter.tryAcquire(s.cost)) granted += s.cost;
            const available = limiter.available;
            expect(available).toBeGreaterThanOrEqual(0);
            expect(available).toBeLessThanOrEqual(capacity);
            expect(granted).toBeLessThanOrEqual(capacity + (clock.now() * amount) / every + 1e-6);
          }
          expect(clock.now()).toBe(steps.reduce((t, s) => t + (s.kind === 'advance' ? s.ms : 0), 0));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('in wait mode every call passes, in arrival order, within the rate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), cost: fc.integer({ min: 0, max: 10 }) }), {
          minLength: 5,
          maxLength: 25,
        }),
        async (capacity, calls) => {
          const clock = createVirtualClock();
          const limiter = rateLimiter({ capacity, refill: { amount: 1, every: 100 }, clock });
          const passed: Array<{ i: number; at: number; cost: number }> = [];
          const all: Array<Promise<unknown>> = [];
          for (const [i, call] of calls.entries()) {
            await clock.advance(call.gap);
            const cost = Math.min(call.cost, capacity);
            all.push(limiter.execute(() => void passed.push({ i, at: clock.now(), cost }), { cost }));
          }
          await clock.run(Promise.all(all));
          expect(passed.map((p) => p.i)).toEqual(calls.map((_, i) => i));
          let spent = 0;
          for (const p of passed) {
            spent += p.cost;
            expect(spent).toBeLessThanOrEqual(capacity + p.at / 100 + 1e-6);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

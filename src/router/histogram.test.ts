import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../policy/virtual-clock.js';
import {
  DEFAULT_LATENCY_BOUNDS_MS,
  bucketIndex,
  createHistogram,
  createWindowedCounter,
  createWindowedHistogram,
  exponentialBounds,
} from './histogram.js';

const TENS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

describe('histogram', () => {
  it('places values in the first bucket with value <= le (Prometheus semantics)', () => {
    expect(bucketIndex([10, 20], 0)).toBe(0);
    expect(bucketIndex([10, 20], 10)).toBe(0);
    expect(bucketIndex([10, 20], 10.0001)).toBe(1);
    expect(bucketIndex([10, 20], 20)).toBe(1);
    expect(bucketIndex([10, 20], 21)).toBe(2);
  });

  it('counts, sums and exports cumulative buckets', () => {
    const h = createHistogram([10, 100, 1000]);
    for (const v of [1, 10, 11, 100, 500, 5000]) h.observe(v);
    expect(h.count).toBe(6);
    expect(h.sum).toBe(5622);
    expect([h.min, h.max]).toEqual([1, 5000]);
    expect(h.buckets()).toEqual([2, 4, 5]);
    expect(h.snapshot()).toStrictEqual({
      count: 6,
      sum: 5622,
      min: 1,
      max: 5000,
      p50: 55, // rank 3: halfway through (10, 100], which holds 2
      p90: h.quantile(0.9),
      p99: h.quantile(0.99),
      buckets: [2, 4, 5],
    });
    expect(h.quantile(0.9)).toBeCloseTo(2600, 9); // rank 5.4: 40% into (1000, 5000]
  });

  it('interpolates linearly inside the bucket that reaches the rank', () => {
    const h = createHistogram(TENS);
    for (let v = 1; v <= 100; v++) h.observe(v);
    expect(h.quantile(0.5)).toBe(50);
    expect(h.quantile(0.9)).toBe(90);
    expect(h.quantile(0.99)).toBeCloseTo(99, 10);
    expect(h.quantile(0.25)).toBe(25);
    expect(h.quantile(0)).toBe(1);
    expect(h.quantile(1)).toBe(100);
  });

  it('is exact for a single repeated value, and uses the observed max in the +Inf bucket', () => {
    const one = createHistogram(TENS);
    for (let i = 0; i < 10; i++) one.observe(37);
    expect([one.quantile(0.01), one.quantile(0.5), one.quantile(0.99)]).toEqual([37, 37, 37]);

    const tail = createHistogram([10]);
    tail.observe(5);
    tail.observe(400);
    expect(tail.quantile(1)).toBe(400);
    expect(tail.quantile(0.75)).toBe(205); // halfway through the +Inf bucket, narrowed to (10, 400]
  });

  it('is empty at first and after reset; ignores NaN and counts negatives as 0', () => {
    const h = createHistogram();
    expect(h.bounds).toEqual(DEFAULT_LATENCY_BOUNDS_MS);
    expect(h.summary()).toStrictEqual({ count: 0, sum: 0, min: null, max: null, p50: null, p90: null, p99: null });
    h.observe(Number.NaN);
    expect(h.count).toBe(0);
    h.observe(-5);
    expect([h.count, h.sum, h.min, h.quantile(0.5)]).toEqual([1, 0, 0, 0]);
    h.reset();
    expect([h.count, h.min, h.quantile(0.5)]).toEqual([0, undefined, null]);
    expect(h.buckets().every((c) => c === 0)).toBe(true);
  });

  it('rejects bad bounds and bad quantiles', () => {
    expect(() => createHistogram([])).toThrow(TypeError);
    expect(() => createHistogram([10, 10])).toThrow(/bounds\[1\]/);
    expect(() => createHistogram([0, 1])).toThrow(/bounds\[0\]/);
    expect(() => createHistogram([1, Infinity])).toThrow(TypeError);
    const h = createHistogram([1]);
    h.observe(1);
    expect(() => h.quantile(1.5)).toThrow(RangeError);
    expect(() => h.quantile(Number.NaN)).toThrow(RangeError);
  });

  it('builds exponential bounds', () => {
    expect(exponentialBounds(5, 2, 4)).toEqual([5, 10, 20, 40]);
    expect(() => exponentialBounds(0, 2, 3)).toThrow(TypeError);
    expect(DEFAULT_LATENCY_BOUNDS_MS[0]).toBe(5);
    expect(DEFAULT_LATENCY_BOUNDS_MS[DEFAULT_LATENCY_BOUNDS_MS.length - 1]).toBe(120_000);
  });

  const values = fc.array(fc.double({ min: 0, max: 200_000, noNaN: true }), { minLength: 1, maxLength: 300 });
  const quantiles = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 20 });

  it('property: quantiles are monotone in q and lie within [min, max] observed', () => {
    fc.assert(
      fc.property(values, quantiles, (vs, qs) => {
        const h = createHistogram();
        for (const v of vs) h.observe(v);
        const sorted = [...qs].sort((a, b) => a - b);
        const estimates = sorted.map((q) => h.quantile(q)!);
        for (let i = 1; i < estimates.length; i++) expect(estimates[i]!).toBeGreaterThanOrEqual(estimates[i - 1]!);
        for (const e of estimates) {
          expect(e).toBeGreaterThanOrEqual(h.min!);
          expect(e).toBeLessThanOrEqual(h.max!);
        }
      }),
    );
  });

  it('property: the estimate lies in the bucket of the exact quantile', () => {
    fc.assert(
      fc.property(values, fc.double({ min: 0, max: 1, noNaN: true }), (vs, q) => {
        const bounds = DEFAULT_LATENCY_BOUNDS_MS;
        const h = createHistogram(bounds);
        for (const v of vs) h.observe(v);
        const sorted = [...vs].sort((a, b) => a - b);
        const exact = sorted[Math.max(0, Math.ceil(q * vs.length) - 1)]!;
        const i = bucketIndex(bounds, exact);
        const lower = i === 0 ? 0 : bounds[i - 1]!;
        const upper = i < bounds.length ? bounds[i]! : Math.max(...vs);
        const estimate = h.quantile(q)!;
        expect(estimate).toBeGreaterThanOrEqual(lower);
        expect(estimate).toBeLessThanOrEqual(upper);
      }),
    );
  });

  it('property: cumulative buckets are non-decreasing and never exceed the count', () => {
    fc.assert(
      fc.property(values, (vs) => {
        const h = createHistogram();
        for (const v of vs) h.observe(v);
        const b = h.buckets();
        for (let i = 1; i < b.length; i++) expect(b[i]!).toBeGreaterThanOrEqual(b[i - 1]!);
        expect(b[b.length - 1]!).toBeLessThanOrEqual(h.count);
        expect(b[b.length - 1]).toBe(vs.filter((v) => v <= 120_000).length);
      }),
    );
  });
});

describe('windowed histogram and counter', () => {
  it('keeps the last slots on the clock and forgets older ones', async () => {
    const clock = createVirtualClock();
    const h = createWindowedHistogram({ clock, bounds: TENS, slotMs: 10_000, slots: 3 });
    h.observe(15); // slot 0
    await clock.advance(10_000);
    h.observe(25); // slot 1
    h.observe(35);
    await clock.advance(10_000);
    h.observe(95); // slot 2
    expect(h.summary()).toMatchObject({ count: 4, sum: 170, min: 15, max: 95 });
    expect(h.summary(10_000)).toMatchObject({ count: 1, min: 95, max: 95, p50: 95 });
    expect(h.summary(15_000)).toMatchObject({ count: 3, sum: 155 });
    expect(h.series().map((s) => [s.at, s.count])).toEqual([
      [0, 1],
      [10_000, 2],
      [20_000, 1],
    ]);

    await clock.advance(10_000); // slot 3 reuses slot 0's storage
    expect(h.summary()).toMatchObject({ count: 3, sum: 155 });
    h.observe(45);
    expect(h.series().map((s) => [s.at, s.count, s.p50])).toEqual([
      [10_000, 2, 30], // rank 1 of {25, 35}: the top of (20, 30]
      [20_000, 1, 95],
      [30_000, 1, 45],
    ]);

    await clock.advance(60_000); // everything is older than the window
    expect(h.summary()).toStrictEqual({ count: 0, sum: 0, min: null, max: null, p50: null, p90: null, p99: null });
    expect(h.series().every((s) => s.count === 0 && s.p99 === null)).toBe(true);
  });

  it('keeps all-time buckets beside the window, and drops a time older than the window from it', async () => {
    const clock = createVirtualClock();
    const h = createWindowedHistogram({ clock, bounds: TENS, slotMs: 1000, slots: 2 });
    h.observe(5, 0);
    await clock.advance(5000);
    h.observe(55, 5000);
    h.observe(15, 1000); // a late report from before the window: all-time only
    expect(h.lifetime()).toMatchObject({ count: 3, sum: 75, min: 5, max: 55, buckets: [1, 2, 2, 2, 2, 3, 3, 3, 3, 3] });
    expect(h.summary()).toMatchObject({ count: 1, sum: 55 });
    await clock.advance(10_000);
    expect(h.summary().count).toBe(0);
    expect(h.lifetime().count).toBe(3);
  });

  it('property: merging slots gives the same quantiles as one histogram of the same values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 150_000, noNaN: true })), { minLength: 1, maxLength: 100 }),
        async (steps) => {
          const clock = createVirtualClock();
          const windowed = createWindowedHistogram({ clock, slotMs: 1000, slots: 60 });
          const plain = createHistogram();
          for (const [wait, v] of steps) {
            await clock.advance(wait * 1000);
            windowed.observe(v);
            plain.observe(v);
          }
          if (clock.now() >= 60_000) return; // only while every value is still in the window
          const merged = windowed.summary();
          expect(merged).toMatchObject({ count: plain.count, min: plain.min, max: plain.max });
          expect(merged.sum).toBeCloseTo(plain.sum, 6);
          expect(merged.p50).toBe(plain.quantile(0.5));
          expect(merged.p99).toBe(plain.quantile(0.99));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('counts per slot, aligned with the histogram series', async () => {
    const clock = createVirtualClock(5_000);
    const c = createWindowedCounter({ clock, slotMs: 10_000, slots: 3 });
    const h = createWindowedHistogram({ clock, slotMs: 10_000, slots: 3 });
    c.add();
    c.add(2);
    await clock.advance(10_000);
    c.add();
    expect(c.total()).toBe(4);
    expect(c.total(10_000)).toBe(1);
    expect(c.series()).toEqual([
      { at: -10_000, value: 0 },
      { at: 0, value: 3 },
      { at: 10_000, value: 1 },
    ]);
    expect(h.series().map((s) => s.at)).toEqual(c.series().map((s) => s.at));
    await clock.advance(30_000);
    expect(c.total()).toBe(0);
  });

  it('rejects a bad window', () => {
    const clock = createVirtualClock();
    expect(() => createWindowedCounter({ clock, slots: 0 })).toThrow(/slots/);
    expect(() => createWindowedHistogram({ clock, slotMs: -1 })).toThrow(/slotMs/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveSeed, hashString, latencySampler, sampleMs, seededRandom, type Distribution } from './seeded-random.js';

const seeds = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(Date.now()));

function draws(seed: number, n: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => r.next());
}

describe('seededRandom', () => {
  it('gives the same sequence for the same seed', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        expect(draws(seed, 50)).toEqual(draws(seed, 50));
      }),
    );
  });

  it('gives different sequences for neighbouring seeds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (seed) => {
        expect(draws(seed, 8)).not.toEqual(draws(seed + 1, 8));
      }),
    );
    // Seeds that differ only above 2^32 or in their fraction are distinct too.
    expect(draws(2 ** 40, 4)).not.toEqual(draws(2 ** 40 + 2 ** 33, 4));
    expect(draws(1.25, 4)).not.toEqual(draws(1.5, 4));
  });

  it('keeps next() in [0, 1), int() in [min, max], uniform() in [min, max)', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (seed, min, span) => {
        const r = seededRandom(seed);
        for (let i = 0; i < 100; i++) {
          const x = r.next();
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThan(1);
          const n = r.int(min, min + span);
          expect(Number.isInteger(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(min);
          expect(n).toBeLessThanOrEqual(min + span);
          const u = r.uniform(min, min + span);
          expect(u).toBeGreaterThanOrEqual(min);
          expect(u).toBeLessThanOrEqual(min + span);
        }
      }),
    );
  });

  it('works with its methods detached', () => {
    const { next, int, pick, chance, uniform, normal } = seededRandom(9);
    const twin = seededRandom(9);
    expect([next(), int(1, 6), pick(['a', 'b']), chance(0.5), uniform(0, 1), normal(0, 1)]).toEqual([
      twin.next(),
      twin.int(1, 6),
      twin.pick(['a', 'b']),
      twin.chance(0.5),
      twin.uniform(0, 1),
      twin.normal(0, 1),
    ]);
  });

  it('reaches both ends of int() and every item of pick()', () => {
    const r = seededRandom(7);
    const ints = new Set(Array.from({ length: 500 }, () => r.int(1, 6)));
    expect([...ints].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const picked = new Set(Array.from({ length: 200 }, () => r.pick(['a', 'b', 'c'] as const)));
    expect(picked.size).toBe(3);
    expect(() => r.pick([])).toThrow(RangeError);
    expect(() => r.int(0.2, 0.8)).toThrow(RangeError);
  });

  it('chance(p) is true at about rate p; 0 never, 1 always', () => {
    const r = seededRandom(123);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (r.chance(0.3)) hits++;
    expect(hits / 20_000).toBeGreaterThan(0.28);
    expect(hits / 20_000).toBeLessThan(0.32);
    for (let i = 0; i < 1000; i++) {
      expect(r.chance(0)).toBe(false);
      expect(r.chance(1)).toBe(true);
    }
  });

  it('is roughly uniform (each tenth of [0, 1) gets about 10%)', () => {
    const r = seededRandom(99);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 50_000; i++) buckets[Math.floor(r.next() * 10)]!++;
    for (const b of buckets) expect(Math.abs(b - 5000)).toBeLessThan(300);
  });

  it('normal() has the requested mean and standard deviation', () => {
    const r = seededRandom(5);
    const xs = Array.from({ length: 20_000 }, () => r.normal(100, 15));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(mean).toBeGreaterThan(99.5);
    expect(mean).toBeLessThan(100.5);
    expect(sd).toBeGreaterThan(14.5);
    expect(sd).toBeLessThan(15.5);
  });
});

describe('deriveSeed and hashString', () => {
  it('are deterministic and separate their inputs', () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 2));
    expect(deriveSeed(1)).not.toBe(deriveSeed(1, 0));
    expect(hashString('primary')).toBe(hashString('primary'));
    expect(hashString('primary')).not.toBe(hashString('backup'));
  });

  it('give 32-bit unsigned integers', () => {
    fc.assert(
      fc.property(seeds, fc.array(seeds, { maxLength: 3 }), fc.string(), (seed, parts, text) => {
        for (const n of [deriveSeed(seed, ...parts), hashString(text)]) {
          expect(Number.isInteger(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(0);
          expect(n).toBeLessThan(2 ** 32);
        }
      }),
    );
  });

  it('rejects non-finite seeds', () => {
    expect(() => seededRandom(Number.NaN)).toThrow(/invalid seed/);
    expect(() => deriveSeed(1, Infinity)).toThrow(/invalid seed/);
  });
});

describe('latencySampler', () => {
  const sample = (spec: Distribution | number | string, n: number, seed = 1) => {
    const r = seededRandom(seed);
    const s = latencySampler(spec);
    return Array.from({ length: n }, () => s(r));
  };
  const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

  it('fixed values and plain durations give exactly that time', () => {
    expect(sample(250, 3)).toEqual([250, 250, 250]);
    expect(sample('1m30s', 1)).toEqual([90_000]);
    expect(sample({ dist: 'fixed', value: '2s' }, 2)).toEqual([2000, 2000]);
  });

  it('uniform stays within [min, max] and covers it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), fc.integer(), (min, span, seed) => {
        for (const x of sample({ dist: 'uniform', min, max: min + span }, 50, seed)) {
          expect(x).toBeGreaterThanOrEqual(min);
          expect(x).toBeLessThanOrEqual(min + span);
        }
      }),
    );
    const xs = sample({ dist: 'uniform', min: '100ms', max: '200ms' }, 2000);
    expect(Math.min(...xs)).toBeLessThan(105);
    expect(Math.max(...xs)).toBeGreaterThan(195);
  });

  it('normal is clamped at 0 and centred on the mean', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 5000 }), fc.integer(), (mean, sd, seed) => {
        for (const x of sample({ dist: 'normal', mean, sd }, 50, seed)) expect(x).toBeGreaterThanOrEqual(0);
      }),
    );
    const xs = sample({ dist: 'normal', mean: 500, sd: 50 }, 10_000);
    expect(Math.abs(quantile(xs, 0.5) - 500)).toBeLessThan(5);
    // Mostly below zero: every sample clamps to 0 rather than going negative.
    expect(Math.min(...sample({ dist: 'normal', mean: 0, sd: 100 }, 1000))).toBe(0);
  });

  it('lognormal puts half below the median and 1% above p99, never below 0', () => {
    const xs = sample({ dist: 'lognormal', median: '800ms', p99: '5s' }, 40_000);
    expect(Math.min(...xs)).toBeGreaterThan(0);
    expect(Math.abs(quantile(xs, 0.5) - 800) / 800).toBeLessThan(0.03);
    expect(Math.abs(quantile(xs, 0.99) - 5000) / 5000).toBeLessThan(0.08);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 100_000 }), fc.integer(), (median, extra, seed) => {
        for (const x of sample({ dist: 'lognormal', median, p99: median + extra }, 30, seed)) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(Number.isFinite(x)).toBe(true);
        }
      }),
    );
    expect(sample({ dist: 'lognormal', median: 300, p99: 300 }, 3)).toEqual([300, 300, 300]);
  });

  it('is reproducible: the same seed gives the same samples', () => {
    const spec: Distribution = { dist: 'lognormal', median: 100, p99: 2000 };
    expect(sample(spec, 20, 42)).toEqual(sample(spec, 20, 42));
    expect(sample(spec, 20, 42)).not.toEqual(sample(spec, 20, 43));
    expect(sampleMs(seededRandom(42), spec)).toBe(sample(spec, 1, 42)[0]);
  });

  it('rejects bad specs with the field named', () => {
    expect(() => latencySampler({ dist: 'uniform', min: 200, max: 100 }, 'firstToken')).toThrow(
      'firstToken: max (100ms) is below min (200ms)',
    );
    expect(() => latencySampler({ dist: 'lognormal', median: '1s', p99: '10x' }, 'latency')).toThrow(/latency\.p99: invalid duration/);
    expect(() => latencySampler({ dist: 'lognormal', median: '2s', p99: '1s' })).toThrow(/p99 \(1000ms\) is below median/);
    expect(() => latencySampler({ dist: 'poisson' } as unknown as Distribution, 'x')).toThrow(/x\.dist: expected/);
    expect(() => latencySampler(-5)).toThrow(/negative/);
    expect(() => latencySampler(null as unknown as number)).toThrow(/expected a duration or a distribution/);
    expect(() => latencySampler({ dist: 'normal', mean: '1s' } as unknown as Distribution)).toThrow(/latency\.sd: expected a duration/);
  });
});

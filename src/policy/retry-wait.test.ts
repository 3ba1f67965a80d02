import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  waitCapped,
  waitChain,
  waitDecorrelatedJitter,
  waitEqualJitter,
  waitExponential,
  waitFixed,
  waitFullJitter,
  waitLinear,
  waitRandom,
  waitSum,
  type WaitInfo,
  type WaitStrategy,
} from './retry-wait.js';

const info = (attempt: number, lastDelay = 0): WaitInfo => ({ attempt, elapsed: 0, lastDelay });
const delays = (wait: WaitStrategy, count: number) => Array.from({ length: count }, (_, i) => wait(info(i + 1)));
/** A random source that replays `values` in turn. */
const replay = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

// Arbitraries shared by the property tests.
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const baseMs = fc.double({ min: 0, max: 10_000, noNaN: true });
const factorArb = fc.double({ min: 1, max: 4, noNaN: true });
const attemptArb = fc.integer({ min: 1, max: 2_000 });
const expOptions = fc
  .tuple(baseMs, fc.double({ min: 0, max: 120_000, noNaN: true }), factorArb)
  .map(([base, extra, factor]) => ({ base, maxDelay: base + extra, factor }));

describe('waitFixed', () => {
  it('always returns the delay, durations included', () => {
    expect(delays(waitFixed(250), 3)).toEqual([250, 250, 250]);
    expect(waitFixed('2s')(info(7))).toBe(2000);
  });

  it('rejects an infinite delay', () => {
    expect(() => waitFixed(Infinity)).toThrow(RangeError);
  });
});

describe('waitLinear', () => {
  it('grows by step from start, capped', () => {
    expect(delays(waitLinear({ start: 100, step: 50 }), 4)).toEqual([100, 150, 200, 250]);
    expect(delays(waitLinear({ start: '1s', step: '1s', maxDelay: '2500ms' }), 4)).toEqual([1000, 2000, 2500, 2500]);
  });

  it('stays within [start, maxDelay] and never decreases', () => {
    fc.assert(
      fc.property(baseMs, baseMs, baseMs, attemptArb, (start, step, extra, attempt) => {
        const cap = start + extra;
        const wait = waitLinear({ start, step, maxDelay: cap });
        const d = wait(info(attempt));
        expect(d).toBeGreaterThanOrEqual(start);
        expect(d).toBeLessThanOrEqual(cap);
        expect(wait(info(attempt + 1))).toBeGreaterThanOrEqual(d);
      }),
    );
  });
});

describe('waitExponential', () => {
  it('is base · factor^n with n = attempt - 1, capped at maxDelay', () => {
    expect(delays(waitExponential({ base: 100, maxDelay: 1000 }), 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(delays(waitExponential({ base: 10, factor: 3, maxDelay: '1m' }), 3)).toEqual([10, 30, 90]);
  });

  it('defaults to 500ms doubling up to 8s', () => {
    expect(delays(waitExponential(), 6)).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });

  it('validates its options', () => {
    expect(() => waitExponential({ base: 2000, maxDelay: 1000 })).toThrow(/greater than maxDelay/);
    expect(() => waitExponential({ factor: 0 })).toThrow(/factor/);
    expect(() => waitExponential({ maxDelay: Infinity })).toThrow(/maxDelay must be finite/);
  });

  it('stays a number when base · factor^n overflows', () => {
    expect(waitExponential({ base: 0 })(info(5_000))).toBe(0);
    expect(waitFullJitter({ base: 0, random: () => 0.5 })(info(5_000))).toBe(0);
    expect(waitEqualJitter({ base: 100, random: () => 0 })(info(5_000))).toBe(4000);
  });

  it('property: exact formula, within [0, cap], non-decreasing, never NaN even when the power overflows', () => {
    fc.assert(
      fc.property(expOptions, attemptArb, (options, attempt) => {
        const wait = waitExponential(options);
        const d = wait(info(attempt));
        expect(d).toBe(Math.min(options.maxDelay, options.base === 0 ? 0 : options.base * options.factor ** (attempt - 1)));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(options.maxDelay);
        expect(wait(info(attempt + 1))).toBeGreaterThanOrEqual(d);
      }),
    );
  });
});

describe('waitRandom', () => {
  it('maps the random source onto [min, max]', () => {
    const wait = waitRandom({ min: 100, max: 300, random: replay(0, 0.5, 0.999) });
    expect(delays(wait, 3)).toEqual([100, 200, 100 + 0.999 * 200]);
  });

  it('rejects min > max', () => {
    expect(() => waitRandom({ min: 5, max: 1 })).toThrow(RangeError);
  });

  it('property: always within [min, max]', () => {
    fc.assert(
      fc.property(baseMs, baseMs, unit, (min, extra, r) => {
        const d = waitRandom({ min, max: min + extra, random: () => r })(info(1));
        expect(d).toBeGreaterThanOrEqual(min);
        expect(d).toBeLessThanOrEqual(min + extra);
      }),
    );
  });
});

describe('waitFullJitter (AWS: random(0, min(cap, base · 2^n)))', () => {
  it('scales the exponential by the random source', () => {
    const wait = waitFullJitter({ base: 100, maxDelay: 1000, random: () => 0.5 });
    expect(delays(wait, 5)).toEqual([50, 100, 200, 400, 500]);
  });

  it('property: within [0, min(cap, base · factor^n)]', () => {
    fc.assert(
      fc.property(expOptions, attemptArb, unit, (options, attempt, r) => {
        const d = waitFullJitter({ ...options, random: () => r })(info(attempt));
        const ceiling = waitExponential(options)(info(attempt));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
        expect(d).toBeLessThanOrEqual(options.maxDelay);
      }),
    );
  });

  it('uses Math.random by default and stays in bounds', () => {
    const wait = waitFullJitter({ base: 100, maxDelay: 400 });
    for (let attempt = 1; attempt <= 50; attempt++) {
      const d = wait(info(attempt));
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});

describe('waitEqualJitter (AWS: v/2 + random(0, v/2))', () => {
  it('keeps half of the exponential and jitters the other half', () => {
    const wait = waitEqualJitter({ base: 100, maxDelay: 1000, random: replay(0, 0.5) });
    expect(delays(wait, 4)).toEqual([50, 150, 200, 600]);
  });

  it('property: within [v/2, v] where v = min(cap, base · factor^n)', () => {
    fc.assert(
      fc.property(expOptions, attemptArb, unit, (options, attempt, r) => {
        const d = waitEqualJitter({ ...options, random: () => r })(info(attempt));
        const v = waitExponential(options)(info(attempt));
        expect(d).toBeGreaterThanOrEqual(v / 2);
        expect(d).toBeLessThanOrEqual(v);
        expect(d).toBeLessThanOrEqual(options.maxDelay);
      }),
    );
  });
});

describe('waitDecorrelatedJitter (AWS: min(cap, random(base, prev · 3)))', () => {
  it('draws between base and three times the previous delay', () => {
    const wait = waitDecorrelatedJitter({ base: 100, maxDelay: 10_000, random: () => 0.5 });
    expect(wait(info(1, 0))).toBe(200); // prev = base: 100 + 0.5 · (300 - 100)
    expect(wait(info(2, 1000))).toBe(1550); // 100 + 0.5 · (3000 - 100)
    expect(wait(info(3, 5000))).toBe(7550);
    expect(wait(info(4, 9000))).toBe(10_000); // capped
  });

  it('property: always within [base, cap], whatever the previous delay', () => {
    fc.assert(
      fc.property(expOptions, fc.double({ min: 0, max: 1e7, noNaN: true }), unit, (options, lastDelay, r) => {
        const d = waitDecorrelatedJitter({ base: options.base, maxDelay: options.maxDelay, random: () => r })(info(3, lastDelay));
        expect(d).toBeGreaterThanOrEqual(options.base);
        expect(d).toBeLessThanOrEqual(options.maxDelay);
      }),
    );
  });

  it('property: a whole sequence fed back through lastDelay stays within [base, cap]', () => {
    fc.assert(
      fc.property(expOptions, fc.array(unit, { minLength: 1, maxLength: 60 }), (options, randoms) => {
        const wait = waitDecorrelatedJitter({ base: options.base, maxDelay: options.maxDelay, random: replay(...randoms) });
        let last = 0;
        for (let attempt = 1; attempt <= randoms.length; attempt++) {
          const d = wait(info(attempt, last));
          expect(d).toBeGreaterThanOrEqual(options.base);
          expect(d).toBeLessThanOrEqual(options.maxDelay);
          expect(d).toBeLessThanOrEqual(Math.max(3 * last, 3 * options.base));
          last = d;
        }
      }),
    );
  });
});

describe('waitCapped and waitSum', () => {
  it('caps any strategy', () => {
    expect(delays(waitCapped((i) => i.attempt * 1000, '2s'), 3)).toEqual([1000, 2000, 2000]);
  });

  it('property: a capped strategy never exceeds its cap', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), baseMs, (raw, cap) => {
        expect(waitCapped(() => raw, cap)(info(1))).toBeLessThanOrEqual(cap);
      }),
    );
  });

  it('adds strategies', () => {
    expect(waitSum(waitFixed(1000), waitRandom({ max: 500, random: () => 0.5 }))(info(1))).toBe(1250);
  });
});

describe('waitChain', () => {
  it('runs each step its number of times, then keeps the last, which counts from its own start', () => {
    const wait = waitChain([3, waitFixed(100)], waitExponential({ base: 1000, maxDelay: 60_000 }));
    expect(delays(wait, 6)).toEqual([100, 100, 100, 1000, 2000, 4000]);
  });

  it('uses a bare strategy once', () => {
    const wait = waitChain(waitFixed(1), [2, waitFixed(2)], waitFixed(3));
    expect(delays(wait, 6)).toEqual([1, 2, 2, 3, 3, 3]);
  });

  it('passes the rest of the info through', () => {
    const seen: WaitInfo[] = [];
    const wait = waitChain([1, waitFixed(0)], (i) => (seen.push(i), 0));
    wait({ attempt: 2, elapsed: 42, lastDelay: 7, error: 'boom' });
    expect(seen).toEqual([{ attempt: 1, elapsed: 42, lastDelay: 7, error: 'boom' }]);
  });

  it('validates its steps', () => {
    expect(() => waitChain()).toThrow(RangeError);
    expect(() => waitChain([0, waitFixed(1)])).toThrow(RangeError);
    expect(() => waitChain([1.5, waitFixed(1)])).toThrow(RangeError);
  });

  it('property: the step used for a retry is the one whose range holds it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }), attemptArb, (counts, attempt) => {
        // Step i returns i · 1000 + the attempt number it sees, so both choice and rebasing are checked.
        const wait = waitChain(...counts.map((n, i) => [n, (x: WaitInfo) => i * 1000 + x.attempt] as const));
        let index = 0;
        let start = 0;
        while (index < counts.length - 1 && attempt - 1 >= start + counts[index]!) start += counts[index++]!;
        expect(wait(info(attempt))).toBe(index * 1000 + attempt - start);
      }),
    );
  });
});

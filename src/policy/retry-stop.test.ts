import { describe, expect, it } from 'vitest';
import { stopAfterAttempts, stopAfterElapsed, stopAll, stopAny, stopBeforeElapsed, stopNever, type StopInfo } from './retry-stop.js';

const at = (attempt: number, elapsed = 0, delay = 0): StopInfo => ({ attempt, elapsed, delay });

describe('stopAfterAttempts', () => {
  it('stops once the given number of attempts were made', () => {
    const stop = stopAfterAttempts(3);
    expect([1, 2, 3, 4].map((n) => stop(at(n)))).toEqual([false, false, true, true]);
  });

  it('with 1, never retries; with Infinity, never stops', () => {
    expect(stopAfterAttempts(1)(at(1))).toBe(true);
    expect(stopAfterAttempts(Infinity)(at(1e9))).toBe(false);
  });

  it('rejects counts that are not integers >= 1', () => {
    for (const bad of [0, -1, 2.5, Number.NaN]) expect(() => stopAfterAttempts(bad)).toThrow(RangeError);
  });
});

describe('stopAfterElapsed', () => {
  it('stops once the time since the start reaches the limit', () => {
    const stop = stopAfterElapsed('2s');
    expect(stop(at(5, 1999))).toBe(false);
    expect(stop(at(5, 2000))).toBe(true);
  });

  it('ignores the upcoming delay', () => {
    expect(stopAfterElapsed(1000)(at(1, 100, 5000))).toBe(false);
  });
});

describe('stopBeforeElapsed', () => {
  it('stops when the next sleep would end at or after the limit', () => {
    const stop = stopBeforeElapsed(1000);
    expect(stop(at(1, 400, 500))).toBe(false);
    expect(stop(at(1, 500, 500))).toBe(true);
    expect(stop(at(1, 100, 5000))).toBe(true);
  });
});

describe('combinators', () => {
  const byCount = stopAfterAttempts(3);
  const byTime = stopAfterElapsed(1000);

  it('stopAny stops when either says so (a or b)', () => {
    const stop = stopAny(byCount, byTime);
    expect(stop(at(1, 0))).toBe(false);
    expect(stop(at(3, 0))).toBe(true);
    expect(stop(at(1, 1000))).toBe(true);
  });

  it('stopAll stops only when both say so (a and b)', () => {
    const stop = stopAll(byCount, byTime);
    expect(stop(at(3, 0))).toBe(false);
    expect(stop(at(1, 1000))).toBe(false);
    expect(stop(at(3, 1000))).toBe(true);
  });

  it('nest', () => {
    const stop = stopAny(stopAll(byCount, byTime), stopAfterAttempts(10));
    expect(stop(at(3, 0))).toBe(false);
    expect(stop(at(3, 1000))).toBe(true);
    expect(stop(at(10, 0))).toBe(true);
  });

  it('need at least one condition', () => {
    expect(() => stopAny()).toThrow(RangeError);
    expect(() => stopAll()).toThrow(RangeError);
  });

  it('stopNever never stops', () => {
    expect(stopNever(at(1e9, 1e9, 1e9))).toBe(false);
  });
});

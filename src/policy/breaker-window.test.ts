import { describe, expect, it } from 'vitest';
import {
  consecutiveWindow,
  countWindow,
  createBreakerWindow,
  timeWindow,
  type BreakerWindow,
  type CallOutcome,
} from './breaker-window.js';
import type { BreakerWindowOptions } from './breaker-window.js';
import { createVirtualClock } from './virtual-clock.js';

/** Records each outcome and returns `shouldOpen()` after each one (checking `record` said the same). */
function feed(window: BreakerWindow, outcomes: CallOutcome[]): boolean[] {
  return outcomes.map((outcome) => {
    const said = window.record(outcome);
    const open = window.shouldOpen();
    expect(said).toBe(open);
    return open;
  });
}

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe('consecutiveWindow', () => {
  it('opens at exactly N failures in a row', () => {
    const window = consecutiveWindow({ consecutive: 3 });
    expect(feed(window, times(3, 'failure'))).toEqual([false, false, true]);
  });

  it('starts counting again after a success', () => {
    const window = consecutiveWindow({ consecutive: 3 });
    expect(feed(window, ['failure', 'failure', 'success', 'failure', 'failure'])).toEqual(times(5, false));
    expect(feed(window, ['slow_failure'])).toEqual([true]);
  });

  it('defaults to 5', () => {
    expect(feed(consecutiveWindow(), times(5, 'failure'))).toEqual([false, false, false, false, true]);
  });

  it('opens on the slow-call rate over the last N calls, only once N calls are counted', () => {
    const window = consecutiveWindow({ consecutive: 4 }, { slowCallRate: 0.5 });
    expect(feed(window, ['slow_success', 'slow_success', 'success'])).toEqual([false, false, false]);
    expect(feed(window, ['success'])).toEqual([true]);
    expect(window.stats()).toEqual({ calls: 4, failures: 0, slowCalls: 2, trip: 'slow_calls' });
    // The oldest slow call leaves the last-4 view.
    expect(feed(window, ['success'])).toEqual([false]);
  });

  it('ignores slowness without a slow-call rate', () => {
    expect(feed(consecutiveWindow({ consecutive: 2 }), times(10, 'slow_success')).some(Boolean)).toBe(false);
  });

  it('resets', () => {
    const window = consecutiveWindow({ consecutive: 2 });
    feed(window, ['failure', 'failure']);
    window.reset();
    expect(window.shouldOpen()).toBe(false);
    expect(feed(window, ['failure'])).toEqual([false]);
  });

  it('round-trips through JSON', () => {
    const window = consecutiveWindow({ consecutive: 3 }, { slowCallRate: 0.5 });
    feed(window, ['slow_success', 'failure', 'failure']);
    const copy = consecutiveWindow({ consecutive: 3 }, { slowCallRate: 0.5 });
    expect(copy.restore(JSON.parse(JSON.stringify(window.toJSON())))).toBe(true);
    expect(copy.stats()).toEqual(window.stats());
    expect(feed(copy, ['failure'])).toEqual([true]);
    expect(consecutiveWindow({ consecutive: 4 }).restore(window.toJSON())).toBe(false);
  });

  it('rejects a bad size', () => {
    expect(() => consecutiveWindow({ consecutive: 0 })).toThrow(RangeError);
    expect(() => consecutiveWindow({ consecutive: 1.5 })).toThrow(RangeError);
  });
});

describe('countWindow', () => {
  it('opens exactly at the failure rate', () => {
    const window = countWindow({ count: 10, failureRate: 0.5, minCalls: 10 });
    // 4 failures in 10 calls (40%) stays closed; the 5th failure makes 50%.
    expect(feed(window, [...times(6, 'success'), ...times(4, 'failure')] as CallOutcome[]).some(Boolean)).toBe(false);
    expect(feed(window, ['failure'])).toEqual([true]);
    expect(window.stats()).toEqual({ calls: 10, failures: 5, slowCalls: 0, trip: 'failures' });
  });

  it('never opens before minCalls', () => {
    const window = countWindow({ count: 10, failureRate: 0.5, minCalls: 4 });
    expect(feed(window, times(4, 'failure'))).toEqual([false, false, false, true]);
  });

  it('may open on a success that brings the count to minCalls', () => {
    const window = countWindow({ count: 10, failureRate: 0.5, minCalls: 4 });
    expect(feed(window, ['failure', 'failure', 'success', 'success'])).toEqual([false, false, false, true]);
  });

  it('forgets calls that leave the window', () => {
    const window = countWindow({ count: 4, failureRate: 0.5, minCalls: 4 });
    expect(feed(window, ['failure', 'success', 'success', 'success'])).toEqual([false, false, false, false]);
    // The failure leaves, a new one arrives: still 1 in 4.
    expect(feed(window, ['failure'])).toEqual([false]);
    expect(window.stats().failures).toBe(1);
    expect(feed(window, ['failure'])).toEqual([true]);
  });

  it('defaults to a 50% rate and minCalls min(10, count)', () => {
    expect(feed(countWindow({ count: 4 }), ['failure', 'success', 'success', 'failure'])).toEqual([false, false, false, true]);
    const big = countWindow({ count: 100 });
    expect(feed(big, times(10, 'failure'))).toEqual([...times(9, false), true]);
  });

  it('opens on the slow-call rate (slow successes included)', () => {
    const window = countWindow({ count: 5, failureRate: 1, minCalls: 5 }, { slowCallRate: 0.6 });
    // 2 slow of 5 (40%), then a slow call pushes out a fast one: 3 of 5 (60%).
    expect(feed(window, ['success', 'success', 'slow_success', 'slow_failure', 'success'])).toEqual(times(5, false));
    expect(feed(window, ['slow_success'])).toEqual([true]);
    expect(window.stats().trip).toBe('slow_calls');
  });

  it('resets', () => {
    const window = countWindow({ count: 4, minCalls: 2 });
    feed(window, ['failure', 'failure']);
    window.reset();
    expect(window.stats()).toEqual({ calls: 0, failures: 0, slowCalls: 0, trip: null });
    expect(feed(window, ['failure'])).toEqual([false]);
  });

  it('round-trips through JSON and drops counters of another shape', () => {
    const window = countWindow({ count: 4, minCalls: 4 });
    feed(window, ['success', 'failure', 'slow_success', 'success', 'failure']);
    const copy = countWindow({ count: 4, minCalls: 4 });
    expect(copy.restore(JSON.parse(JSON.stringify(window.toJSON())))).toBe(true);
    expect(copy.stats()).toEqual(window.stats());
    // Same eviction order as the original: the oldest (a failure) leaves next.
    expect(feed(copy, ['success'])).toEqual(feed(window, ['success']));
    expect(copy.stats()).toEqual(window.stats());
    expect(countWindow({ count: 5 }).restore(window.toJSON())).toBe(false);
    expect(copy.restore({ kind: 'count', size: 4, calls: [9] })).toBe(false);
    expect(copy.stats().calls).toBe(0);
  });

  it('validates its options', () => {
    expect(() => countWindow({ count: 0 })).toThrow(RangeError);
    expect(() => countWindow({ count: 10, failureRate: 0 })).toThrow(RangeError);
    expect(() => countWindow({ count: 10, failureRate: 1.5 })).toThrow(RangeError);
    expect(() => countWindow({ count: 10, minCalls: 11 })).toThrow(/minCalls/);
    expect(() => countWindow({ count: 10 }, { slowCallRate: 0 })).toThrow(/slowCall\.rate/);
  });
});

describe('timeWindow', () => {
  it('opens exactly at the failure rate, not before minCalls', () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '10s', failureRate: 0.5, minCalls: 4 }, { clock });
    expect(feed(window, ['failure', 'failure', 'failure'])).toEqual([false, false, false]);
    expect(feed(window, ['success'])).toEqual([true]);
  });

  it('does not open below the rate', () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '10s', failureRate: 0.5, minCalls: 4 }, { clock });
    expect(feed(window, ['failure', 'success', 'success', 'success', 'failure', 'success'])).toEqual(times(6, false));
    // 3 of 7 (43%) stays closed; 4 of 8 is exactly 50%.
    expect(feed(window, ['failure', 'failure'])).toEqual([false, true]);
  });

  it('forgets calls older than the window', async () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '10s', failureRate: 0.5, minCalls: 2, buckets: 10 }, { clock });
    feed(window, ['failure']);
    await clock.advance(5_000);
    feed(window, ['success', 'success']);
    expect(window.stats()).toMatchObject({ calls: 3, failures: 1 });
    await clock.advance(5_000); // the first bucket (t=0..1s) has left the window
    expect(window.stats()).toMatchObject({ calls: 2, failures: 0 });
    expect(feed(window, ['failure', 'failure'])).toEqual([false, true]);
    await clock.advance(60_000); // everything leaves at once
    expect(window.stats()).toEqual({ calls: 0, failures: 0, slowCalls: 0, trip: null });
  });

  it('keeps calls of the last bucket-aligned window only', async () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: 1000, minCalls: 1, buckets: 4 }, { clock });
    await clock.advance(240);
    window.record('failure'); // bucket 0 (0..250ms)
    await clock.advance(760); // t=1000: bucket 4 reuses bucket 0's slot
    expect(window.stats().calls).toBe(0);
    await clock.advance(1);
    window.record('success');
    expect(window.stats()).toMatchObject({ calls: 1, failures: 0 });
  });

  it('opens on the slow-call rate', () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '30s', minCalls: 3 }, { clock, slowCallRate: 1 });
    expect(feed(window, ['slow_success', 'slow_success'])).toEqual([false, false]);
    expect(feed(window, ['slow_success'])).toEqual([true]);
    expect(window.stats().trip).toBe('slow_calls');
    expect(feed(window, ['success'])).toEqual([false]);
  });

  it('defaults to minCalls 10 and a 50% rate', () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '1m' }, { clock });
    expect(feed(window, times(10, 'failure'))).toEqual([...times(9, false), true]);
  });

  it('resets', () => {
    const clock = createVirtualClock();
    const window = timeWindow({ window: '10s', minCalls: 1 }, { clock });
    feed(window, ['failure']);
    window.reset();
    expect(window.shouldOpen()).toBe(false);
    expect(window.stats().calls).toBe(0);
  });

  it('round-trips through JSON, expiring buckets that aged meanwhile', async () => {
    const clock = createVirtualClock(1_000_000);
    const window = timeWindow({ window: '10s', minCalls: 2 }, { clock });
    feed(window, ['failure']);
    await clock.advance(6_000);
    feed(window, ['failure', 'success']);
    const saved = JSON.parse(JSON.stringify(window.toJSON()));
    const copy = timeWindow({ window: '10s', minCalls: 2 }, { clock });
    expect(copy.restore(saved)).toBe(true);
    expect(copy.stats()).toEqual(window.stats());
    await clock.advance(5_000);
    expect(copy.stats()).toMatchObject({ calls: 2, failures: 1 });
    expect(timeWindow({ window: '20s' }, { clock }).restore(saved)).toBe(false);
    expect(copy.restore({ ...saved, failures: [5, 0, 0, 0, 0, 0, 0, 0, 0, 0] })).toBe(false);
    expect(copy.stats().calls).toBe(0);
  });

  it('validates its options', () => {
    expect(() => timeWindow({ window: 0 })).toThrow(RangeError);
    expect(() => timeWindow({ window: '10s', buckets: 0 })).toThrow(RangeError);
    expect(() => timeWindow({ window: 'soon' })).toThrow(TypeError);
  });
});

describe('createBreakerWindow', () => {
  it('picks the strategy from the options', () => {
    const clock = createVirtualClock();
    expect(feed(createBreakerWindow({}), times(5, 'failure'))).toEqual([false, false, false, false, true]);
    expect(feed(createBreakerWindow({ consecutive: 1 }), ['failure'])).toEqual([true]);
    expect(createBreakerWindow({ count: 3, minCalls: 1 }).toJSON()).toMatchObject({ kind: 'count' });
    expect(createBreakerWindow({ window: '1s' }, { clock }).toJSON()).toMatchObject({ kind: 'time' });
  });

  it('refuses ambiguous options', () => {
    expect(() => createBreakerWindow({ count: 5, window: '1s' } as unknown as BreakerWindowOptions)).toThrow(TypeError);
    expect(() => createBreakerWindow({ failureRate: 0.5 } as unknown as BreakerWindowOptions)).toThrow(/count.*window/);
  });
});

import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { realClock } from './clock.js';
import { NEVER_ABORTED } from './context.js';

// The real clock is exercised only for its wiring (zero-length waits); timing logic is tested on the virtual clock.
describe('realClock', () => {
  it('reads wall time', () => {
    const before = Date.now();
    const now = realClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('a sleep on the shared never-aborting signal adds no listener to it', async () => {
    const sleeps = Array.from({ length: 20 }, () => realClock.sleep(1, NEVER_ABORTED));
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    await Promise.all(sleeps);
  });

  it('runs and cancels timers', async () => {
    let cancelledFired = false;
    realClock.setTimer(0, () => (cancelledFired = true))();
    await new Promise<void>((resolve) => realClock.setTimer(0, resolve));
    await realClock.sleep(0);
    expect(cancelledFired).toBe(false);
  });

  it('aborts a sleep with the reason', async () => {
    const controller = new AbortController();
    const sleeping = realClock.sleep(60_000, controller.signal);
    controller.abort(new Error('bye'));
    await expect(sleeping).rejects.toThrow('bye');
  });

  describe('delays beyond what a Node timer holds (2^31 - 1 ms, about 24.8 days)', () => {
    // Fake timers behave as Node does: a longer delay fires after 1 ms.
    afterEach(() => {
      vi.useRealTimers();
    });

    it('waits the whole delay instead of firing after 1 ms', () => {
      vi.useFakeTimers();
      let fired = 0;
      const long = 3_000_000_000;
      realClock.setTimer(long, () => fired++);
      vi.advanceTimersByTime(1000);
      expect(fired).toBe(0);
      vi.advanceTimersByTime(long - 1001);
      expect(fired).toBe(0);
      vi.advanceTimersByTime(1);
      expect(fired).toBe(1);
    });

    it('can still be cancelled after the first leg', () => {
      vi.useFakeTimers();
      let fired = 0;
      const cancel = realClock.setTimer(5_000_000_000, () => fired++);
      vi.advanceTimersByTime(2 ** 31);
      cancel();
      vi.advanceTimersByTime(5_000_000_000);
      expect(fired).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('never fires an infinite delay (deadline(Infinity) must not time out at once)', () => {
      vi.useFakeTimers();
      let fired = 0;
      realClock.setTimer(Infinity, () => fired++);
      vi.advanceTimersByTime(10 * 2 ** 31);
      expect(fired).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});

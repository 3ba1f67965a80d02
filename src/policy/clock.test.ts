import { describe, expect, it } from 'vitest';
import { realClock } from './clock.js';

// The real clock is exercised only for its wiring (zero-length waits); timing logic is tested on the virtual clock.
describe('realClock', () => {
  it('reads wall time', () => {
    const before = Date.now();
    const now = realClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
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
});

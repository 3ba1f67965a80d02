import { describe, expect, it } from 'vitest';
import { createVirtualClock } from './virtual-clock.js';

describe('createVirtualClock', () => {
  it('fires timers in time order, then insertion order', async () => {
    const clock = createVirtualClock(100);
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
    clock.setTimer(20, () => fired.push(`c@${clock.now()}`));
    await clock.advance(15);
    expect(fired).toEqual(['a@110']);
    expect(clock.now()).toBe(115);
    await clock.advance(100);
    expect(fired).toEqual(['a@110', 'b@120', 'c@120']);
    expect(clock.now()).toBe(215);
  });

  it('cancels timers', async () => {
    const clock = createVirtualClock();
    let fired = false;
    const cancel = clock.setTimer(5, () => (fired = true));
    cancel();
    await clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets chained sleeps run within one advance', async () => {
    const clock = createVirtualClock();
    const times: number[] = [];
    const chain = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        times.push(clock.now());
      }
    })();
    await clock.advance(30);
    await chain;
    expect(times).toEqual([10, 20, 30]);
  });

  it('aborts a sleep at once with the signal reason', async () => {
    const clock = createVirtualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects a sleep whose signal is already aborted', async () => {
    const clock = createVirtualClock();
    await expect(clock.sleep(10, AbortSignal.abort('gone'))).rejects.toBe('gone');
  });

  it('run() jumps to each timer until the work settles', async () => {
    const clock = createVirtualClock();
    const result = await clock.run(async () => {
      await clock.sleep(3_600_000);
      await clock.sleep(500);
      return clock.now();
    });
    expect(result).toBe(3_600_500);
  });

  it('run() reports a deadlock instead of hanging', async () => {
    const clock = createVirtualClock();
    await expect(clock.run(new Promise(() => {}))).rejects.toThrow(/deadlock/);
  });

  it('runAll() stops runaway timer loops', async () => {
    const clock = createVirtualClock();
    const loop = () => clock.setTimer(1, loop);
    loop();
    await expect(clock.runAll(50)).rejects.toThrow(/more than 50/);
  });

  it('never fires an infinite timer, as the real clock never does (time does not jump to Infinity)', async () => {
    const clock = createVirtualClock();
    let fired = false;
    clock.setTimer(Infinity, () => (fired = true));
    expect(clock.pendingTimers).toBe(0);
    await clock.runAll();
    expect(fired).toBe(false);
    expect(clock.now()).toBe(0);
    await expect(clock.run(clock.sleep(Infinity))).rejects.toThrow(/deadlock/);
    expect(clock.now()).toBe(0);
  });

  it('advance() refuses to move time backwards', async () => {
    const clock = createVirtualClock(100);
    await expect(clock.advance(-50)).rejects.toThrow(RangeError);
    await expect(clock.advance(Number.NaN)).rejects.toThrow(RangeError);
    expect(clock.now()).toBe(100);
  });
});

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { drained } from './respond.js';

/** A response whose client has `queued` bytes still to read. */
function response(queued: number) {
  const res = Object.assign(new EventEmitter(), { writableNeedDrain: true, destroyed: false, writableLength: queued, socket: null });
  return res as typeof res & ServerResponse;
}

describe('drained', () => {
  it('waits as long as the client keeps reading, and gives up once it has read nothing for idleMs', async () => {
    const clock = createVirtualClock(0);
    const res = response(10_000);
    let outcome: boolean | undefined;
    void drained(res, { clock, idleMs: 2000, deadline: Infinity, signal: new AbortController().signal }).then((ok) => (outcome = ok));
    // The client reads a little every 1.5 s for 15 s: far longer than idleMs, never idle that long.
    for (let t = 0; t < 10; t++) {
      await clock.advance(1500);
      res.writableLength -= 100;
    }
    expect(outcome).toBeUndefined();
    await clock.advance(1900);
    expect(outcome).toBeUndefined();
    await clock.advance(1100);
    expect(outcome).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends at the deadline whatever the client does, at drain or close with true, and at once on abort', async () => {
    const clock = createVirtualClock(0);
    const reading = response(10_000);
    let outcome: boolean | undefined;
    void drained(reading, { clock, idleMs: 60_000, deadline: 3000, signal: new AbortController().signal }).then((ok) => (outcome = ok));
    for (let t = 0; t < 5; t++) {
      await clock.advance(500);
      reading.writableLength -= 100;
    }
    await clock.advance(600);
    expect(outcome).toBe(false);

    for (const end of ['drain', 'close', 'abort'] as const) {
      const res = response(10_000);
      const controller = new AbortController();
      const wait = drained(res, { clock, idleMs: 1000, deadline: Infinity, signal: controller.signal });
      if (end === 'abort') controller.abort();
      else res.emit(end);
      expect(await wait).toBe(true);
      expect(res.listenerCount('drain') + res.listenerCount('close')).toBe(0);
    }
    expect(clock.pendingTimers).toBe(0);
  });
});

import { sleepWith, type Clock } from './clock.js';

/** A {@link Clock} whose time moves only when told to. Timers fire in time order. */
export interface VirtualClock extends Clock {
  /** Moves time forward by `ms` (>= 0), firing due timers in order and letting promise chains settle between them. */
  advance(ms: number): Promise<void>;
  /** Fires timers (moving time) until none is left. Throws after `maxTimers` to stop runaway loops. */
  runAll(maxTimers?: number): Promise<void>;
  /**
   * Drives time until `work` settles, jumping from timer to timer, and returns its result.
   * Rejects when `work` is still pending with no timer left to fire (a deadlock).
   */
  run<T>(work: Promise<T> | (() => Promise<T>), maxTimers?: number): Promise<T>;
  /** Number of timers not yet fired or cancelled. */
  readonly pendingTimers: number;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every queued microtask (and the chains they start) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Creates a {@link VirtualClock} starting at `start` milliseconds. */
export function createVirtualClock(start = 0): VirtualClock {
  let now = start;
  let seq = 0;
  const timers = new Set<Timer>();

  const setTimer: Clock['setTimer'] = (ms, fn) => {
    // Never due, as on the real clock: not kept, so time never jumps to Infinity.
    if (ms === Infinity) return () => {};
    const timer: Timer = { at: now + Math.max(0, ms), seq: seq++, fn };
    timers.add(timer);
    return () => {
      timers.delete(timer);
    };
  };

  const next = (): Timer | undefined => {
    let best: Timer | undefined;
    for (const t of timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  };

  const fire = (timer: Timer) => {
    timers.delete(timer);
    now = Math.max(now, timer.at);
    timer.fn();
  };

  const clock: VirtualClock = {
    now: () => now,
    setTimer,
    sleep: sleepWith(setTimer),
    async advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`virtual clock: advance() needs a duration >= 0, got ${ms}`);
      const target = now + ms;
      await settle();
      for (let t = next(); t && t.at <= target; t = next()) {
        fire(t);
        await settle();
      }
      now = target;
      await settle();
    },
    async runAll(maxTimers = 100_000) {
      await settle();
      for (let i = 0, t = next(); t; t = next(), i++) {
        if (i >= maxTimers) throw new Error(`virtual clock: more than ${maxTimers} timers fired`);
        fire(t);
        await settle();
      }
    },
    async run(work, maxTimers = 100_000) {
      const promise = typeof work === 'function' ? work() : work;
      let state: 'pending' | 'done' = 'pending';
      promise.then(
        () => (state = 'done'),
        () => (state = 'done'),
      );
      await settle();
      for (let i = 0; state === 'pending'; i++) {
        const t = next();
        if (!t) throw new Error('virtual clock: the work is pending and no timer is left (deadlock)');
        if (i >= maxTimers) throw new Error(`virtual clock: more than ${maxTimers} timers fired`);
        fire(t);
        await settle();
      }
      return promise;
    },
    get pendingTimers() {
      return timers.size;
    },
  };
  return clock;
}

import { realClock, type Clock } from './clock.js';
import { toMs, type Duration } from './duration.js';
import type { JsonValue } from './state-store.js';

/**
 * How one call ended, as a breaker window counts it. A slow call ran longer than the breaker's
 * slow-call threshold; a slow success is still a success for the caller.
 */
export type CallOutcome = 'success' | 'failure' | 'slow_success' | 'slow_failure';

/** Which threshold a window crossed: the failure count/rate, or the slow-call rate. */
export type BreakerTrip = 'failures' | 'slow_calls';

/** What a window currently holds (for status pages and events; built on demand). */
export interface BreakerWindowStats {
  /** Calls currently counted (for `consecutive`: calls counted for the slow-call rate). */
  calls: number;
  /** Failures currently counted (for `consecutive`: failures in a row). */
  failures: number;
  /** Slow calls currently counted. */
  slowCalls: number;
  /** The threshold currently crossed, or `null`. */
  trip: BreakerTrip | null;
}

/** A failure-counting strategy: the part of a circuit breaker that decides when to open. */
export interface BreakerWindow {
  /** Counts one finished call; returns what `shouldOpen()` would now say (so the hot path asks once). */
  record(outcome: CallOutcome): boolean;
  /** True when the counted calls cross a threshold (the breaker should open). */
  shouldOpen(): boolean;
  /** Forgets every counted call. */
  reset(): void;
  /** The current counters. */
  stats(): BreakerWindowStats;
  /** The counters as JSON (see {@link BreakerWindow.restore}). */
  toJSON(): JsonValue;
  /**
   * Loads counters saved by `toJSON`. Returns `false` (and resets) when they do not fit this
   * window, e.g. after its size changed: stale counters are dropped rather than misread.
   */
  restore(json: JsonValue): boolean;
}

/** Opens after `consecutive` failures in a row; any success starts the count again. */
export interface ConsecutiveWindowOptions {
  /** Failures in a row that open the breaker. Default 5. */
  consecutive?: number;
  count?: never;
  window?: never;
  failureRate?: never;
  minCalls?: never;
  buckets?: never;
}

/** Opens when the failure rate over the last `count` calls reaches `failureRate`. */
export interface CountWindowOptions {
  /** Number of most recent calls considered. */
  count: number;
  /** Opens when `failures / calls >= failureRate` (0 < rate <= 1). Default 0.5. */
  failureRate?: number;
  /** No opening before this many calls are counted. Default `min(10, count)`. */
  minCalls?: number;
  consecutive?: never;
  window?: never;
  buckets?: never;
}

/** Opens when the failure rate over the last `window` of time reaches `failureRate`. */
export interface TimeWindowOptions {
  /** Length of the window, e.g. `'30s'`. */
  window: Duration;
  /** Opens when `failures / calls >= failureRate` (0 < rate <= 1). Default 0.5. */
  failureRate?: number;
  /** No opening before this many calls are counted in the window. Default 10. */
  minCalls?: number;
  /**
   * The window is kept as this many buckets (memory stays fixed; the oldest bucket leaves
   * whole, so the window spans between `window - window/buckets` and `window`). Default 10.
   */
  buckets?: number;
  consecutive?: never;
  count?: never;
}

/** One of the three counting strategies, as plain options. */
export type BreakerWindowOptions = ConsecutiveWindowOptions | CountWindowOptions | TimeWindowOptions;

/** What every window takes besides its own options. */
export interface BreakerWindowExtras {
  /**
   * Opens when the share of slow calls reaches this rate (0 < rate <= 1), under the same
   * `minCalls` rule (for `consecutive`, over the last `consecutive` calls). Off when absent.
   */
  slowCallRate?: number;
  /** Time source of the time window. Defaults to the real clock. */
  clock?: Clock;
}

const FAILED = 1;
const SLOW = 2;

function bits(outcome: CallOutcome): number {
  switch (outcome) {
    case 'success':
      return 0;
    case 'failure':
      return FAILED;
    case 'slow_success':
      return SLOW;
    case 'slow_failure':
      return FAILED | SLOW;
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function rate(name: string, value: number): number {
  if (!(value > 0 && value <= 1)) throw new RangeError(`${name} must be in (0, 1], got ${value}`);
  return value;
}

function optionalRate(name: string, value: number | undefined): number {
  // Above any reachable rate, so the check never passes.
  return value === undefined ? 2 : rate(name, value);
}

function isRecord(json: JsonValue | undefined): json is { [key: string]: JsonValue } {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

function numbers(json: JsonValue | undefined, length: number): number[] | undefined {
  if (!Array.isArray(json) || json.length !== length) return undefined;
  for (const n of json) if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return undefined;
  return json as number[];
}

/** A ring of the last `size` calls' outcome bits, with running totals. */
interface Ring {
  calls: number;
  failures: number;
  slow: number;
  push(value: number): void;
  clear(): void;
  toJSON(): JsonValue;
  restore(json: JsonValue | undefined): boolean;
}

function createRing(size: number): Ring {
  const slots = new Uint8Array(size);
  let next = 0;
  const ring: Ring = {
    calls: 0,
    failures: 0,
    slow: 0,
    push(value) {
      if (ring.calls === size) {
        const old = slots[next]!;
        ring.failures -= old & FAILED;
        ring.slow -= (old & SLOW) >> 1;
      } else {
        ring.calls++;
      }
      slots[next] = value;
      ring.failures += value & FAILED;
      ring.slow += (value & SLOW) >> 1;
      next = next + 1 === size ? 0 : next + 1;
    },
    clear() {
      slots.fill(0);
      next = 0;
      ring.calls = ring.failures = ring.slow = 0;
    },
    // Oldest first, so the JSON reads in call order.
    toJSON() {
      const out: number[] = [];
      const start = ring.calls === size ? next : 0;
      for (let i = 0; i < ring.calls; i++) out.push(slots[(start + i) % size]!);
      return out;
    },
    restore(json) {
      ring.clear();
      if (!Array.isArray(json) || json.length > size) return false;
      for (const value of json) if (value !== 0 && value !== 1 && value !== 2 && value !== 3) return false;
      for (const value of json as number[]) ring.push(value);
      return true;
    },
  };
  return ring;
}

/** Creates the {@link BreakerWindow} described by `options` (consecutive 5 when none is named). */
export function createBreakerWindow(options: BreakerWindowOptions, extras: BreakerWindowExtras = {}): BreakerWindow {
  const picked = [options.consecutive, options.count, options.window].filter((v) => v !== undefined).length;
  if (picked > 1) throw new TypeError('circuit breaker: give only one of `consecutive`, `count` and `window`');
  if (options.count !== undefined) return countWindow(options as CountWindowOptions, extras);
  if (options.window !== undefined) return timeWindow(options as TimeWindowOptions, extras);
  if (options.failureRate !== undefined || options.minCalls !== undefined) {
    throw new TypeError('circuit breaker: `failureRate` and `minCalls` need a `count` or a `window`');
  }
  return consecutiveWindow(options as ConsecutiveWindowOptions, extras);
}

/**
 * Opens after N failures in a row. With a slow-call rate, also keeps the last N calls and
 * opens when N calls are counted and the slow share among them reaches the rate.
 */
export function consecutiveWindow(options: ConsecutiveWindowOptions = {}, extras: BreakerWindowExtras = {}): BreakerWindow {
  const limit = positiveInteger('consecutive', options.consecutive ?? 5);
  const slowRate = optionalRate('slowCall.rate', extras.slowCallRate);
  const recent = extras.slowCallRate === undefined ? undefined : createRing(limit);
  let inARow = 0;

  const trip = (): BreakerTrip | null => {
    if (inARow >= limit) return 'failures';
    if (recent && recent.calls === limit && recent.slow / limit >= slowRate) return 'slow_calls';
    return null;
  };

  return {
    record(outcome) {
      const value = bits(outcome);
      inARow = value & FAILED ? inARow + 1 : 0;
      recent?.push(value);
      return trip() !== null;
    },
    shouldOpen: () => trip() !== null,
    reset() {
      inARow = 0;
      recent?.clear();
    },
    stats: () => ({ calls: recent?.calls ?? 0, failures: inARow, slowCalls: recent?.slow ?? 0, trip: trip() }),
    toJSON: () => ({ kind: 'consecutive', limit, inARow, recent: recent ? recent.toJSON() : null }),
    restore(json) {
      inARow = 0;
      recent?.clear();
      if (!isRecord(json) || json.kind !== 'consecutive' || json.limit !== limit) return false;
      const count = json.inARow;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return false;
      if (recent && json.recent !== null && !recent.restore(json.recent)) return false;
      inARow = count;
      return true;
    },
  };
}

/** Opens when, over the last `count` calls (and at least `minCalls`), a rate reaches its threshold. */
export function countWindow(options: CountWindowOptions, extras: BreakerWindowExtras = {}): BreakerWindow {
  const size = positiveInteger('count', options.count);
  const failureRate = rate('failureRate', options.failureRate ?? 0.5);
  const minCalls = positiveInteger('minCalls', options.minCalls ?? Math.min(10, size));
  if (minCalls > size) throw new RangeError(`minCalls (${minCalls}) must not exceed count (${size})`);
  const slowRate = optionalRate('slowCall.rate', extras.slowCallRate);
  const ring = createRing(size);

  const trip = (): BreakerTrip | null => {
    const calls = ring.calls;
    if (calls < minCalls) return null;
    if (ring.failures / calls >= failureRate) return 'failures';
    if (ring.slow / calls >= slowRate) return 'slow_calls';
    return null;
  };

  return {
    record(outcome) {
      ring.push(bits(outcome));
      return trip() !== null;
    },
    shouldOpen: () => trip() !== null,
    reset: () => ring.clear(),
    stats: () => ({ calls: ring.calls, failures: ring.failures, slowCalls: ring.slow, trip: trip() }),
    toJSON: () => ({ kind: 'count', size, calls: ring.toJSON() }),
    restore(json) {
      ring.clear();
      if (!isRecord(json) || json.kind !== 'count' || json.size !== size) return false;
      return ring.restore(json.calls);
    },
  };
}

/**
 * Opens when, over the last `window` of time (and at least `minCalls` calls in it), a rate
 * reaches its threshold. Calls are counted in `buckets` fixed slots, so memory is bounded
 * whatever the traffic.
 */
export function timeWindow(options: TimeWindowOptions, extras: BreakerWindowExtras = {}): BreakerWindow {
  const clock = extras.clock ?? realClock;
  const windowMs = toMs(options.window);
  if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`window must be a positive finite duration, got ${String(options.window)}`);
  const failureRate = rate('failureRate', options.failureRate ?? 0.5);
  const minCalls = positiveInteger('minCalls', options.minCalls ?? 10);
  const size = positiveInteger('buckets', options.buckets ?? 10);
  const slowRate = optionalRate('slowCall.rate', extras.slowCallRate);
  const bucketMs = windowMs / size;

  const calls = new Uint32Array(size);
  const failures = new Uint32Array(size);
  const slow = new Uint32Array(size);
  let totalCalls = 0;
  let totalFailures = 0;
  let totalSlow = 0;
  // Index (time / bucketMs) of the newest bucket; slot of bucket i is i mod size.
  let head = Math.floor(clock.now() / bucketMs);

  const slotOf = (index: number) => ((index % size) + size) % size;

  const clearSlot = (slot: number) => {
    totalCalls -= calls[slot]!;
    totalFailures -= failures[slot]!;
    totalSlow -= slow[slot]!;
    calls[slot] = failures[slot] = slow[slot] = 0;
  };

  const clearAll = () => {
    calls.fill(0);
    failures.fill(0);
    slow.fill(0);
    totalCalls = totalFailures = totalSlow = 0;
  };

  /** Moves the head to the current time, emptying the buckets that left the window. */
  const advance = () => {
    const index = Math.floor(clock.now() / bucketMs);
    // A clock that steps back keeps counting into the newest bucket.
    if (index <= head) return;
    if (index - head >= size) clearAll();
    else for (let i = head + 1; i <= index; i++) clearSlot(slotOf(i));
    head = index;
  };

  /** The crossed threshold, as of the last advance. */
  const check = (): BreakerTrip | null => {
    if (totalCalls < minCalls) return null;
    if (totalFailures / totalCalls >= failureRate) return 'failures';
    if (totalSlow / totalCalls >= slowRate) return 'slow_calls';
    return null;
  };

  return {
    record(outcome) {
      advance();
      const value = bits(outcome);
      const slot = slotOf(head);
      calls[slot]!++;
      totalCalls++;
      if (value & FAILED) {
        failures[slot]!++;
        totalFailures++;
      }
      if (value & SLOW) {
        slow[slot]!++;
        totalSlow++;
      }
      return check() !== null;
    },
    shouldOpen() {
      advance();
      return check() !== null;
    },
    reset() {
      clearAll();
      head = Math.floor(clock.now() / bucketMs);
    },
    stats() {
      advance();
      return { calls: totalCalls, failures: totalFailures, slowCalls: totalSlow, trip: check() };
    },
    toJSON() {
      advance();
      return { kind: 'time', windowMs, buckets: size, head, calls: [...calls], failures: [...failures], slow: [...slow] };
    },
    restore(json) {
      clearAll();
      head = Math.floor(clock.now() / bucketMs);
      if (!isRecord(json) || json.kind !== 'time' || json.windowMs !== windowMs || json.buckets !== size) return false;
      const savedHead = json.head;
      const c = numbers(json.calls, size);
      const f = numbers(json.failures, size);
      const s = numbers(json.slow, size);
      if (typeof savedHead !== 'number' || !Number.isInteger(savedHead) || !c || !f || !s) return false;
      for (let i = 0; i < size; i++) {
        if (f[i]! > c[i]! || s[i]! > c[i]!) {
          clearAll();
          return false;
        }
        calls[i] = c[i]!;
        failures[i] = f[i]!;
        slow[i] = s[i]!;
        totalCalls += c[i]!;
        totalFailures += f[i]!;
        totalSlow += s[i]!;
      }
      // Buckets that have left the window since the save are emptied by the next advance.
      head = savedHead;
      advance();
      return true;
    },
  };
}

import type { Clock } from '../policy/clock.js';

/**
 * Default upper bounds (ms) of latency buckets: 5 ms to 120 s in roughly ×1.5–2 steps, on round
 * numbers so Prometheus `le` labels read well (`0.075`, `1.5`, `30`… once in seconds).
 */
export const DEFAULT_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000,
  60_000, 120_000,
]);

/** `count` bounds `start, start×factor, start×factor², …` (prom-client's `exponentialBuckets`). */
export function exponentialBounds(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !(factor > 1) || !Number.isInteger(count) || count < 1) {
    throw new TypeError('exponentialBounds: expected start > 0, factor > 1 and an integer count >= 1');
  }
  const out: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) out.push(b);
  return out;
}

/** Count, sum, extremes and estimated quantiles of a set of observations (`null` when empty). JSON-safe. */
export interface HistogramSummary {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** A summary plus the cumulative bucket counts, ready for Prometheus. */
export interface HistogramSnapshot extends HistogramSummary {
  /** Cumulative counts: `buckets[i]` observations were `<= bounds[i]`. The `+Inf` bucket is `count`. */
  buckets: number[];
}

/** A fixed-memory histogram over cumulative-style buckets (Prometheus semantics: a value falls in the first bucket with `value <= le`). */
export interface Histogram {
  /** Upper bounds of the finite buckets, ascending. */
  readonly bounds: readonly number[];
  readonly count: number;
  readonly sum: number;
  /** Smallest value observed, or `undefined` when empty. */
  readonly min: number | undefined;
  /** Largest value observed, or `undefined` when empty. */
  readonly max: number | undefined;
  /** Records one value. Negative values count as 0; `NaN` is ignored. */
  observe(value: number): void;
  /**
   * Estimates the `q` quantile (0..1) from the buckets, interpolating linearly inside the bucket
   * (narrowed to the observed min and max). `null` when empty. Monotone in `q`.
   */
  quantile(q: number): number | null;
  /** Cumulative counts per bound (see {@link HistogramSnapshot.buckets}). */
  buckets(): number[];
  summary(): HistogramSummary;
  snapshot(): HistogramSnapshot;
  /** Forgets every observation. */
  reset(): void;
}

/** Throws a `TypeError` unless `bounds` is a non-empty, strictly increasing list of positive finite numbers. */
export function checkBounds(bounds: readonly number[]): void {
  if (!Array.isArray(bounds) || bounds.length === 0) throw new TypeError('histogram bounds: expected a non-empty array');
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i]!;
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= bounds[i - 1]!)) {
      throw new TypeError(`histogram bounds[${i}]: expected a finite number > 0 and above the previous bound, got ${String(b)}`);
    }
  }
}

/** Index of the bucket holding `value`: the first bound `>= value`, or `bounds.length` (+Inf). */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The quantile estimate over `counts[offset .. offset + bounds.length]` (per-bucket, not
 * cumulative). Prometheus' `histogram_quantile` rule (rank `q × total`, the first bucket reaching
 * it, linear inside), with the bucket narrowed to `[min, max]` so that a single value, or a tail
 * in the +Inf bucket, comes out exact rather than at a bucket edge.
 */
function quantileOf(
  counts: Float64Array,
  offset: number,
  bounds: readonly number[],
  total: number,
  min: number,
  max: number,
  q: number,
): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: expected 0 <= q <= 1, got ${q}`);
  if (total <= 0) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i <= bounds.length; i++) {
    const c = counts[offset + i]!;
    if (c === 0) continue;
    if (cum + c >= rank) {
      const lo = Math.max(i === 0 ? 0 : bounds[i - 1]!, min);
      const hi = Math.min(i < bounds.length ? bounds[i]! : max, max);
      // Clamped: rounding must not push the estimate past the bucket (monotonicity across buckets).
      return Math.min(hi, lo + (hi - lo) * ((rank - cum) / c));
    }
    cum += c;
  }
  return max;
}

function cumulative(counts: Float64Array, offset: number, n: number): number[] {
  const out = new Array<number>(n);
  let cum = 0;
  for (let i = 0; i < n; i++) {
    cum += counts[offset + i]!;
    out[i] = cum;
  }
  return out;
}

/** Per-bucket counts plus count, sum and extremes: the core of both histograms. */
class Tally {
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  add(index: number, v: number): void {
    this.counts[index]!++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  quantile(q: number): number | null {
    return quantileOf(this.counts, 0, this.bounds, this.count, this.min, this.max, q);
  }

  summary(): HistogramSummary {
    const { count } = this;
    return {
      count,
      sum: this.sum,
      min: count ? this.min : null,
      max: count ? this.max : null,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
    };
  }

  snapshot(): HistogramSnapshot {
    return { ...this.summary(), buckets: cumulative(this.counts, 0, this.bounds.length) };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

/** Negative values count as 0; `NaN` is dropped (returned as -1). */
const clean = (value: number) => (value > 0 ? value : Number.isNaN(value) ? -1 : 0);

/** Creates a {@link Histogram} over `bounds` (default {@link DEFAULT_LATENCY_BOUNDS_MS}). */
export function createHistogram(bounds: readonly number[] = DEFAULT_LATENCY_BOUNDS_MS): Histogram {
  checkBounds(bounds);
  const tally = new Tally(Object.freeze([...bounds]));
  return {
    bounds: tally.bounds,
    get count() {
      return tally.count;
    },
    get sum() {
      return tally.sum;
    },
    get min() {
      return tally.count ? tally.min : undefined;
    },
    get max() {
      return tally.count ? tally.max : undefined;
    },
    observe(value) {
      const v = clean(value);
      if (v >= 0) tally.add(bucketIndex(tally.bounds, v), v);
    },
    quantile: (q) => tally.quantile(q),
    buckets: () => cumulative(tally.counts, 0, tally.bounds.length),
    summary: () => tally.summary(),
    snapshot: () => tally.snapshot(),
    reset: () => tally.reset(),
  };
}

/** How a time-bucketed ring slices time. */
export interface WindowOptions {
  /** Width of one slot. Default 10 s. */
  slotMs?: number;
  /** Slots kept (the window is `slots × slotMs`). Default 30: five minutes. */
  slots?: number;
}

/** One slot of a {@link WindowedHistogram} series. */
export interface HistogramSlot {
  /** Clock time the slot starts (a multiple of `slotMs`). */
  at: number;
  count: number;
  sum: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/**
 * A histogram with memory of the last few minutes: all-time buckets for Prometheus, plus the same
 * buckets per time slot on the clock (old slots are reused, so memory is fixed). One bucket lookup
 * per observation serves both.
 */
export interface WindowedHistogram {
  readonly bounds: readonly number[];
  readonly slotMs: number;
  readonly slots: number;
  /**
   * Records one value at `now` (default `clock.now()`; pass the event's time to spare a clock read).
   * Negative values count as 0; `NaN` is ignored. A `now` older than the window only counts all-time.
   */
  observe(value: number, now?: number): void;
  /** Everything observed since creation. */
  lifetime(): HistogramSnapshot;
  /** The observations of the last `windowMs` (rounded up to whole slots, the current one included; default the whole window). */
  summary(windowMs?: number): HistogramSummary;
  /** One entry per slot of the window, oldest first, the current (partial) slot last; empty slots included. */
  series(): HistogramSlot[];
}

/** A counter of the last few minutes, in time slots on the clock. */
export interface WindowedCounter {
  readonly slotMs: number;
  readonly slots: number;
  /** Adds `n` (default 1) at `now` (default `clock.now()`). */
  add(n?: number, now?: number): void;
  /** The sum over the last `windowMs` (whole slots, the current one included; default the whole window). */
  total(windowMs?: number): number;
  /** One value per slot, oldest first, aligned with {@link WindowedHistogram.series} on the same clock and slots. */
  series(): Array<{ at: number; value: number }>;
}

interface Ring {
  readonly slotMs: number;
  readonly slots: number;
  /** The slot index of `now`, cleared first (through `clear`) if it last held an older epoch; -1 when `now` is older than the window. */
  slotAt(now: number): number;
  /** Calls `fn(index, epoch)` for each slot of the last `n` epochs up to the clock's now, oldest first; `index` is -1 when the slot holds no data of that epoch. */
  each(n: number, fn: (index: number, epoch: number) => void): void;
}

function checkWindow(options: WindowOptions): Required<WindowOptions> {
  const slotMs = options.slotMs ?? 10_000;
  const slots = options.slots ?? 30;
  if (!(slotMs > 0) || !Number.isFinite(slotMs)) throw new TypeError(`window slotMs: expected a finite number > 0, got ${String(slotMs)}`);
  if (!Number.isInteger(slots) || slots < 1) throw new TypeError(`window slots: expected an integer >= 1, got ${String(slots)}`);
  return { slotMs, slots };
}

function createRing(clock: Clock, { slotMs, slots }: Required<WindowOptions>, clear: (index: number) => void): Ring {
  // The epoch (slot number since time 0) each slot holds; NaN for never used.
  const epochs = new Float64Array(slots).fill(NaN);
  const indexOf = (epoch: number) => ((epoch % slots) + slots) % slots;
  // The newest slot written, and its time span: most writes land there, with no division.
  let latest = -Infinity;
  let latestIndex = 0;
  let latestFrom = Infinity;
  let latestTo = -Infinity;
  return {
    slotMs,
    slots,
    slotAt(now) {
      if (now >= latestFrom && now < latestTo) return latestIndex;
      const epoch = Math.floor(now / slotMs);
      if (epoch <= latest - slots) return -1;
      const index = indexOf(epoch);
      if (epochs[index] !== epoch) {
        epochs[index] = epoch;
        clear(index);
      }
      if (epoch > latest) {
        latest = epoch;
        latestIndex = index;
        latestFrom = epoch * slotMs;
        latestTo = latestFrom + slotMs;
      }
      return index;
    },
    each(n, fn) {
      const now = Math.floor(clock.now() / slotMs);
      const k = Math.min(slots, Math.max(1, n));
      for (let epoch = now - k + 1; epoch <= now; epoch++) {
        const index = indexOf(epoch);
        fn(epochs[index] === epoch ? index : -1, epoch);
      }
    },
  };
}

const slotsFor = (ring: Ring, windowMs: number | undefined) =>
  windowMs === undefined ? ring.slots : Math.ceil(Math.max(0, windowMs) / ring.slotMs);

/** Creates a {@link WindowedHistogram}: about `(slots + 1) × (bounds + 5)` numbers, allocated once. */
export function createWindowedHistogram(options: WindowOptions & { clock: Clock; bounds?: readonly number[] }): WindowedHistogram {
  const bounds = Object.freeze([...(options.bounds ?? DEFAULT_LATENCY_BOUNDS_MS)]);
  checkBounds(bounds);
  const { clock } = options;
  const grid = checkWindow(options);
  const all = new Tally(bounds);
  const width = bounds.length + 1;
  const counts = new Float64Array(grid.slots * width);
  const totals = new Float64Array(grid.slots);
  const sums = new Float64Array(grid.slots);
  const mins = new Float64Array(grid.slots);
  const maxs = new Float64Array(grid.slots);
  const ring = createRing(clock, grid, (i) => {
    counts.fill(0, i * width, (i + 1) * width);
    totals[i] = 0;
    sums[i] = 0;
    mins[i] = Infinity;
    maxs[i] = -Infinity;
  });

  return {
    bounds,
    slotMs: ring.slotMs,
    slots: ring.slots,
    observe(value, now = clock.now()) {
      const v = clean(value);
      if (v < 0) return;
      const b = bucketIndex(bounds, v);
      all.add(b, v);
      const i = ring.slotAt(now);
      if (i < 0) return;
      counts[i * width + b]!++;
      totals[i]!++;
      sums[i]! += v;
      if (v < mins[i]!) mins[i] = v;
      if (v > maxs[i]!) maxs[i] = v;
    },
    lifetime: () => all.snapshot(),
    summary(windowMs) {
      const merged = new Float64Array(width);
      let count = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      ring.each(slotsFor(ring, windowMs), (i) => {
        if (i < 0 || totals[i] === 0) return;
        for (let b = 0; b < width; b++) merged[b]! += counts[i * width + b]!;
        count += totals[i]!;
        sum += sums[i]!;
        min = Math.min(min, mins[i]!);
        max = Math.max(max, maxs[i]!);
      });
      return {
        count,
        sum,
        min: count ? min : null,
        max: count ? max : null,
        p50: quantileOf(merged, 0, bounds, count, min, max, 0.5),
        p90: quantileOf(merged, 0, bounds, count, min, max, 0.9),
        p99: quantileOf(merged, 0, bounds, count, min, max, 0.99),
      };
    },
    series() {
      const out: HistogramSlot[] = [];
      ring.each(ring.slots, (i, epoch) => {
        const at = epoch * ring.slotMs;
        if (i < 0 || totals[i] === 0) {
          out.push({ at, count: 0, sum: 0, p50: null, p90: null, p99: null });
          return;
        }
        const q = (p: number) => quantileOf(counts, i * width, bounds, totals[i]!, mins[i]!, maxs[i]!, p);
        out.push({ at, count: totals[i]!, sum: sums[i]!, p50: q(0.5), p90: q(0.9), p99: q(0.99) });
      });
      return out;
    },
  };
}

/** Creates a {@link WindowedCounter}. */
export function createWindowedCounter(options: WindowOptions & { clock: Clock }): WindowedCounter {
  const { clock } = options;
  const grid = checkWindow(options);
  const values = new Float64Array(grid.slots);
  const ring = createRing(clock, grid, (i) => {
    values[i] = 0;
  });
  return {
    slotMs: ring.slotMs,
    slots: ring.slots,
    add(n = 1, now = clock.now()) {
      const i = ring.slotAt(now);
      if (i >= 0) values[i]! += n;
    },
    total(windowMs) {
      let total = 0;
      ring.each(slotsFor(ring, windowMs), (i) => {
        if (i >= 0) total += values[i]!;
      });
      return total;
    },
    series() {
      const out: Array<{ at: number; value: number }> = [];
      ring.each(ring.slots, (i, epoch) => out.push({ at: epoch * ring.slotMs, value: i < 0 ? 0 : values[i]! }));
      return out;
    },
  };
}

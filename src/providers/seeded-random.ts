import { toMs, type Duration } from '../policy/duration.js';

/** A small, fast, seeded pseudo-random generator (mulberry32). Not for cryptography. */
export interface SeededRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** True with probability `p` (0 never, 1 always; draws one number either way). */
  chance(p: number): boolean;
  /** One item of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** A float in [min, max). */
  uniform(min: number, max: number): number;
  /** A normally distributed float (Box–Muller; draws two numbers). Not clamped. */
  normal(mean: number, sd: number): number;
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** A 32-bit finaliser (from murmur3 / "lowbias32"): spreads every input bit over the output. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Any finite number as 32 bits that depend on all of it (integers above 2³², fractions, negatives). */
function fold(value: number): number {
  if (!Number.isFinite(value)) throw new TypeError(`invalid seed: ${value} (expected a finite number)`);
  if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value;
  F64[0] = value;
  return mix32(U32[0]! ^ mix32(U32[1]!));
}

/**
 * Combines a seed with further numbers into a new 32-bit seed, so that independent streams can be
 * derived from one seed (per call, per purpose) without their draws depending on each other.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = mix32(fold(seed) ^ 0x9e3779b9);
  for (const part of parts) h = mix32(h ^ mix32((fold(part) + 0x85ebca6b) >>> 0));
  return h;
}

/** A 32-bit FNV-1a hash of a string (to turn a name into seed material). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Creates a {@link SeededRandom} (mulberry32: one 32-bit state word). The same seed always gives
 * the same sequence. Its methods work detached too (`const next = seededRandom(1).next`).
 */
export function seededRandom(seed: number): SeededRandom {
  let state = fold(seed) | 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(min, max) {
      const lo = Math.ceil(Math.min(min, max));
      const hi = Math.floor(Math.max(min, max));
      if (hi < lo) throw new RangeError(`int: no integer between ${min} and ${max}`);
      return lo + Math.floor(next() * (hi - lo + 1));
    },
    chance: (p) => next() < p,
    pick(items) {
      if (items.length === 0) throw new RangeError('pick: the list is empty');
      return items[Math.floor(next() * items.length)]!;
    },
    uniform: (min, max) => min + next() * (max - min),
    normal(mean, sd) {
      const u1 = 1 - next(); // (0, 1]: log(0) would be -Infinity
      const u2 = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
  };
}

/**
 * A latency distribution as plain data (what YAML and JSON configs hold). Durations are
 * milliseconds or strings such as `'250ms'`.
 * - `fixed`: always `value`.
 * - `uniform`: evenly between `min` and `max`.
 * - `normal`: bell curve around `mean` with standard deviation `sd`, clamped at 0.
 * - `lognormal`: long right tail, as LLM latencies have: half the samples below `median`, 1% above `p99`.
 */
export type Distribution =
  | { dist: 'fixed'; value: Duration }
  | { dist: 'uniform'; min: Duration; max: Duration }
  | { dist: 'normal'; mean: Duration; sd: Duration }
  | { dist: 'lognormal'; median: Duration; p99: Duration };

/** A time: a fixed {@link Duration} or a {@link Distribution}. */
export type LatencySpec = Duration | Distribution;

/** Draws one time in milliseconds (never negative) from a {@link SeededRandom}. */
export type LatencySampler = (random: SeededRandom) => number;

/** The standard normal quantile at 0.99. */
const Z99 = 2.3263478740408408;

function durationField(value: unknown, what: string): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new TypeError(`${what}: expected a duration such as 250 or "250ms", got ${JSON.stringify(value)}`);
  }
  try {
    return toMs(value);
  } catch (error) {
    throw new TypeError(`${what}: ${(error as Error).message}`);
  }
}

/**
 * Validates a {@link LatencySpec} once and returns its sampler. Throws a `TypeError` that names
 * `what` (e.g. `firstToken.p99`) and what was wrong.
 */
export function latencySampler(spec: LatencySpec, what = 'latency'): LatencySampler {
  if (typeof spec === 'number' || typeof spec === 'string') {
    const ms = durationField(spec, what);
    return () => ms;
  }
  if (typeof spec !== 'object' || spec === null) {
    throw new TypeError(`${what}: expected a duration or a distribution object, got ${JSON.stringify(spec)}`);
  }
  switch (spec.dist) {
    case 'fixed': {
      const ms = durationField(spec.value, `${what}.value`);
      return () => ms;
    }
    case 'uniform': {
      const min = durationField(spec.min, `${what}.min`);
      const max = durationField(spec.max, `${what}.max`);
      if (max < min) throw new TypeError(`${what}: max (${max}ms) is below min (${min}ms)`);
      return (r) => r.uniform(min, max);
    }
    case 'normal': {
      const mean = durationField(spec.mean, `${what}.mean`);
      const sd = durationField(spec.sd, `${what}.sd`);
      return (r) => Math.max(0, r.normal(mean, sd));
    }
    case 'lognormal': {
      const median = durationField(spec.median, `${what}.median`);
      const p99 = durationField(spec.p99, `${what}.p99`);
      if (p99 < median) throw new TypeError(`${what}: p99 (${p99}ms) is below median (${median}ms)`);
      if (median === 0 || p99 === median) return () => median;
      const mu = Math.log(median);
      const sigma = Math.log(p99 / median) / Z99;
      return (r) => Math.exp(r.normal(mu, sigma));
    }
    default:
      throw new TypeError(
        `${what}.dist: expected "fixed", "uniform", "normal" or "lognormal", got ${JSON.stringify((spec as { dist?: unknown }).dist)}`,
      );
  }
}

/** Draws one time in milliseconds from `spec` (validating it each time: compile with {@link latencySampler} on hot paths). */
export function sampleMs(random: SeededRandom, spec: LatencySpec): number {
  return latencySampler(spec)(random);
}

import { toMs, type Duration } from './duration.js';

/** What a {@link WaitStrategy} sees when it picks the delay before the next attempt. */
export interface WaitInfo {
  /** The attempt that just failed (1-based). The first retry is computed with `attempt = 1`. */
  readonly attempt: number;
  /** Milliseconds since the retry started. */
  readonly elapsed: number;
  /** The delay slept before the attempt that just failed (0 before the first retry). */
  readonly lastDelay: number;
  /** The error of the failed attempt, when it threw. */
  readonly error?: unknown;
  /** The result of the failed attempt, when a result was retried. */
  readonly result?: unknown;
}

/**
 * Picks the delay in milliseconds before the next attempt. Any function of this shape is a
 * custom strategy. It must return a finite number >= 0.
 */
export type WaitStrategy = (info: WaitInfo) => number;

/** A source of uniform random numbers in `[0, 1)`; `Math.random` by default. Inject one to make jitter deterministic. */
export type RandomSource = () => number;

// Looked up on each call, so a test can stub `Math.random` after the strategy was built.
const mathRandom: RandomSource = () => Math.random();

/** Options shared by the exponential strategies: the delay grows as `base · factor^n`, `n = attempt - 1`. */
export interface ExponentialOptions {
  /** Delay of the first retry (before jitter). Default `500ms`, as the OpenAI and Anthropic SDKs. */
  base?: Duration;
  /** Growth per retry. Default 2. */
  factor?: number;
  /** Upper bound of every delay (must be finite). Default `8s`, as the OpenAI and Anthropic SDKs. */
  maxDelay?: Duration;
}

/** {@link ExponentialOptions} plus the random source used by the jittered strategies. */
export interface JitterOptions extends ExponentialOptions {
  /** Uniform `[0, 1)` source; default `Math.random`. */
  random?: RandomSource;
}

/** Default first delay of the exponential strategies (ms). */
export const DEFAULT_WAIT_BASE_MS = 500;
/** Default cap of the exponential strategies (ms). */
export const DEFAULT_WAIT_CAP_MS = 8_000;

/** Always waits `delay`. */
export function waitFixed(delay: Duration): WaitStrategy {
  const ms = toMs(delay);
  finite('delay', ms);
  return () => ms;
}

/** Waits `start + step · n` (n = 0 for the first retry), at most `maxDelay` (default: no cap). */
export function waitLinear(options: { start?: Duration; step: Duration; maxDelay?: Duration }): WaitStrategy {
  const start = toMs(options.start ?? 0);
  const step = toMs(options.step);
  const cap = toMs(options.maxDelay ?? Infinity);
  finite('start', start);
  finite('step', step);
  return (info) => Math.min(cap, start + step * (info.attempt - 1));
}

/** Waits `base · factor^n` (n = 0 for the first retry), at most `maxDelay`. No jitter: prefer a jittered one for shared services. */
export function waitExponential(options: ExponentialOptions = {}): WaitStrategy {
  const { base, factor, cap } = exponential(options);
  return (info) => grow(base, factor, cap, info.attempt);
}

/** Waits a uniformly random time in `[min, max]`. */
export function waitRandom(options: { min?: Duration; max: Duration; random?: RandomSource }): WaitStrategy {
  const min = toMs(options.min ?? 0);
  const max = toMs(options.max);
  finite('max', max);
  if (min > max) throw new RangeError(`waitRandom: min (${min}ms) is greater than max (${max}ms)`);
  const random = options.random ?? mathRandom;
  return () => min + random() * (max - min);
}

/**
 * AWS "full jitter": `random(0, min(cap, base · factor^n))`. Spreads retries the most; the
 * default of `retry()`.
 */
export function waitFullJitter(options: JitterOptions = {}): WaitStrategy {
  const { base, factor, cap } = exponential(options);
  const random = options.random ?? mathRandom;
  return (info) => random() * grow(base, factor, cap, info.attempt);
}

/** AWS "equal jitter": with `v = min(cap, base · factor^n)`, waits `v/2 + random(0, v/2)`. */
export function waitEqualJitter(options: JitterOptions = {}): WaitStrategy {
  const { base, factor, cap } = exponential(options);
  const random = options.random ?? mathRandom;
  return (info) => {
    const v = grow(base, factor, cap, info.attempt);
    const half = v / 2;
    // `min` keeps the bound for subnormal values, where halving and adding back can round above v.
    return Math.min(v, half + random() * half);
  };
}

/**
 * AWS "decorrelated jitter": `min(cap, random(base, previous · 3))`, where `previous` is the last
 * delay (at least `base`). Always within `[base, cap]`. `factor` is not used.
 */
export function waitDecorrelatedJitter(options: Omit<JitterOptions, 'factor'> = {}): WaitStrategy {
  const { base, cap } = exponential(options);
  const random = options.random ?? mathRandom;
  return (info) => {
    const previous = info.lastDelay > base ? info.lastDelay : base;
    return Math.min(cap, base + random() * (previous * 3 - base));
  };
}

/** Caps any strategy at `maxDelay`. */
export function waitCapped(wait: WaitStrategy, maxDelay: Duration): WaitStrategy {
  const cap = toMs(maxDelay);
  return (info) => Math.min(cap, wait(info));
}

/** Adds strategies together, e.g. `waitSum(waitFixed('1s'), waitRandom({ max: '500ms' }))`. */
export function waitSum(...waits: WaitStrategy[]): WaitStrategy {
  return (info) => {
    let total = 0;
    for (const wait of waits) total += wait(info);
    return total;
  };
}

/** One step of a {@link waitChain}: a strategy used once, or `[times, strategy]` used `times` retries in a row. */
export type WaitChainStep = WaitStrategy | readonly [times: number, wait: WaitStrategy];

/**
 * Uses each step in turn; the last step goes on for every later retry.
 * `waitChain([3, waitFixed(100)], waitExponential())` waits 100ms three times, then exponentially.
 * Each step counts attempts from its own start, so the exponential above begins at `base`.
 */
export function waitChain(...steps: WaitChainStep[]): WaitStrategy {
  if (steps.length === 0) throw new RangeError('waitChain: needs at least one step');
  const waits: WaitStrategy[] = [];
  const starts: number[] = [];
  let start = 0;
  for (const step of steps) {
    const [times, wait] = typeof step === 'function' ? [1, step] : step;
    if (!(times >= 1) || !Number.isInteger(times)) throw new RangeError(`waitChain: times must be an integer >= 1, got ${times}`);
    waits.push(wait);
    starts.push(start);
    start += times;
  }
  return (info) => {
    const retry = info.attempt - 1;
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > retry) i--;
    return waits[i]!({ ...info, attempt: retry - starts[i]! + 1 });
  };
}

/** `min(cap, base · factor^(attempt - 1))`, safe when the power overflows (`0 · Infinity` would be NaN). */
function grow(base: number, factor: number, cap: number, attempt: number): number {
  if (base === 0) return 0;
  return Math.min(cap, base * factor ** (attempt - 1));
}

function exponential(options: ExponentialOptions): { base: number; factor: number; cap: number } {
  const base = toMs(options.base ?? DEFAULT_WAIT_BASE_MS);
  const factor = options.factor ?? 2;
  const cap = toMs(options.maxDelay ?? DEFAULT_WAIT_CAP_MS);
  finite('base', base);
  finite('maxDelay', cap);
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`wait: factor must be a finite number > 0, got ${factor}`);
  if (base > cap) throw new RangeError(`wait: base (${base}ms) is greater than maxDelay (${cap}ms)`);
  return { base, factor, cap };
}

function finite(name: string, ms: number): void {
  if (!Number.isFinite(ms)) throw new RangeError(`wait: ${name} must be finite, got ${ms}`);
}

import { realClock, type Clock } from './clock.js';
import { toMs, type Duration } from './duration.js';
import { createEmitter, type EventSubscriber } from './events.js';

/**
 * Caps extra attempts (retries and hedges) as a share of recent calls, so an outage cannot
 * become a retry storm. Retry and hedge ask it before every extra attempt.
 */
export interface RetryBudget {
  /** Records a first attempt of a new call. */
  recordCall(): void;
  /** Spends one extra attempt; `false` when the budget is exhausted (the extra attempt must not run). */
  tryAcquire(): boolean;
  /** Feedback for token-based throttling: an attempt succeeded. */
  recordSuccess(): void;
  /** Feedback for token-based throttling: an attempt failed in a retryable way. */
  recordFailure(): void;
}

/** A budget's state, for metrics and `/status`. */
export type RetryBudgetSnapshot = RatioBudgetSnapshot | TokenBudgetSnapshot;

/** State of a {@link retryBudget}: counts over the sliding window. */
export interface RatioBudgetSnapshot {
  readonly kind: 'ratio';
  /** First attempts recorded in the window. */
  readonly calls: number;
  /** Extra attempts granted in the window. */
  readonly extras: number;
  /** Extra attempts the window allows: `max(minPerSecond × windowSeconds, ratio × calls)`. */
  readonly limit: number;
  /** Whether the next `tryAcquire` would succeed. */
  readonly allowed: boolean;
}

/** State of a {@link tokenBucketBudget}. */
export interface TokenBudgetSnapshot {
  readonly kind: 'token';
  readonly tokens: number;
  readonly maxTokens: number;
  /** Retries are allowed while `tokens` is above this (`maxTokens / 2`). */
  readonly threshold: number;
  /** Whether the next `tryAcquire` would succeed. */
  readonly allowed: boolean;
}

/** A {@link RetryBudget} that reports its state and tells when it refuses an extra attempt. */
export interface ObservableRetryBudget<S extends RetryBudgetSnapshot = RetryBudgetSnapshot> extends RetryBudget {
  /** The current state (cheap; build it for metrics, not on every call). */
  snapshot(): S;
  /** Called with the state each time `tryAcquire` refuses. */
  readonly onExhausted: EventSubscriber<S>;
}

/** Options of {@link retryBudget}. */
export interface RetryBudgetOptions {
  /** Extra attempts allowed per recorded call. Default `0.2` (20 %). */
  ratio?: number;
  /** Floor: this many extra attempts per second of window are always allowed. Default `10`. */
  minPerSecond?: number;
  /** Length of the sliding window. Default `'10s'`. */
  window?: Duration;
  /** Number of buckets the window slides by (its resolution). Default `10`. */
  buckets?: number;
  /** Source of time for the window; default the real clock. */
  clock?: Clock;
}

/**
 * Envoy / Linkerd-style retry budget: over a sliding window, extra attempts are allowed while
 * `extras < max(minPerSecond × windowSeconds, ratio × calls)`. The floor keeps retries possible
 * at low traffic; the ratio caps them at high traffic so an outage cannot become a retry storm.
 */
export function retryBudget(options: RetryBudgetOptions = {}): ObservableRetryBudget<RatioBudgetSnapshot> {
  const { ratio = 0.2, minPerSecond = 10, buckets = 10, clock = realClock } = options;
  const windowMs = toMs(options.window ?? '10s');
  if (!(ratio >= 0) || !Number.isFinite(ratio)) throw new RangeError(`retryBudget: ratio must be a finite number >= 0, got ${ratio}`);
  if (!(minPerSecond >= 0) || !Number.isFinite(minPerSecond)) {
    throw new RangeError(`retryBudget: minPerSecond must be a finite number >= 0, got ${minPerSecond}`);
  }
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`retryBudget: window must be > 0, got ${String(options.window)}`);
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`retryBudget: buckets must be an integer >= 1, got ${buckets}`);

  const floor = (minPerSecond * windowMs) / 1000;
  const bucketMs = windowMs / buckets;
  const callCounts = new Array<number>(buckets).fill(0);
  const extraCounts = new Array<number>(buckets).fill(0);
  let calls = 0;
  let extras = 0;
  let current = Math.floor(clock.now() / bucketMs);
  const exhausted = createEmitter<RatioBudgetSnapshot>();

  /** Moves the window to now, clearing the buckets that fell out of it; returns the current slot. */
  const slide = (): number => {
    const index = Math.floor(clock.now() / bucketMs);
    if (index > current) {
      const steps = Math.min(index - current, buckets);
      for (let k = 1; k <= steps; k++) {
        const slot = (current + k) % buckets;
        calls -= callCounts[slot]!;
        extras -= extraCounts[slot]!;
        callCounts[slot] = 0;
        extraCounts[slot] = 0;
      }
      current = index;
    }
    return current % buckets;
  };
  const limit = () => Math.max(floor, ratio * calls);
  const snapshot = (): RatioBudgetSnapshot => {
    slide();
    const max = limit();
    return { kind: 'ratio', calls, extras, limit: max, allowed: extras < max };
  };

  return {
    recordCall() {
      const slot = slide();
      callCounts[slot]!++;
      calls++;
    },
    tryAcquire() {
      const slot = slide();
      if (extras < limit()) {
        extraCounts[slot]!++;
        extras++;
        return true;
      }
      if (exhausted.active) exhausted.emit(snapshot());
      return false;
    },
    recordSuccess() {},
    recordFailure() {},
    snapshot,
    onExhausted: exhausted.on,
  };
}

/** Options of {@link tokenBucketBudget}. */
export interface TokenBucketBudgetOptions {
  /** Size of the bucket (it starts full). Default `10`. */
  maxTokens?: number;
  /** Tokens a success adds back (a failure takes 1). Up to three decimals. Default `0.1`. */
  tokenRatio?: number;
}

/**
 * gRPC-style retry throttling: each failed attempt takes one token, each success adds back
 * `tokenRatio`; extra attempts are allowed only while tokens exceed `maxTokens / 2`. Asking
 * does not spend anything — the failures do. Kept in thousandths, as gRPC does, so it never drifts.
 */
export function tokenBucketBudget(options: TokenBucketBudgetOptions = {}): ObservableRetryBudget<TokenBudgetSnapshot> {
  const { maxTokens = 10, tokenRatio = 0.1 } = options;
  if (!(maxTokens > 0) || !Number.isFinite(maxTokens)) throw new RangeError(`tokenBucketBudget: maxTokens must be a finite number > 0, got ${maxTokens}`);
  if (!(tokenRatio > 0) || !Number.isFinite(tokenRatio)) throw new RangeError(`tokenBucketBudget: tokenRatio must be a finite number > 0, got ${tokenRatio}`);

  const max = Math.round(maxTokens * 1000);
  const gain = Math.max(1, Math.round(tokenRatio * 1000));
  const threshold = max / 2;
  let tokens = max;
  const exhausted = createEmitter<TokenBudgetSnapshot>();
  const snapshot = (): TokenBudgetSnapshot => ({
    kind: 'token',
    tokens: tokens / 1000,
    maxTokens: max / 1000,
    threshold: threshold / 1000,
    allowed: tokens > threshold,
  });

  return {
    recordCall() {},
    tryAcquire() {
      if (tokens > threshold) return true;
      if (exhausted.active) exhausted.emit(snapshot());
      return false;
    },
    recordSuccess() {
      tokens = Math.min(max, tokens + gain);
    },
    recordFailure() {
      tokens = Math.max(0, tokens - 1000);
    },
    snapshot,
    onExhausted: exhausted.on,
  };
}

/** A budget that always allows extra attempts. Use it to hedge or retry without a cap, knowingly. */
export const unlimitedBudget: RetryBudget = Object.freeze({
  recordCall() {},
  tryAcquire: () => true,
  recordSuccess() {},
  recordFailure() {},
});

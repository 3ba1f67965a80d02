import { realClock, type Clock } from './clock.js';
import { NEVER_ABORTED, toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { toMs, type Duration } from './duration.js';
import { RateLimitedError } from './errors.js';
import { createEmitter, type Dispose, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';

/** `wait`: sleep (abortably, FIFO) until the tokens are there. `reject`: fail at once with the time to wait. */
export type RateLimitMode = 'wait' | 'reject';

/** Options of {@link rateLimiter}. */
export interface RateLimiterOptions {
  /** Size of the bucket, in units (requests, or tokens for a weighted limit). It starts full. */
  capacity: number;
  /** `amount` units flow back every `every`, continuously (half of it after half the time). */
  refill: { amount: number; every: Duration };
  /** Default `'wait'`. */
  mode?: RateLimitMode;
  /** Cost of a call when `execute` is given no `cost`. Default: 1 unit per call. */
  weight?: (ctx: PolicyContext) => number;
  /** Source of time and timers; default the real clock. */
  clock?: Clock;
}

/** {@link ExecuteOptions} plus the cost of this one call (overrides `weight`). */
export interface RateLimitExecuteOptions extends ExecuteOptions {
  /** Units this call takes from the bucket (a finite number >= 0). */
  cost?: number;
}

/** Why a rate limiter turned a call away. */
export type RateLimitRejectReason = 'empty' | 'deadline' | 'cost';

/** Emitted when a call is turned away. */
export interface RateLimitRejectEvent {
  readonly reason: RateLimitRejectReason;
  readonly cost: number;
  readonly retryAfterMs: number;
}

/** Emitted when a call starts waiting for tokens (`wait` mode). */
export interface RateLimitWaitEvent {
  readonly cost: number;
  /** Expected wait (an upper bound: it shrinks if calls ahead leave the queue). */
  readonly waitMs: number;
}

/** A token-bucket rate limiter. */
export interface RateLimiterPolicy extends Policy {
  execute<T>(operation: Operation<T>, options?: RateLimitExecuteOptions): Promise<T>;
  /** Takes `cost` units (default 1) now if they are there and nobody is queued; never waits. */
  tryAcquire(cost?: number): boolean;
  /** Units in the bucket now (may be fractional). */
  readonly available: number;
  /** Milliseconds until `cost` units (default 1) could be taken, counting the calls queued ahead. */
  timeUntilAvailable(cost?: number): number;
  /** Calls waiting for tokens now. */
  readonly waiting: number;
  readonly onReject: EventSubscriber<RateLimitRejectEvent>;
  readonly onWait: EventSubscriber<RateLimitWaitEvent>;
}

/** Thrown when one call costs more than the bucket can ever hold; `retryAfterMs` is `Infinity`. */
export class RateLimitCostError extends RateLimitedError {
  constructor(
    readonly cost: number,
    readonly capacity: number,
  ) {
    super(Infinity);
    this.name = 'RateLimitCostError';
    this.message = `rate limit: a call costing ${cost} can never pass a bucket of capacity ${capacity}`;
  }
}

interface Waiter {
  readonly cost: number;
  grant(): void;
}

/**
 * A token bucket of `capacity` units refilled continuously at `refill.amount` per `refill.every`.
 * Each call costs 1 unit, `weight(ctx)`, or the `cost` passed to `execute` (for tokens-per-minute
 * limits). In `wait` mode calls queue FIFO (a cheap call never overtakes a costly one) and wait on
 * the clock, abortably; a call whose wait would pass `ctx.deadline` is rejected at once with a
 * {@link RateLimitedError} carrying the wait. In `reject` mode a call without enough units fails at
 * once with the time until there will be. A cost above `capacity` always fails with {@link RateLimitCostError}.
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiterPolicy {
  const { capacity, refill, mode = 'wait', weight, clock = realClock } = options;
  const everyMs = toMs(refill.every);
  if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError(`rateLimiter: capacity must be a finite number > 0, got ${capacity}`);
  if (!(refill.amount > 0) || !Number.isFinite(refill.amount)) {
    throw new RangeError(`rateLimiter: refill.amount must be a finite number > 0, got ${refill.amount}`);
  }
  if (!(everyMs > 0) || !Number.isFinite(everyMs)) throw new RangeError(`rateLimiter: refill.every must be > 0, got ${String(refill.every)}`);
  if (mode !== 'wait' && mode !== 'reject') throw new RangeError(`rateLimiter: mode must be 'wait' or 'reject', got ${String(mode)}`);

  const perMs = refill.amount / everyMs;
  // Float refills land a hair short of a whole cost; this much shortfall still counts as enough.
  const epsilon = capacity * 1e-9;
  let tokens = capacity;
  let refilledAt = clock.now();
  const queue = new Set<Waiter>();
  let queuedCost = 0;
  let cancelTimer: Dispose | undefined;
  const rejects = createEmitter<RateLimitRejectEvent>();
  const waits = createEmitter<RateLimitWaitEvent>();

  const refillNow = (): void => {
    const now = clock.now();
    if (now > refilledAt) {
      tokens = Math.min(capacity, tokens + (now - refilledAt) * perMs);
      refilledAt = now;
    }
  };
  const take = (cost: number): boolean => {
    if (tokens + epsilon < cost) return false;
    tokens = Math.max(0, tokens - cost);
    return true;
  };
  const msUntil = (units: number): number => (units <= epsilon ? 0 : Math.ceil(units / perMs));

  /** Grants queued calls in order while units last, then sleeps until the head can pass. */
  const drain = (): void => {
    cancelTimer?.();
    cancelTimer = undefined;
    refillNow();
    for (const waiter of queue) {
      if (!take(waiter.cost)) {
        cancelTimer = clock.setTimer(Math.max(1, msUntil(waiter.cost - tokens)), drain);
        return;
      }
      queue.delete(waiter);
      queuedCost -= waiter.cost;
      waiter.grant();
    }
  };

  const costOf = (ctx: PolicyContext, given: number | undefined): number => {
    const cost = given ?? (weight ? weight(ctx) : 1);
    if (!(cost >= 0) || !Number.isFinite(cost)) throw new RangeError(`rateLimiter: cost must be a finite number >= 0, got ${cost}`);
    return cost;
  };

  const turnAway = (reason: RateLimitRejectReason, cost: number, retryAfterMs: number): RateLimitedError => {
    if (rejects.active) rejects.emit({ reason, cost, retryAfterMs });
    return reason === 'cost' ? new RateLimitCostError(cost, capacity) : new RateLimitedError(retryAfterMs);
  };

  const enqueue = (ctx: PolicyContext, cost: number, waitMs: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const { signal } = ctx;
      const onAbort = (): void => {
        queue.delete(waiter);
        queuedCost -= cost;
        reject(signal.reason);
        drain();
      };
      const waiter: Waiter = {
        cost,
        grant() {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      if (waits.active) waits.emit({ cost, waitMs });
      queue.add(waiter);
      queuedCost += cost;
      // The shared never-aborting signal would collect one listener per queued call.
      if (signal !== NEVER_ABORTED) signal.addEventListener('abort', onAbort, { once: true });
      if (queue.size === 1) drain();
    });

  return {
    get available() {
      refillNow();
      return tokens;
    },
    get waiting() {
      return queue.size;
    },
    onReject: rejects.on,
    onWait: waits.on,
    tryAcquire(cost = 1) {
      if (cost > capacity || queue.size > 0) return false;
      refillNow();
      return take(cost);
    },
    timeUntilAvailable(cost = 1) {
      if (cost > capacity) return Infinity;
      refillNow();
      return msUntil(queuedCost + cost - tokens);
    },
    async execute<T>(operation: Operation<T>, executeOptions?: RateLimitExecuteOptions): Promise<T> {
      const ctx = toContext(executeOptions);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const cost = costOf(ctx, executeOptions?.cost);
      if (cost > capacity) throw turnAway('cost', cost, Infinity);
      refillNow();
      if (queue.size === 0 && take(cost)) return operation(ctx);
      const waitMs = msUntil(queuedCost + cost - tokens);
      if (mode === 'reject') throw turnAway('empty', cost, waitMs);
      if (clock.now() + waitMs > ctx.deadline) throw turnAway('deadline', cost, waitMs);
      await enqueue(ctx, cost, waitMs);
      // Granted, but the signal may have aborted since (e.g. one signal over several queued
      // calls: the first to leave hands its units to the next): give the units back.
      if (ctx.signal.aborted) {
        tokens = Math.min(capacity, tokens + cost);
        if (queue.size > 0) drain();
        throw ctx.signal.reason;
      }
      return operation(ctx);
    },
  };
}

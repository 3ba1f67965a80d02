import { realClock, type Clock } from './clock.js';
import { NEVER_ABORTED, toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { BulkheadRejectedError, TimeoutError } from './errors.js';
import { createEmitter, type Dispose, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls allowed to run at the same time (an integer >= 1). */
  concurrency: number;
  /** Calls allowed to wait for a free slot, first in first out (an integer >= 0, or `Infinity`). Default `0`. */
  queue?: number;
  /** Times the deadlines of queued calls. Default {@link realClock}. */
  clock?: Clock;
}

/** Emitted when a call is turned away because every slot and queue place is taken. */
export interface BulkheadRejectEvent {
  readonly running: number;
  readonly queued: number;
}

/** A concurrency limit with a bounded queue. */
export interface BulkheadPolicy extends Policy {
  /** Calls running now. */
  readonly running: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  readonly onReject: EventSubscriber<BulkheadRejectEvent>;
}

interface Waiter {
  /** Hands the (already counted) slot to this call. */
  admit(): void;
}

/**
 * Runs at most `concurrency` calls at once; up to `queue` more wait in FIFO order, and any
 * further call fails at once with a {@link BulkheadRejectedError}. A queued call leaves the queue
 * as soon as its signal aborts (rejecting with the signal's reason) or its deadline passes
 * (rejecting with a {@link TimeoutError}); it never runs, and the calls behind it move up.
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  const { concurrency, queue: capacity = 0, clock = realClock } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`bulkhead: concurrency must be an integer >= 1, got ${concurrency}`);
  }
  if (!(capacity === Infinity || (Number.isInteger(capacity) && capacity >= 0))) {
    throw new RangeError(`bulkhead: queue must be an integer >= 0 or Infinity, got ${capacity}`);
  }

  let running = 0;
  // A Set keeps insertion order and removes an aborted waiter in O(1).
  const waiting = new Set<Waiter>();
  const rejects = createEmitter<BulkheadRejectEvent>();

  const release = (): void => {
    // The slot goes straight to the first waiter, so a newcomer can never jump the queue.
    for (const next of waiting) {
      waiting.delete(next);
      next.admit();
      return;
    }
    running--;
  };

  const wait = (ctx: PolicyContext): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const { signal, deadline } = ctx;
      let cancelTimer: Dispose | undefined;
      const leave = (): void => {
        waiting.delete(waiter);
        signal.removeEventListener('abort', onAbort);
        cancelTimer?.();
      };
      const onAbort = (): void => {
        leave();
        reject(signal.reason);
      };
      const waiter: Waiter = {
        admit() {
          signal.removeEventListener('abort', onAbort);
          cancelTimer?.();
          resolve();
        },
      };
      waiting.add(waiter);
      // The shared never-aborting signal would collect one listener per queued call.
      if (signal !== NEVER_ABORTED) signal.addEventListener('abort', onAbort, { once: true });
      if (deadline !== Infinity) {
        const ms = deadline - clock.now();
        cancelTimer = clock.setTimer(ms, () => {
          leave();
          reject(new TimeoutError('deadline', ms));
        });
      }
    });

  return {
    get running() {
      return running;
    },
    get queued() {
      return waiting.size;
    },
    onReject: rejects.on,
    async execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T> {
      const ctx = toContext(executeOptions);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (running < concurrency) {
        running++;
      } else {
        if (waiting.size >= capacity) {
          if (rejects.active) rejects.emit({ running, queued: waiting.size });
          throw new BulkheadRejectedError(concurrency, capacity);
        }
        if (ctx.deadline <= clock.now()) throw new TimeoutError('deadline', 0);
        await wait(ctx);
        // Admitted, but the signal may have aborted in the microtask since: give the slot back.
        if (ctx.signal.aborted) {
          release();
          throw ctx.signal.reason;
        }
      }
      try {
        return await operation(ctx);
      } finally {
        release();
      }
    },
  };
}

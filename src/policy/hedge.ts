import { linkSignal, type LinkedSignal } from './abort.js';
import { realClock, type Clock } from './clock.js';
import { NEVER_ABORTED, toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { toMs, type Duration } from './duration.js';
import { AllAttemptsFailedError } from './errors.js';
import { createEmitter, type Dispose, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * The abort reason of an attempt that lost a hedge race: another attempt won. `winner` is the
 * winning attempt's number (a router's hedge lane, 1-based), or 0 when none won and the call ended
 * (a router stops its other lanes when one fails in a way every target would).
 */
export class HedgeLostError extends Error {
  constructor(readonly winner: number) {
    super(winner > 0 ? `hedge lost: attempt ${winner} won` : 'hedge lost: the call ended');
    this.name = 'HedgeLostError';
  }
}

/** Recorded for an attempt whose result `isAcceptable` turned down. */
export class UnacceptableResultError extends Error {
  constructor(readonly result: unknown) {
    super('result not acceptable');
    this.name = 'UnacceptableResultError';
  }
}

/** Options of {@link hedge}. */
export interface HedgeOptions<R = unknown> {
  /**
   * How long to wait after an attempt starts before starting the next one; a function gets the
   * `attempt` number of the attempt about to start and returns milliseconds (`Infinity`: no more
   * hedges on a delay). If it throws, or returns a negative or NaN delay, the execution rejects with
   * that error and its running attempts are aborted.
   */
  delay: Duration | ((attempt: number) => number);
  /** Attempts at most, the first included (an integer >= 1). Default `2`. */
  maxAttempts?: number;
  /** `'start-next'` (default): when an attempt fails, start the next at once. `'wait'`: only the delay starts one. */
  onFailure?: 'start-next' | 'wait';
  /** A result for which this returns `false` counts as a failure (an {@link UnacceptableResultError}). */
  isAcceptable?: (result: R) => boolean;
  /**
   * Every hedge spends one extra attempt of this budget. Without a budget nothing is hedged (pass
   * `unlimitedBudget` to hedge without a cap). Attempt outcomes feed `recordSuccess`/`recordFailure`.
   */
  budget?: RetryBudget;
  /** Call `budget.recordCall()` once per execution. Default `true`; turn off when an enclosing policy records calls in the same budget. */
  recordCalls?: boolean;
  /** Source of time and timers; default the real clock. */
  clock?: Clock;
}

/** Emitted when a hedge starts. */
export interface HedgeEvent {
  readonly attempt: number;
  /** Milliseconds since the first attempt started. */
  readonly afterMs: number;
  /** What started it: the delay passed, or an attempt failed. */
  readonly cause: 'delay' | 'failure';
}

/** Emitted when an attempt's result wins. */
export interface HedgeWinEvent {
  readonly attempt: number;
  readonly afterMs: number;
}

/** A policy that races delayed copies of an operation. */
export interface HedgePolicy extends Policy {
  readonly onHedge: EventSubscriber<HedgeEvent>;
  readonly onWin: EventSubscriber<HedgeWinEvent>;
}

/**
 * Runs the operation; if it has not settled after `delay`, starts another copy (and so on up to
 * `maxAttempts`), each with its own child signal and `attempt` number (counting on from the
 * caller's). The first acceptable result wins and every other attempt still running is aborted
 * at once with a {@link HedgeLostError}. If all fail, rejects with an {@link AllAttemptsFailedError}
 * listing every error in start order. The caller's abort aborts every attempt and rejects at once.
 */
export function hedge<R = unknown>(options: HedgeOptions<R>): HedgePolicy {
  const { maxAttempts = 2, onFailure = 'start-next', isAcceptable, budget, recordCalls = true, clock = realClock } = options;
  const delay = options.delay;
  const fixedDelay = typeof delay === 'function' ? 0 : toMs(delay);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`hedge: maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  const hedges = createEmitter<HedgeEvent>();
  const wins = createEmitter<HedgeWinEvent>();

  return {
    onHedge: hedges.on,
    onWin: wins.on,
    execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T> {
      const ctx = toContext(executeOptions);
      const parent = ctx.signal;
      if (parent.aborted) return Promise.reject(parent.reason);
      if (budget && recordCalls) budget.recordCall();
      const start = clock.now();
      const accept = isAcceptable as ((result: T) => boolean) | undefined;

      return new Promise<T>((resolve, reject) => {
        const links: Array<LinkedSignal | undefined> = [];
        const errors: unknown[] = [];
        let started = 0;
        let running = 0;
        let done = false;
        let cancelTimer: Dispose | undefined;
        // Once the budget refuses, this execution stops hedging (and stops asking).
        let refused = !budget;

        const stopTimer = (): void => {
          cancelTimer?.();
          cancelTimer = undefined;
        };
        const finish = (): void => {
          done = true;
          stopTimer();
          parent.removeEventListener('abort', onAbort);
        };
        const onAbort = (): void => {
          if (done) return;
          finish();
          // This listener runs before the children's own, so abort them here.
          for (const link of links) {
            link?.abort(parent.reason);
            link?.dispose();
          }
          reject(parent.reason);
        };

        const launch = (): void => {
          const index = started++;
          running++;
          const link = linkChild(parent);
          links[index] = link;
          const attemptCtx: PolicyContext = {
            signal: link.signal,
            attempt: ctx.attempt + index,
            deadline: ctx.deadline,
            elapsed: ctx.elapsed + (clock.now() - start),
          };
          let result: Promise<T>;
          try {
            result = Promise.resolve(operation(attemptCtx));
          } catch (error) {
            result = Promise.reject(error);
          }
          result.then(
            (value) => settle(index, true, value),
            (error: unknown) => settle(index, false, error),
          );
          schedule();
        };

        /** Starts the next attempt if the limit and the budget allow it. */
        const tryHedge = (cause: 'delay' | 'failure'): boolean => {
          if (refused || started >= maxAttempts || !budget) return false;
          stopTimer();
          if (!budget.tryAcquire()) {
            refused = true;
            return false;
          }
          if (hedges.active) hedges.emit({ attempt: ctx.attempt + started, afterMs: clock.now() - start, cause });
          launch();
          return true;
        };

        /** Ends the execution with `error` (a broken `delay` function), aborting what still runs. */
        const fail = (error: unknown): void => {
          finish();
          for (const link of links) {
            link?.abort(error);
            link?.dispose();
          }
          reject(error);
        };

        const schedule = (): void => {
          stopTimer();
          // `done` too: an operation may abort the caller synchronously, before this runs.
          if (done || refused || started >= maxAttempts) return;
          let ms = fixedDelay;
          if (typeof delay === 'function') {
            try {
              ms = delay(ctx.attempt + started);
              if (!(ms >= 0)) throw new RangeError(`hedge: the delay function returned ${ms}; expected a number >= 0`);
            } catch (error) {
              fail(error);
              return;
            }
          }
          if (clock.now() + ms >= ctx.deadline) return;
          cancelTimer = clock.setTimer(ms, () => {
            cancelTimer = undefined;
            if (!done && !tryHedge('delay')) failIfOver();
          });
        };

        /** Rejects once nothing is running and nothing more can start. */
        const failIfOver = (): void => {
          if (running > 0 || cancelTimer) return;
          finish();
          reject(new AllAttemptsFailedError(errors));
        };

        const settle = (index: number, ok: boolean, value: unknown): void => {
          running--;
          links[index]?.dispose();
          links[index] = undefined;
          if (done) return;
          let failure: unknown = value;
          if (ok) {
            let acceptable: boolean;
            try {
              acceptable = !accept || accept(value as T);
              if (!acceptable) failure = new UnacceptableResultError(value);
            } catch (error) {
              acceptable = false;
              failure = error;
            }
            if (acceptable) {
              finish();
              const lost = new HedgeLostError(ctx.attempt + index);
              for (const link of links) {
                link?.abort(lost);
                link?.dispose();
              }
              budget?.recordSuccess();
              if (wins.active) wins.emit({ attempt: ctx.attempt + index, afterMs: clock.now() - start });
              resolve(value as T);
              return;
            }
          }
          errors[index] = failure;
          budget?.recordFailure();
          if (onFailure === 'start-next' && tryHedge('failure')) return;
          failIfOver();
        };

        if (parent !== NEVER_ABORTED) parent.addEventListener('abort', onAbort, { once: true });
        launch();
      });
    },
  };
}

/** A child signal; under the shared never-aborting signal, a plain one (no listener piles up on it). */
function linkChild(parent: AbortSignal): LinkedSignal {
  if (parent !== NEVER_ABORTED) return linkSignal(parent);
  const controller = new AbortController();
  return { signal: controller.signal, abort: (reason) => controller.abort(reason), dispose: () => {} };
}

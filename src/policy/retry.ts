import { realClock, type Clock } from './clock.js';
import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { toMs, type Duration } from './duration.js';
import { isPolicyError } from './errors.js';
import { createEmitter, type EventSubscriber } from './events.js';
import type { Policy } from './policy.js';
import type { RetryBudget } from './retry-budget.js';
import { retryAnyError, type AttemptOutcome, type RetryCondition } from './retry-condition.js';
import { stopAfterAttempts, stopAny, type StopCondition } from './retry-stop.js';
import { waitFixed, waitFullJitter, type WaitStrategy } from './retry-wait.js';

/** Attempts made when neither `attempts` nor `stop` is given (the first one included), as the OpenAI and Anthropic SDKs. */
export const DEFAULT_RETRY_ATTEMPTS = 3;
/** Longest server hint (`retryAfterMs`) a retry sleeps for by default (ms), as the OpenAI SDK. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** Options of {@link retry}. Every one is optional. */
export interface RetryOptions {
  /**
   * Attempts in total, the first one included (`attempts: 3` retries at most twice).
   * Default {@link DEFAULT_RETRY_ATTEMPTS} when `stop` is not given; with `stop`, both apply.
   */
  attempts?: number;
  /** When to give up instead of retrying (see `retry-stop`). */
  stop?: StopCondition;
  /**
   * Delay before each retry: a strategy (see `retry-wait`) or a fixed duration.
   * Default: full jitter, `random(0, min(8s, 500ms · 2^n))`.
   */
  wait?: WaitStrategy | Duration;
  /**
   * Which outcomes are retried (see `retry-condition`). Default: every error, no result.
   * An error thrown after the caller's signal aborted is never retried, whatever this says.
   */
  retryIf?: RetryCondition<never>;
  /**
   * Longest server hint obeyed: an error carrying a numeric `retryAfterMs` larger than this
   * gives up at once (reason `retry_after_exceeds_cap`). Default `60s`.
   */
  maxRetryAfter?: Duration;
  /** Caps retries as a share of recent calls; when it refuses, the retry gives up (reason `budget`). */
  budget?: RetryBudget;
  /** Call `budget.recordCall()` once per execution. Default `true`; turn off when the caller records its own calls in the same budget (one call that runs this policy on several targets is still one call). */
  recordCalls?: boolean;
  /** Source of time and sleep; default the real clock. */
  clock?: Clock;
}

/** Why a retry stopped retrying. */
export type GiveUpReason =
  /** The stop condition said so (e.g. attempts used up). */
  | 'stopped'
  /** `retryIf` did not accept the outcome. */
  | 'not_retryable'
  /** The server asked to wait longer than `maxRetryAfter`. */
  | 'retry_after_exceeds_cap'
  /** The next attempt could not start before the deadline, or a deadline policy aborted the signal. */
  | 'deadline'
  /** The retry budget refused another attempt. */
  | 'budget'
  /** The caller's signal aborted (for another reason than a deadline). */
  | 'aborted';

/** Fired before each attempt starts. */
export interface RetryAttemptEvent {
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Milliseconds since the retry started. */
  readonly elapsed: number;
}

/** Fired when an attempt ends, with what it threw or returned. */
export type RetryAttemptEndEvent = AttemptOutcome & {
  readonly attempt: number;
  /** Milliseconds since the retry started, at the end of the attempt. */
  readonly elapsed: number;
  /** How long the attempt took (ms). */
  readonly duration: number;
};

/** Fired when a retry is decided, before the sleep. */
export type RetryEvent = AttemptOutcome & {
  /** The attempt that failed. */
  readonly attempt: number;
  /** Milliseconds the retry is about to sleep. */
  readonly delay: number;
  /** Milliseconds since the retry started. */
  readonly elapsed: number;
};

/** Fired when an attempt's result is accepted. */
export interface RetrySuccessEvent {
  readonly result: unknown;
  /** Attempts made, the successful one included. */
  readonly attempts: number;
  readonly elapsed: number;
}

/** Fired when the retry stops retrying: it then rethrows the last error, or returns the last (retried) result. */
export type RetryGiveUpEvent = AttemptOutcome & {
  readonly reason: GiveUpReason;
  /** Attempts made. */
  readonly attempts: number;
  readonly elapsed: number;
};

/** A retry {@link Policy} with its events. */
export interface RetryPolicy extends Policy {
  /** Before each attempt. */
  readonly onAttempt: EventSubscriber<RetryAttemptEvent>;
  /** After each attempt, whatever its outcome. */
  readonly onAttemptEnd: EventSubscriber<RetryAttemptEndEvent>;
  /** When a retry is decided, before the sleep. */
  readonly onRetry: EventSubscriber<RetryEvent>;
  /** When a result is accepted. */
  readonly onSuccess: EventSubscriber<RetrySuccessEvent>;
  /** When the retry gives up, with the reason. */
  readonly onGiveUp: EventSubscriber<RetryGiveUpEvent>;
}

const defaultWait = waitFullJitter();
const defaultStop = stopAfterAttempts(DEFAULT_RETRY_ATTEMPTS);

/**
 * Runs an operation again when it fails: tenacity's stop / wait / retry-if algebra, plus server
 * hints (`retryAfterMs` on an error), a deadline that is never slept past, an abortable sleep and
 * a retry budget. Gives up by rethrowing the last error unchanged, or by returning the last result
 * when results were being retried; `onGiveUp` says why.
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  const clock = options.clock ?? realClock;
  const stop = stopCondition(options);
  const wait = options.wait === undefined ? defaultWait : typeof options.wait === 'function' ? options.wait : waitFixed(options.wait);
  // Conditions receive outcomes of any result type; the caller chose them for the operations they run.
  const retryIf = (options.retryIf ?? retryAnyError) as RetryCondition<unknown>;
  const checkResults = retryIf.on !== 'error';
  const maxRetryAfter = toMs(options.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER_MS);
  const budget = options.budget;
  const recordCalls = options.recordCalls !== false;

  const attemptEvents = createEmitter<RetryAttemptEvent>();
  const attemptEndEvents = createEmitter<RetryAttemptEndEvent>();
  const retryEvents = createEmitter<RetryEvent>();
  const successEvents = createEmitter<RetrySuccessEvent>();
  const giveUpEvents = createEmitter<RetryGiveUpEvent>();

  const giveUp = (reason: GiveUpReason, outcome: AttemptOutcome, attempts: number, start: number) => {
    if (giveUpEvents.active) giveUpEvents.emit({ ...outcome, reason, attempts, elapsed: clock.now() - start });
  };

  async function execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T> {
    const parent = toContext(executeOptions);
    const signal = parent.signal;
    const start = clock.now();
    if (budget && recordCalls) budget.recordCall();
    let lastDelay = 0;

    for (let attempt = 1; ; attempt++) {
      const elapsed = attempt === 1 ? 0 : clock.now() - start;
      if (signal.aborted) {
        giveUp(abortedBy(signal), { error: signal.reason }, attempt - 1, start);
        throw signal.reason;
      }
      if (attemptEvents.active) attemptEvents.emit({ attempt, elapsed });
      // The parent's context already says "attempt 1, elapsed 0" in the common case: reuse it.
      const ctx: PolicyContext =
        attempt === 1 && parent.attempt === 1 && parent.elapsed === 0
          ? parent
          : { signal, attempt, deadline: parent.deadline, elapsed };

      let outcome: AttemptOutcome;
      let hint: number | undefined;
      try {
        const result = await operation(ctx);
        if (attemptEndEvents.active) attemptEnded({ result }, attempt, elapsed, start);
        if (!checkResults || !retryIf({ result })) {
          budget?.recordSuccess();
          if (successEvents.active) successEvents.emit({ result, attempts: attempt, elapsed: clock.now() - start });
          return result;
        }
        outcome = { result };
      } catch (error) {
        if (attemptEndEvents.active) attemptEnded({ error }, attempt, elapsed, start);
        outcome = { error };
        if (signal.aborted) {
          giveUp(abortedBy(signal), outcome, attempt, start);
          throw error;
        }
        if (!retryIf(outcome)) {
          giveUp('not_retryable', outcome, attempt, start);
          throw error;
        }
        hint = retryAfterOf(error);
      }
      budget?.recordFailure();

      const now = clock.now();
      const sinceStart = now - start;
      const delay = hint ?? checkedDelay(wait({ ...outcome, attempt, elapsed: sinceStart, lastDelay }));
      let reason: GiveUpReason | undefined;
      if (stop({ attempt, elapsed: sinceStart, delay })) reason = 'stopped';
      else if (hint !== undefined && (hint > maxRetryAfter || hint === Infinity)) reason = 'retry_after_exceeds_cap';
      // Never "sleep, then fail at the deadline": an attempt must be able to start before it.
      else if (now + delay >= parent.deadline) reason = 'deadline';
      else if (budget && !budget.tryAcquire()) reason = 'budget';
      if (reason !== undefined) {
        giveUp(reason, outcome, attempt, start);
        if ('error' in outcome) throw outcome.error;
        return outcome.result as T;
      }

      if (retryEvents.active) retryEvents.emit({ ...outcome, attempt, delay, elapsed: sinceStart });
      if (delay > 0) {
        try {
          await clock.sleep(delay, signal);
        } catch {
          giveUp(abortedBy(signal), { error: signal.reason }, attempt, start);
          throw signal.reason;
        }
      }
      lastDelay = delay;
    }
  }

  function attemptEnded(outcome: AttemptOutcome, attempt: number, elapsedAtStart: number, start: number): void {
    const elapsed = clock.now() - start;
    attemptEndEvents.emit({ ...outcome, attempt, elapsed, duration: elapsed - elapsedAtStart });
  }

  return {
    execute,
    onAttempt: attemptEvents.on,
    onAttemptEnd: attemptEndEvents.on,
    onRetry: retryEvents.on,
    onSuccess: successEvents.on,
    onGiveUp: giveUpEvents.on,
  };
}

function stopCondition(options: RetryOptions): StopCondition {
  if (options.attempts === undefined) return options.stop ?? defaultStop;
  const byAttempts = stopAfterAttempts(options.attempts);
  return options.stop ? stopAny(byAttempts, options.stop) : byAttempts;
}

/** `'deadline'` when the signal was aborted by a deadline policy (a `TimeoutError` of scope `deadline`), else `'aborted'`. */
function abortedBy(signal: AbortSignal): GiveUpReason {
  const reason: unknown = signal.reason;
  return isPolicyError(reason, 'timeout') && (reason as { scope?: unknown }).scope === 'deadline' ? 'deadline' : 'aborted';
}

/** A server hint carried on an error (duck-typed `retryAfterMs`), or `undefined`. */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const hint = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof hint !== 'number' || Number.isNaN(hint)) return undefined;
  return hint > 0 ? hint : 0;
}

function checkedDelay(delay: number): number {
  if (!(delay >= 0) || !Number.isFinite(delay)) throw new RangeError(`retry: the wait strategy returned ${delay}; expected a finite number >= 0`);
  return delay;
}

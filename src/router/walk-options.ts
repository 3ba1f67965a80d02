import { circuitBreaker, type CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import { toMs, type Duration } from '../policy/duration.js';
import { retryBudget, type RetryBudget } from '../policy/retry-budget.js';
import { timeout, type TimeoutPolicy } from '../policy/timeout.js';
import type { CooldownOptions, HedgeSettings, TargetRetryOptions } from './fallback-walk.js';

/** Default per-target breaker: 50% failures over 30 s (at least 10 calls) opens it for 30 s. */
export const DEFAULT_BREAKER: CircuitBreakerOptions = { window: '30s', failureRate: 0.5, minCalls: 10, openFor: '30s' };

/** The options the chat router and the task router share, as written by users. */
export interface WalkOptionsInput {
  /** `firstToken` and `idle` are the chat router's; they are only checked here. */
  timeouts?: { total?: Duration; attempt?: Duration; firstToken?: Duration; idle?: Duration };
  cooldowns?: { rateLimit?: Duration; quota?: Duration; disabled?: Duration };
  hedge?: { delay: Duration; maxAttempts?: number };
  breaker?: CircuitBreakerOptions | false;
  budget?: RetryBudget | false;
  retry?: TargetRetryOptions;
  /** The chat router's; only checked here. */
  resume?: boolean | { attempts?: number };
}

/** Those options resolved once, with their defaults, for every call of a router. */
export interface ResolvedWalkOptions {
  budget: RetryBudget | undefined;
  totalMs: number | undefined;
  attemptTimeout: TimeoutPolicy | undefined;
  cooldowns: Required<CooldownOptions>;
  hedge: HedgeSettings | undefined;
  breaker: CircuitBreakerOptions | false;
}

/**
 * Resolves the shared router options. Checks every router option up front (the chat router's
 * stream timeouts and `resume` too) and throws a `TypeError` naming the bad one, e.g. `timeouts.idle`.
 */
export function resolveWalkOptions(options: WalkOptionsInput, clock: Clock): ResolvedWalkOptions {
  const t = options.timeouts ?? {};
  const totalMs = positiveMs(t.total, 'timeouts.total');
  const attemptMs = positiveMs(t.attempt, 'timeouts.attempt');
  positiveMs(t.firstToken, 'timeouts.firstToken');
  positiveMs(t.idle, 'timeouts.idle');
  checkRetryOptions(options.retry, 'retry');
  const resumeAttempts = typeof options.resume === 'object' && options.resume !== null ? options.resume.attempts : undefined;
  if (resumeAttempts !== undefined && (!Number.isInteger(resumeAttempts) || resumeAttempts < 0)) {
    throw new TypeError(`resume.attempts: expected an integer >= 0, got ${String(resumeAttempts)}`);
  }
  const maxLanes = options.hedge?.maxAttempts ?? 2;
  if (!Number.isInteger(maxLanes) || maxLanes < 2) throw new TypeError(`hedge.maxAttempts: expected an integer >= 2, got ${String(maxLanes)}`);
  return {
    budget: options.budget === false ? undefined : (options.budget ?? retryBudget({ clock })),
    totalMs,
    attemptTimeout: attemptMs === undefined ? undefined : timeout(attemptMs, { clock }),
    cooldowns: {
      rateLimit: durationMs(options.cooldowns?.rateLimit ?? '1s', 'cooldowns.rateLimit'),
      quota: durationMs(options.cooldowns?.quota ?? '1h', 'cooldowns.quota'),
      disabled: durationMs(options.cooldowns?.disabled ?? '10m', 'cooldowns.disabled'),
    },
    hedge: options.hedge ? { delayMs: durationMs(options.hedge.delay, 'hedge.delay'), maxLanes } : undefined,
    breaker: options.breaker === false ? false : checkBreakerOptions(options.breaker ?? DEFAULT_BREAKER, clock),
  };
}

/** A breaker error message that starts with the option it is about. */
const BREAKER_FIELD = /^(?:consecutive|count|window|failureRate|minCalls|buckets|slowCall|openFor|halfOpen)\b/;

/**
 * The breaker options, checked by building one breaker from them (targets build theirs later,
 * where an error could not name the option): its `RangeError`s become `TypeError`s naming `breaker`.
 */
function checkBreakerOptions(options: CircuitBreakerOptions, clock: Clock): CircuitBreakerOptions {
  try {
    circuitBreaker({ ...options, clock, store: undefined, key: undefined } as CircuitBreakerOptions);
  } catch (error) {
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    const message = error.message.replace(/^circuit breaker: /, '');
    throw new TypeError(BREAKER_FIELD.test(message) ? `breaker.${message}` : `breaker: ${message}`, { cause: error });
  }
  return options;
}

/**
 * Throws a `TypeError` naming `path` (e.g. `retry`, `targets[1].retry`) unless `attempts` is an
 * integer >= 1 and `wait` (unless a strategy) and `maxRetryAfter` are durations.
 */
export function checkRetryOptions(options: TargetRetryOptions | undefined, path: string): void {
  if (!options) return;
  const { attempts, wait, maxRetryAfter } = options;
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1)) {
    throw new TypeError(`${path}.attempts: expected an integer >= 1, got ${String(attempts)}`);
  }
  if (wait !== undefined && typeof wait !== 'function') durationMs(wait, `${path}.wait`);
  if (maxRetryAfter !== undefined) durationMs(maxRetryAfter, `${path}.maxRetryAfter`);
}

/** {@link toMs}, with the option's path in front of the error message. */
function durationMs(value: Duration, path: string): number {
  try {
    return toMs(value);
  } catch (error) {
    throw new TypeError(`${path}: ${(error as Error).message}`);
  }
}

/** A duration that must be > 0 (a zero timeout would fail every call), or `undefined`. */
function positiveMs(value: Duration | undefined, path: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = durationMs(value, path);
  if (!(ms > 0)) throw new TypeError(`${path}: expected a duration > 0, got ${JSON.stringify(value)}`);
  return ms;
}

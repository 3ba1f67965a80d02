import type { CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import { toMs, type Duration } from '../policy/duration.js';
import { retryBudget, type RetryBudget } from '../policy/retry-budget.js';
import { timeout, type TimeoutPolicy } from '../policy/timeout.js';
import type { CooldownOptions, HedgeSettings } from './fallback-walk.js';

/** Default per-target breaker: 50% failures over 30 s (at least 10 calls) opens it for 30 s. */
export const DEFAULT_BREAKER: CircuitBreakerOptions = { window: '30s', failureRate: 0.5, minCalls: 10, openFor: '30s' };

/** The options the chat router and the task router share, as written by users. */
export interface WalkOptionsInput {
  timeouts?: { total?: Duration; attempt?: Duration };
  cooldowns?: { rateLimit?: Duration; quota?: Duration; disabled?: Duration };
  hedge?: { delay: Duration; maxAttempts?: number };
  breaker?: CircuitBreakerOptions | false;
  budget?: RetryBudget | false;
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

/** Resolves the shared router options (throws a `TypeError` on a bad duration). */
export function resolveWalkOptions(options: WalkOptionsInput, clock: Clock): ResolvedWalkOptions {
  const t = options.timeouts ?? {};
  return {
    budget: options.budget === false ? undefined : (options.budget ?? retryBudget({ clock })),
    totalMs: t.total === undefined ? undefined : toMs(t.total),
    attemptTimeout: t.attempt === undefined ? undefined : timeout(t.attempt, { clock }),
    cooldowns: {
      rateLimit: toMs(options.cooldowns?.rateLimit ?? '1s'),
      quota: toMs(options.cooldowns?.quota ?? '1h'),
      disabled: toMs(options.cooldowns?.disabled ?? '10m'),
    },
    hedge: options.hedge ? { delayMs: toMs(options.hedge.delay), maxLanes: options.hedge.maxAttempts ?? 2 } : undefined,
    breaker: options.breaker === false ? false : (options.breaker ?? DEFAULT_BREAKER),
  };
}

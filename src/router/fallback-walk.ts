import { cooldownMs } from '../llm/rate-limit-headers.js';
import { abortedError } from '../llm/classify.js';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import type { Clock } from '../policy/clock.js';
import { NEVER_ABORTED, type PolicyContext } from '../policy/context.js';
import { isPolicyError } from '../policy/errors.js';
import { HedgeLostError } from '../policy/hedge.js';
import { retry, type RetryPolicy } from '../policy/retry.js';
import { retryIfError } from '../policy/retry-condition.js';
import type { RetryBudget } from '../policy/retry-budget.js';
import { waitFullJitter, type WaitStrategy } from '../policy/retry-wait.js';
import type { TimeoutPolicy } from '../policy/timeout.js';
import type { Duration } from '../policy/duration.js';
import { AllTargetsFailedError } from './all-targets-failed.js';
import type { AttemptRecord } from './attempt-record.js';
import { decideAction, type ErrorAction, type ErrorRules } from './error-rules.js';
import type { RouterEvent } from './router-events.js';
import type { CooldownReason, TargetRuntime } from './target-runtime.js';
import { toLlmError } from './to-llm-error.js';
import { raceAbort } from './race-abort.js';
import { openUnderBreaker } from './stream-breaker.js';

/** How each target retries before the router moves on. */
export interface TargetRetryOptions {
  /** Attempts per target, the first included. Default 2. */
  attempts?: number;
  /** Delay between attempts on one target. Default: the retry policy's full jitter. */
  wait?: WaitStrategy | Duration;
  /** Longest Retry-After obeyed on the same target; a longer one moves to the next target. Default 20 s. */
  maxRetryAfter?: Duration;
}

/** How long a target is kept away after errors that say it cannot serve for a while. */
export interface CooldownOptions {
  /** After a 429 with no reset information. Default 1 s. */
  rateLimit?: number;
  /** After `quota` errors. Default 1 h. */
  quota?: number;
  /** After `auth` / `not_found` errors: the target is disabled. Default 10 min. */
  disabled?: number;
}

/** Everything one call's walk over the targets needs. */
export interface WalkSettings {
  callId: number;
  clock: Clock;
  emit: (event: RouterEvent) => void;
  rules: ErrorRules;
  retry: TargetRetryOptions;
  cooldowns: Required<CooldownOptions>;
  /** The router's shared retry (built per call when absent). */
  targetRetry?: TargetRetry;
  /** A target's own retry and rules, when it has any. */
  perTarget?: (runtime: TargetRuntime) => { targetRetry: TargetRetry; rules: ErrorRules } | undefined;
  attemptTimeout?: TimeoutPolicy;
  budget?: RetryBudget;
  /** The call's signal: the caller's abort and the total deadline. */
  signal: AbortSignal;
  /** The caller's own signal, to tell its abort from the deadline's. */
  callerSignal: AbortSignal;
  deadline: number;
  stream: boolean;
}

/** The answer of a walk, with everything tried on the way. */
export interface WalkResult<T> {
  value: T;
  runtime: TargetRuntime;
  attempts: AttemptRecord[];
  fallbacks: number;
  /** Which hedge lane answered (0 without hedging). */
  lane: number;
}

/** Hedging: start the next target when no lane has committed after `delayMs`. */
export interface HedgeSettings {
  delayMs: number;
  /** Lanes running at most, the first included. */
  maxLanes: number;
}

/** Candidates handed out one at a time, shared by every lane of a call. */
interface Cursor {
  next(): TargetRuntime | undefined;
  /** Narrowed by a `context_length` failure: later targets need a larger window. */
  minContext: number | undefined;
}

/**
 * Tries the candidates in order: each target's own retry first (through its breaker and the
 * attempt timeout), then the next target, following the action for each error kind. Targets that
 * are cooling down, open, or too small after a context-length error are skipped and recorded.
 * With `hedge`, another lane starts on the next target when nothing committed in time; the first
 * lane to succeed wins and the others are aborted (`dispose` releases a loser's late success).
 */
export async function walkTargets<T>(
  candidates: readonly TargetRuntime[],
  settings: WalkSettings,
  attempt: (runtime: TargetRuntime, signal: AbortSignal) => Promise<T>,
  attempts: AttemptRecord[] = [],
  hedge?: HedgeSettings,
  dispose?: (value: T) => void,
): Promise<WalkResult<T>> {
  let index = 0;
  const cursor: Cursor = { next: () => candidates[index++], minContext: undefined };
  if (!hedge || hedge.maxLanes < 2 || candidates.length < 2) {
    try {
      return await walkLane(cursor, settings, attempt, attempts, 0);
    } catch (error) {
      throw finalError(error, settings, attempts);
    }
  }
  return hedged(cursor, settings, attempt, attempts, hedge, dispose);
}

function hedged<T>(
  cursor: Cursor,
  settings: WalkSettings,
  attempt: (runtime: TargetRuntime, signal: AbortSignal) => Promise<T>,
  attempts: AttemptRecord[],
  hedge: HedgeSettings,
  dispose: ((value: T) => void) | undefined,
): Promise<WalkResult<T>> {
  const { clock } = settings;
  const startedAt = clock.now();
  return new Promise<WalkResult<T>>((resolve, reject) => {
    const lanes: AbortController[] = [];
    let running = 0;
    let decided: (() => void) | undefined;
    let lastError: unknown;
    let cancelTimer = () => {};

    // The call settles once every lane has: a loser's attempt is then already in `attempts`.
    const settleWhenIdle = () => {
      if (decided && running === 0) decided();
    };
    const decide = (outcome: () => void, winner: number) => {
      decided = outcome;
      cancelTimer();
      lanes.forEach((c, i) => i !== winner && c.abort(new HedgeLostError(winner + 1)));
      settleWhenIdle();
    };
    const scheduleNext = () => {
      if (lanes.length >= hedge.maxLanes) return;
      cancelTimer = clock.setTimer(hedge.delayMs, () => {
        if (decided || settings.signal.aborted) return;
        if (settings.budget && !settings.budget.tryAcquire()) return;
        start(true);
      });
    };
    const start = (isHedge: boolean) => {
      const controller = new AbortController();
      const onAbort = () => controller.abort(settings.signal.reason);
      if (settings.signal.aborted) controller.abort(settings.signal.reason);
      else if (settings.signal !== NEVER_ABORTED) settings.signal.addEventListener('abort', onAbort, { once: true });
      lanes.push(controller);
      running++;
      const lane = lanes.length - 1;
      const laneSettings: WalkSettings = { ...settings, signal: controller.signal };
      walkLane(cursor, laneSettings, attempt, attempts, lane, isHedge ? clock.now() - startedAt : undefined).then(
        (result) => {
          running--;
          settings.signal.removeEventListener('abort', onAbort);
          if (decided) dispose?.(result.value);
          else decide(() => resolve(result), lane);
          settleWhenIdle();
        },
        (error: unknown) => {
          running--;
          settings.signal.removeEventListener('abort', onAbort);
          if (!decided) {
            lastError = error;
            if (error instanceof AllTargetsFailedError && isFinal(error)) {
              // Rebuilt when every lane has settled, so the message lists the losers' attempts too.
              decide(() => reject(new AllTargetsFailedError(attempts, { now: clock.now(), cause: error.cause, kind: error.kind, stoppedEarly: true })), -1);
            }
            else if (running === 0) decide(() => reject(finalError(lastError, settings, attempts)), -1);
          }
          settleWhenIdle();
        },
      );
      scheduleNext();
    };
    start(false);
  });
}

/** A lane failed in a way that would fail on every target (e.g. `invalid_request`). */
const isFinal = (error: AllTargetsFailedError) => error.stoppedEarly;

function finalError(error: unknown, settings: WalkSettings, attempts: AttemptRecord[]): unknown {
  const now = settings.clock.now();
  if (settings.callerSignal.aborted) return abortedError(settings.callerSignal.reason);
  if (settings.signal.aborted) return new AllTargetsFailedError(attempts, { now, cause: settings.signal.reason, kind: 'timeout' });
  if (error instanceof AllTargetsFailedError) return error;
  return new AllTargetsFailedError(attempts, { now, cause: error });
}

async function walkLane<T>(
  cursor: Cursor,
  settings: WalkSettings,
  attempt: (runtime: TargetRuntime, signal: AbortSignal) => Promise<T>,
  attempts: AttemptRecord[],
  lane: number,
  hedgedAfterMs?: number,
): Promise<WalkResult<T>> {
  const { clock } = settings;
  let previous: { id: string; error: LlmError } | undefined;
  let fallbacks = 0;
  let announced = hedgedAfterMs === undefined;

  for (let runtime = cursor.next(); runtime; runtime = cursor.next()) {
    const { target } = runtime;
    const now = clock.now();
    if (settings.signal.aborted) break;
    if (cursor.minContext !== undefined && !((target.contextWindow ?? 0) > cursor.minContext)) {
      attempts.push(skip(target.id, 'context_window', now, `window ${target.contextWindow ?? 'unknown'} <= ${cursor.minContext}`));
      continue;
    }
    const unavailable = runtime.availability(now);
    if (unavailable) {
      attempts.push({ ...skip(target.id, unavailable.reason, now, unavailable.detail), availableAt: unavailable.until });
      continue;
    }
    if (!announced) {
      announced = true;
      settings.emit({ type: 'hedge', callId: settings.callId, at: now, target: target.id, afterMs: hedgedAfterMs ?? 0 });
    }
    if (previous) {
      fallbacks++;
      settings.emit({ type: 'fallback', callId: settings.callId, at: now, from: previous.id, to: target.id, error: previous.error });
    }
    try {
      const value = await runOnTarget(runtime, settings, attempt, attempts);
      return { value, runtime, attempts, fallbacks, lane };
    } catch (thrown) {
      const error = toLlmError(thrown, target);
      if (settings.signal.aborted) break;
      const action = decideAction(error, settings.perTarget?.(runtime)?.rules ?? settings.rules);
      applyCooldown(runtime, error, action, settings);
      markUnavailable(attempts, runtime, clock.now());
      if (action.fallback === 'no') {
        throw new AllTargetsFailedError(attempts, { now: clock.now(), cause: error, kind: error.kind, stoppedEarly: true });
      }
      if (action.fallback === 'larger_context') cursor.minContext = Math.max(cursor.minContext ?? 0, target.contextWindow ?? 0);
      previous = { id: target.id, error };
    }
  }
  throw new AllTargetsFailedError(attempts, { now: clock.now(), cause: settings.signal.aborted ? settings.signal.reason : previous?.error });
}

/** What the shared retry policy needs to turn its events back into one call's router events. */
interface RetryContext {
  runtime: TargetRuntime;
  settings: WalkSettings;
}

/** The per-target retry of one router, built once: its events find their call through the error. */
export interface TargetRetry {
  readonly policy: RetryPolicy;
  /** Filled by the attempt just before it rethrows, read by `onRetry` before the sleep. */
  readonly contexts: WeakMap<object, RetryContext>;
}

/**
 * Builds the retry every target of a router runs before the walk moves on. One per router (not
 * per call): a retry policy with its emitters is the costliest object on the request path.
 */
export function createTargetRetry(
  options: TargetRetryOptions,
  rules: ErrorRules,
  budget: RetryBudget | undefined,
  clock: Clock,
  random?: () => number,
): TargetRetry {
  const contexts = new WeakMap<object, RetryContext>();
  const policy = retry({
    attempts: options.attempts ?? 2,
    // The default full jitter, on the router's random source when it has one (simulations repeat exactly).
    wait: options.wait ?? (random ? waitFullJitter({ random }) : undefined),
    maxRetryAfter: options.maxRetryAfter ?? '20s',
    retryIf: retryIfError((error) => isLlmError(error) && decideAction(error, rules).retry),
    budget,
    // The router records each of its calls once, however many targets the call tries.
    recordCalls: false,
    clock,
  });
  policy.onRetry((event) => {
    if (!('error' in event) || !isLlmError(event.error)) return;
    const context = contexts.get(event.error);
    if (!context) return;
    const { runtime, settings } = context;
    const error = event.error;
    settings.emit({
      type: 'retry',
      callId: settings.callId,
      at: clock.now(),
      target: runtime.target.id,
      attempt: event.attempt,
      delay: event.delay,
      kind: error.kind,
      status: error.status,
    });
    // Other calls should not pile onto a target that asked us to wait.
    if (error.kind === 'rate_limit') applyCooldown(runtime, error, decideAction(error, rules), settings);
  });
  return { policy, contexts };
}

async function runOnTarget<T>(
  runtime: TargetRuntime,
  settings: WalkSettings,
  attempt: (runtime: TargetRuntime, signal: AbortSignal) => Promise<T>,
  attempts: AttemptRecord[],
): Promise<T> {
  const { clock, target } = { ...settings, target: runtime.target };
  const targetRetry = settings.perTarget?.(runtime)?.targetRetry ?? settings.targetRetry ?? createTargetRetry(settings.retry, settings.rules, settings.budget, clock);
  const policy = targetRetry.policy;

  let number = 0;
  let lastEnd = clock.now();
  const once = (ctx: PolicyContext): Promise<T> =>
    settings.attemptTimeout
      ? settings.attemptTimeout.execute((inner) => raceAbort(attempt(runtime, inner.signal), inner.signal), ctx)
      : raceAbort(attempt(runtime, ctx.signal), ctx.signal);

  return policy.execute(
    async (ctx) => {
      number++;
      const startedAt = clock.now();
      const delayBeforeMs = number === 1 ? 0 : startedAt - lastEnd;
      settings.emit({ type: 'attempt', callId: settings.callId, at: startedAt, target: target.id, attempt: number, stream: settings.stream });
      runtime.inFlight++;
      try {
        const value = await (!runtime.breaker ? once(ctx) : settings.stream ? openUnderBreaker(runtime.breaker, once, ctx, clock) : runtime.breaker.execute(once, ctx));
        attempts.push({ target: target.id, attempt: number, outcome: 'success', startedAt, durationMs: clock.now() - startedAt, delayBeforeMs });
        return value;
      } catch (thrown) {
        const error = toLlmError(thrown, target);
        const durationMs = clock.now() - startedAt;
        if (isPolicyError(thrown, 'circuit_open') || isPolicyError(thrown, 'circuit_isolated')) {
          attempts.push({ ...skip(target.id, 'breaker_open', startedAt, error.message), availableAt: startedAt + (error.retryAfterMs ?? 0) });
        } else {
          attempts.push({
            target: target.id,
            attempt: number,
            outcome: 'failure',
            kind: error.kind,
            status: error.status,
            message: error.message,
            startedAt,
            durationMs,
            delayBeforeMs,
          });
        }
        targetRetry.contexts.set(error, { runtime, settings });
        throw error;
      } finally {
        runtime.inFlight--;
        lastEnd = clock.now();
      }
    },
    { signal: settings.signal, deadline: settings.deadline },
  );
}

/** Puts the target in a cooldown when the error says it cannot serve for a while. */
export function applyCooldown(runtime: TargetRuntime, error: LlmError, action: ErrorAction, settings: WalkSettings): void {
  const now = settings.clock.now();
  let reason: CooldownReason | undefined;
  let ms = 0;
  if (action.cooldown === 'until_reset') {
    reason = 'rate_limit';
    ms = error.retryAfterMs ?? cooldownMs(error.rateLimit) ?? settings.cooldowns.rateLimit;
  } else if (action.cooldown === 'long') {
    reason = 'quota';
    ms = Math.max(settings.cooldowns.quota, cooldownMs(error.rateLimit) ?? 0);
  } else if (action.cooldown === 'disable') {
    reason = error.kind === 'not_found' ? 'not_found' : 'auth';
    ms = settings.cooldowns.disabled;
  }
  if (!reason || ms <= 0) return;
  if (runtime.coolDown(now + ms, reason, now)) {
    settings.emit({ type: 'cooldown', callId: settings.callId, at: now, target: runtime.target.id, until: now + ms, reason });
  }
}

/**
 * When the failure just recorded left its target unavailable (a cooldown, an opened breaker), the
 * record says until when, so the call's error can carry a `retryAfterMs` from its first 429 on.
 */
function markUnavailable(attempts: AttemptRecord[], runtime: TargetRuntime, now: number): void {
  const unavailable = runtime.availability(now);
  if (!unavailable) return;
  for (let i = attempts.length - 1; i >= 0; i--) {
    const record = attempts[i]!;
    if (record.target !== runtime.target.id) continue;
    if (record.outcome === 'failure') record.availableAt = unavailable.until;
    return;
  }
}

function skip(target: string, skipReason: AttemptRecord['skipReason'], now: number, message?: string): AttemptRecord {
  return { target, attempt: 0, outcome: 'skipped', skipReason, message, startedAt: now, durationMs: 0, delayBeforeMs: 0 };
}

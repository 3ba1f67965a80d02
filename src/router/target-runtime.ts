import { circuitBreaker, type CircuitBreakerOptions, type CircuitBreakerPolicy } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import type { StateStore } from '../policy/state-store.js';
import type { SkipReason } from './attempt-record.js';
import type { Target } from './target.js';

/** Why a target is cooling down. */
export type CooldownReason = 'rate_limit' | 'quota' | 'auth' | 'not_found' | 'exhausted';

/** A cooldown as kept in the state store (shared by gateway replicas). */
export interface Cooldown {
  until: number;
  reason: CooldownReason;
}

/** Why a target cannot take a request now, and until when. */
export interface Unavailable {
  reason: Extract<SkipReason, 'breaker_open' | 'cooldown' | 'disabled'>;
  until: number;
  detail?: string;
}

/** What the router keeps per target while it lives: breaker, cooldown, load and latency. */
export interface TargetRuntime {
  readonly target: Target;
  readonly breaker?: CircuitBreakerPolicy;
  /** Requests running now. */
  inFlight: number;
  /** Exponentially weighted mean latency (ms) of successful non-streamed calls. */
  latencyEwma?: number;
  /** Exponentially weighted mean time to first token (ms) of successful streams. */
  ttftEwma?: number;
  /** Undefined when the target can take a request now. */
  availability(now: number): Unavailable | undefined;
  /** The active cooldown, if any. */
  cooldown(now: number): Cooldown | undefined;
  /** Keeps requests away until `until` (a later cooldown is never shortened). */
  coolDown(until: number, reason: CooldownReason, now: number): boolean;
  clearCooldown(): void;
  observeLatency(ms: number, kind: 'latency' | 'ttft'): void;
  dispose(): void;
}

const EWMA_ALPHA = 0.3;

/** Creates the runtime of one target. */
export function createTargetRuntime(
  target: Target,
  options: { clock: Clock; store: StateStore; breaker: CircuitBreakerOptions | false; keyPrefix: string },
): TargetRuntime {
  const cooldownKey = `${options.keyPrefix}cooldown:${target.id}`;
  const breaker =
    options.breaker === false
      ? undefined
      : circuitBreaker({ ...options.breaker, clock: options.clock, store: options.store, key: `${options.keyPrefix}breaker:${target.id}` } as CircuitBreakerOptions);

  // A broken store never fails a request (DESIGN §4): a read that throws is no cooldown, a write
  // that throws is lost (the breaker's store calls are guarded the same way).
  const readCooldown = (now: number): Cooldown | undefined => {
    let value: unknown;
    try {
      value = options.store.get(cooldownKey);
    } catch {
      return undefined;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const { until, reason } = value as Record<string, unknown>;
    if (typeof until !== 'number' || until <= now) return undefined;
    return { until, reason: reason as CooldownReason };
  };

  const runtime: TargetRuntime = {
    target,
    breaker,
    inFlight: 0,
    availability(now) {
      const cooldown = readCooldown(now);
      if (cooldown) {
        const disabled = cooldown.reason === 'auth' || cooldown.reason === 'not_found';
        return { reason: disabled ? 'disabled' : 'cooldown', until: cooldown.until, detail: cooldown.reason };
      }
      if (breaker && (breaker.state === 'open' || breaker.state === 'isolated')) {
        const wait = breaker.retryAfterMs;
        if (wait > 0) return { reason: 'breaker_open', until: now + wait, detail: breaker.state };
      }
      return undefined;
    },
    cooldown: readCooldown,
    coolDown(until, reason, now) {
      const current = readCooldown(now);
      if (until <= now || (current && current.until >= until)) return false;
      try {
        options.store.set(cooldownKey, { until, reason }, until - now);
      } catch {
        return false;
      }
      return true;
    },
    clearCooldown() {
      try {
        options.store.delete(cooldownKey);
      } catch {
        // As above.
      }
    },
    observeLatency(ms, kind) {
      if (kind === 'latency') runtime.latencyEwma = runtime.latencyEwma === undefined ? ms : runtime.latencyEwma + EWMA_ALPHA * (ms - runtime.latencyEwma);
      else runtime.ttftEwma = runtime.ttftEwma === undefined ? ms : runtime.ttftEwma + EWMA_ALPHA * (ms - runtime.ttftEwma);
    },
    dispose() {
      breaker?.dispose();
    },
  };
  return runtime;
}

import type { ChatRequest } from '../llm/chat-request.js';
import type { ErrorKind } from '../llm/error-kind.js';
import type { Clock } from '../policy/clock.js';
import { toMs, type Duration } from '../policy/duration.js';
import { createEmitter, type Dispose, type EventSubscriber } from '../policy/events.js';
import { timeout } from '../policy/timeout.js';
import type { TargetRuntime } from './target-runtime.js';
import { toLlmError } from './to-llm-error.js';

/** Options of active health checks. */
export interface HealthCheckOptions {
  /** Time between two probes of a target. */
  interval: Duration;
  /** A probe slower than this fails as `timeout`. Default 10 s. */
  timeout?: Duration;
  /** The probe sent; default a one-token "ping". */
  request?: ChatRequest;
  /** Target ids to probe; default every target (including ones added later). */
  targets?: readonly string[];
}

/** The outcome of one probe. */
export interface HealthCheckResult {
  target: string;
  at: number;
  /** `skipped`: the target asked to be left alone (rate limit) or its breaker is open. */
  outcome: 'healthy' | 'unhealthy' | 'skipped';
  latencyMs?: number;
  kind?: ErrorKind;
  message?: string;
}

/** Running health checks. */
export interface HealthChecks {
  /** Every probe's outcome. */
  readonly onResult: EventSubscriber<HealthCheckResult>;
  /** The latest outcome per target. */
  latest(): ReadonlyMap<string, HealthCheckResult>;
  /** Probes every target now (also what each interval does); resolves when all answered. */
  checkNow(): Promise<HealthCheckResult[]>;
  stop(): void;
}

const DEFAULT_PROBE: ChatRequest = { messages: [{ role: 'user', content: 'ping' }], maxTokens: 1 };

/**
 * Probes targets periodically with a cheap request. A probe goes through the target's breaker, so
 * its failures count like traffic; a target disabled after `auth` / `not_found` / `quota` errors is
 * brought back by a successful probe; a target in a rate-limit cooldown is left alone.
 */
export function startHealthChecks(
  runtimes: () => readonly TargetRuntime[],
  clock: Clock,
  options: HealthCheckOptions,
): HealthChecks {
  const intervalMs = toMs(options.interval);
  if (!(intervalMs > 0)) throw new TypeError('health checks: `interval` must be a positive duration');
  const probeTimeout = timeout(options.timeout ?? '10s', { clock });
  const request = options.request ?? DEFAULT_PROBE;
  const results = createEmitter<HealthCheckResult>();
  const latest = new Map<string, HealthCheckResult>();
  let stopped = false;
  let cancel: Dispose = () => {};

  const report = (result: HealthCheckResult) => {
    latest.set(result.target, result);
    results.emit(result);
    return result;
  };

  const probe = async (runtime: TargetRuntime): Promise<HealthCheckResult> => {
    const { target } = runtime;
    const now = clock.now();
    const cooldown = runtime.cooldown(now);
    if (cooldown && (cooldown.reason === 'rate_limit' || cooldown.reason === 'exhausted')) {
      return report({ target: target.id, at: now, outcome: 'skipped', message: `cooling down until ${cooldown.until}` });
    }
    if (runtime.breaker && (runtime.breaker.state === 'open' || runtime.breaker.state === 'isolated') && runtime.breaker.retryAfterMs > 0) {
      return report({ target: target.id, at: now, outcome: 'skipped', message: `breaker ${runtime.breaker.state}` });
    }
    const call = (signal: AbortSignal) => target.provider.chat(request, { model: target.model, signal });
    try {
      await (runtime.breaker
        ? runtime.breaker.execute((ctx) => probeTimeout.execute((inner) => call(inner.signal), ctx))
        : probeTimeout.execute((ctx) => call(ctx.signal)));
      if (cooldown) runtime.clearCooldown();
      return report({ target: target.id, at: now, outcome: 'healthy', latencyMs: clock.now() - now });
    } catch (thrown) {
      const error = toLlmError(thrown, target);
      return report({ target: target.id, at: now, outcome: 'unhealthy', latencyMs: clock.now() - now, kind: error.kind, message: error.message });
    }
  };

  const checkNow = () => {
    const chosen = runtimes().filter((r) => !options.targets || options.targets.includes(r.target.id));
    return Promise.all(chosen.map(probe));
  };

  const schedule = () => {
    cancel = clock.setTimer(intervalMs, () => {
      if (stopped) return;
      void checkNow().finally(() => {
        if (!stopped) schedule();
      });
    });
  };
  schedule();

  return {
    onResult: results.on,
    latest: () => latest,
    checkNow,
    stop() {
      stopped = true;
      cancel();
    },
  };
}

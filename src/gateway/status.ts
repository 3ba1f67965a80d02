import type { RouteTable } from './route-table.js';
import type { StoreStatus } from './store.js';

/** Options of {@link statusReport}. */
export interface StatusInput {
  table: RouteTable;
  demo: boolean;
  /** Epoch ms the gateway started. */
  startedAt: number;
  /** Requests being answered now. */
  inFlight: number;
  /** Epoch ms now (the routers' clock). */
  now: number;
  /** The state store's health (`{ type: 'memory' }` for a local one); never holds a secret. Default memory. */
  store?: StoreStatus;
}

/**
 * The `/status` document: every route and target with its breaker state, cooldown and load.
 * Plain JSON, no secrets (provider names and model names only). Kept small on purpose: metrics
 * and history belong to the metrics layer, which can extend this document.
 */
export function statusReport(input: StatusInput): Record<string, unknown> {
  const { table, now } = input;
  const routes = [...table.routes.values()].map((route) => ({
    name: route.name,
    strategy: route.strategy,
    targets: route.targets.map((t) => {
      const runtime = route.router.runtime(t.id);
      const cooldown = runtime?.cooldown(now);
      const unavailable = runtime?.availability(now);
      const breaker = runtime?.breaker;
      return {
        id: t.id,
        provider: t.provider,
        type: t.type,
        model: t.model,
        available: runtime !== undefined && unavailable === undefined,
        unavailable: unavailable ? { reason: unavailable.reason, untilMs: Math.max(0, unavailable.until - now) } : null,
        breaker: breaker ? { state: breaker.state, retryAfterMs: Number.isFinite(breaker.retryAfterMs) ? breaker.retryAfterMs : null, trips: breaker.trips } : null,
        cooldown: cooldown ? { reason: cooldown.reason, remainingMs: Math.max(0, cooldown.until - now) } : null,
        inFlight: runtime?.inFlight ?? 0,
        latencyMs: runtime?.latencyEwma === undefined ? null : Math.round(runtime.latencyEwma),
        ttftMs: runtime?.ttftEwma === undefined ? null : Math.round(runtime.ttftEwma),
      };
    }),
  }));
  return {
    status: 'ok',
    demo: input.demo,
    startedAt: new Date(input.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - input.startedAt) / 1000),
    inFlight: input.inFlight,
    store: input.store ?? { type: 'memory' },
    routes,
  };
}

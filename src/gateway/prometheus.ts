import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_KINDS } from '../llm/error-kind.js';
import type { HistogramSnapshot } from '../router/histogram.js';
import type { Router } from '../router/router.js';
import type { HealthStatus, RouterMetricsSnapshot } from '../router/router-metrics.js';

/** The Prometheus text exposition format (0.0.4) content type. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** What {@link renderPrometheus} adds beside the routers' metrics. */
export interface PrometheusExtras {
  /** prom-client's Node.js process metrics (`process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
  /** The gateway's own numbers. */
  gateway?: { inFlight?: number; demo?: boolean; storeConnected?: boolean };
  /** More prom-client registries to append (their names must not clash with `ballast_*`). */
  registries?: readonly Registry[];
}

type Labels = Record<string, string>;

const HEALTH: readonly HealthStatus[] = ['healthy', 'degraded', 'unavailable'];
const BREAKER_STATES = ['closed', 'open', 'half_open', 'isolated'] as const;

/** One label set of a {@link SnapshotHistogram}: cumulative bucket counts as the snapshot holds them. */
interface HistogramSeries {
  labels: Labels;
  boundsSeconds: readonly number[];
  histogram: HistogramSnapshot;
}

/** A histogram sample in the shape prom-client's registry formats (`le` per bucket, the series' labels shared). */
interface PromHistogramValue {
  metricName: string;
  labels: { le?: number | string };
  sharedLabels: Labels;
  value: number;
}

/**
 * A histogram whose buckets come ready-made from a metrics snapshot. prom-client's `Histogram`
 * only counts what it observes itself, so this hands the registry its buckets in the exact shape
 * prom-client's own histograms do (`getForPromString`); prom-client still does all the formatting
 * and escaping. `get()` (the JSON view) works too: it reads the same values.
 */
class SnapshotHistogram extends Histogram<string> {
  readonly #name: string;
  readonly #help: string;
  readonly #series: HistogramSeries[] = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    super({ name, help, labelNames, registers: [registry] });
    this.#name = name;
    this.#help = help;
  }

  add(labels: Labels, boundsMs: readonly number[], histogram: HistogramSnapshot): void {
    this.#series.push({ labels, boundsSeconds: boundsMs.map(seconds), histogram });
  }

  /** The hook prom-client's registry renders a histogram from. */
  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: PromHistogramValue[] }> {
    const values: PromHistogramValue[] = [];
    for (const { labels, boundsSeconds, histogram } of this.#series) {
      const bucket = `${this.#name}_bucket`;
      boundsSeconds.forEach((le, i) => values.push({ metricName: bucket, labels: { le }, sharedLabels: labels, value: histogram.buckets[i] ?? histogram.count }));
      values.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels: labels, value: histogram.count });
      values.push({ metricName: `${this.#name}_sum`, labels: {}, sharedLabels: labels, value: seconds(histogram.sum) });
      values.push({ metricName: `${this.#name}_count`, labels: {}, sharedLabels: labels, value: histogram.count });
    }
    return Promise.resolve({ name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values });
  }
}

/** Milliseconds to seconds, without float noise in `le` labels (75 → 0.075, not 0.07500000000000001). */
function seconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

/** The metric families of one scrape, registered in a fresh registry. */
function families(registry: Registry) {
  const counter = (name: string, help: string, labelNames: readonly string[]) => {
    const metric = new Counter({ name, help, labelNames, registers: [registry] });
    return (labels: Labels, value: number) => metric.inc(labels, value);
  };
  const gauge = (name: string, help: string, labelNames: readonly string[]) => {
    const metric = new Gauge({ name, help, labelNames, registers: [registry] });
    return (labels: Labels, value: number) => metric.set(labels, value);
  };
  const histogram = (name: string, help: string, labelNames: readonly string[]) => new SnapshotHistogram(registry, name, help, labelNames);
  const R = ['route'];
  const T = ['route', 'target'];
  return {
    requests: counter('ballast_requests_total', 'Calls to a route that ended (answered or failed).', R),
    requestFailures: counter('ballast_request_failures_total', 'Calls to a route that failed on every target, by the final error kind.', [...R, 'kind']),
    fallbacks: counter('ballast_fallbacks_total', 'Moves of a call from one target to the next.', [...R, 'from', 'to']),
    requestDuration: histogram('ballast_request_duration_seconds', 'Answered calls, end to end (retries, waits and fallbacks included).', R),
    requestTtft: histogram('ballast_request_ttft_seconds', 'Answered streams: from the call to the first content event.', R),
    routeHealth: gauge('ballast_route_health', 'Health of a route: 1 for its current status, 0 for the others.', [...R, 'status']),
    targetInfo: gauge('ballast_target_info', 'A target of a route, with its provider and model (always 1).', [...T, 'provider', 'model']),
    targetRequests: counter('ballast_target_requests_total', 'Calls that reached a target (its first attempt started).', T),
    targetAttempts: counter('ballast_target_attempts_total', 'Attempts started on a target (retries and hedges included).', T),
    targetSuccesses: counter('ballast_target_successes_total', 'Calls a target answered.', T),
    targetFailures: counter('ballast_target_failures_total', 'Failed attempts on a target, by error kind.', [...T, 'kind']),
    targetRetries: counter('ballast_target_retries_total', 'Retries on the same target.', T),
    targetHedges: counter('ballast_target_hedges_total', 'Hedged attempts started on a target.', T),
    targetSkips: counter('ballast_target_skips_total', 'Times a target was passed over without a request, by reason.', [...T, 'reason']),
    targetCooldowns: counter('ballast_target_cooldowns_total', 'Cooldowns started on a target (rate limits, quota, auth, …).', T),
    breakerTransitions: counter('ballast_target_breaker_transitions_total', 'Circuit breaker transitions of a target, by the state entered.', [...T, 'state']),
    targetLatency: histogram('ballast_target_latency_seconds', "Successful calls on a target: the answering attempt (streams: to the stream's end).", T),
    targetTtft: histogram('ballast_target_ttft_seconds', 'Successful streams on a target: from the attempt to the first content event.', T),
    tokens: counter('ballast_target_tokens_total', 'Tokens of answered calls, as the provider reported them.', [...T, 'direction']),
    cost: counter('ballast_target_cost_usd_total', "US dollars spent on a target (usage × the target's configured prices).", T),
    breakerState: gauge('ballast_target_breaker_state', 'Circuit breaker state of a target: 1 for the current state, 0 for the others.', [...T, 'state']),
    inFlight: gauge('ballast_target_in_flight', 'Requests running on a target now.', T),
    cooldownUntil: gauge('ballast_target_cooldown_until_seconds', "Unix time a target's cooldown ends (0 when not cooling down).", T),
    targetHealth: gauge('ballast_target_health', 'Health of a target: 1 for its current status, 0 for the others.', [...T, 'status']),
  };
}

let processRegistry: Registry | undefined;

/** prom-client's default process metrics, collected into one registry for the whole process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Renders routers' metrics snapshots (one per route, `route` naming it) as Prometheus text
 * exposition format 0.0.4 (serve it with {@link PROMETHEUS_CONTENT_TYPE}): counters `_total`,
 * times in seconds, real histograms from the snapshots' buckets, gauges for breaker state,
 * in-flight requests, cooldowns and health, plus the process metrics of prom-client. Labels are
 * route and target names, error kinds and states only: no error message, so no secret, gets out.
 */
export async function renderPrometheus(snapshots: readonly RouterMetricsSnapshot[], extra: PrometheusExtras = {}): Promise<string> {
  const registry = new Registry();
  const f = families(registry);
  for (const s of snapshots) {
    const route = s.route;
    const r = { route };
    const t = s.totals;
    f.requests(r, t.requests);
    for (const kind of ERROR_KINDS) f.requestFailures({ route, kind }, t.failuresByKind[kind] ?? 0);
    for (const p of t.fallbackPaths) f.fallbacks({ route, from: p.from, to: p.to }, p.count);
    f.requestDuration.add(r, s.histogramBoundsMs, t.latencyMs);
    f.requestTtft.add(r, s.histogramBoundsMs, t.ttftMs);
    for (const status of HEALTH) f.routeHealth({ route, status }, t.health.status === status ? 1 : 0);

    for (const target of s.targets) {
      const l = { route, target: target.id };
      f.targetInfo({ ...l, provider: target.provider, model: target.model }, 1);
      f.targetRequests(l, target.requests);
      f.targetAttempts(l, target.attempts);
      f.targetSuccesses(l, target.successes);
      for (const kind of ERROR_KINDS) f.targetFailures({ ...l, kind }, target.failuresByKind[kind] ?? 0);
      f.targetRetries(l, target.retries);
      f.targetHedges(l, target.hedges);
      for (const [reason, count] of Object.entries(target.skips)) f.targetSkips({ ...l, reason }, count);
      f.targetCooldowns(l, target.cooldowns);
      for (const state of BREAKER_STATES) f.breakerTransitions({ ...l, state }, target.breakerTransitions[state] ?? 0);
      f.targetLatency.add(l, s.histogramBoundsMs, target.latencyMs);
      f.targetTtft.add(l, s.histogramBoundsMs, target.ttftMs);
      f.tokens({ ...l, direction: 'input' }, target.tokens.input);
      f.tokens({ ...l, direction: 'output' }, target.tokens.output);
      f.cost(l, target.costUsd);
      if (target.breaker) for (const state of BREAKER_STATES) f.breakerState({ ...l, state }, target.breaker.state === state ? 1 : 0);
      f.inFlight(l, target.inFlight);
      f.cooldownUntil(l, target.cooldown ? seconds(target.cooldown.until) : 0);
      for (const status of HEALTH) f.targetHealth({ ...l, status }, target.health.status === status ? 1 : 0);
    }
  }
  if (extra.gateway) {
    const { inFlight, demo, storeConnected } = extra.gateway;
    if (inFlight !== undefined) new Gauge({ name: 'ballast_gateway_in_flight_requests', help: 'Chat completions the gateway is answering now.', registers: [registry] }).set(inFlight);
    if (demo !== undefined) new Gauge({ name: 'ballast_demo_mode', help: '1 when the gateway runs on simulated providers (demo mode).', registers: [registry] }).set(demo ? 1 : 0);
    if (storeConnected !== undefined) {
      new Gauge({ name: 'ballast_store_connected', help: '1 while the shared state store (Redis) is connected and in step; 0 while this replica runs on its own state.', registers: [registry] }).set(storeConnected ? 1 : 0);
    }
  }
  const registries = [registry];
  if (extra.processMetrics ?? true) registries.push(processMetrics());
  registries.push(...(extra.registries ?? []));
  return (registries.length === 1 ? registry : Registry.merge(registries)).metrics();
}

/** What {@link snapshotsOf} reads from a router. `Router` fits. */
export type MetricsRouter = Pick<Router, 'metrics'>;

/**
 * Each router's snapshot for a scrape (no series, no events), its `route` set to the map's key:
 * the name clients ask for, whatever the router was created with.
 */
export function snapshotsOf(routers: ReadonlyMap<string, MetricsRouter>): RouterMetricsSnapshot[] {
  return [...routers].map(([route, router]) => ({ ...router.metrics({ series: false, events: false }), route }));
}

/**
 * A `GET /metrics` handler: renders every route's metrics (see {@link renderPrometheus}) at each
 * scrape. `extras` is read per scrape, so it can report live numbers (e.g. the gateway's in-flight).
 */
export function createMetricsHandler(
  getRouters: () => ReadonlyMap<string, MetricsRouter>,
  extras?: () => PrometheusExtras,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    let body: string;
    try {
      body = await renderPrometheus(snapshotsOf(getRouters()), extras?.());
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`# metrics unavailable: ${error instanceof Error ? error.name : 'error'}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

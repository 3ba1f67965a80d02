import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HistogramSummary } from '../router/histogram.js';
import type { Router } from '../router/router.js';
import type { CallMetrics, Health, MetricsEvent, TargetMetrics } from '../router/router-metrics.js';
import { DASHBOARD_CSP, dashboardPage } from './dashboard-page.js';

/** What the dashboard reads from a router. `Router` fits. */
export type DashboardRouter = Pick<Router, 'metrics' | 'events'>;

/** p50 and p99 in milliseconds (`null` without data). */
export interface Quantiles {
  p50: number | null;
  p99: number | null;
}

/**
 * The time series of a route or target, column-wise, oldest slot first (the last one still
 * filling). Slots from before the router existed are left out, so a young router's chart is
 * not mostly empty.
 */
export interface DashboardSeries {
  slotMs: number;
  successes: number[];
  failures: number[];
  latencyP50: (number | null)[];
  latencyP99: (number | null)[];
  ttftP50: (number | null)[];
  ttftP99: (number | null)[];
}

/** The figures a route and a target share. Success rate and quantiles are over the recent window. */
export interface DashboardFigures {
  health: Health;
  requests: number;
  successes: number;
  failures: number;
  /** Recent success rate, 0..1 (`null` without recent traffic). */
  successRate: number | null;
  latency: Quantiles;
  ttft: Quantiles;
  inFlight: number;
  series: DashboardSeries;
}

/** One target on the page. */
export interface DashboardTarget extends DashboardFigures {
  id: string;
  provider: string;
  model: string;
  breaker: { state: string; openUntil: number | null; trips: number } | null;
  cooldown: { until: number; reason: string } | null;
  retries: number;
  lastError: { at: number; kind: string; status?: number; message: string } | null;
}

/** One route on the page. */
export interface DashboardRoute extends DashboardFigures {
  name: string;
  /** The window of the success rates and quantiles (ms). */
  recentMs: number;
  fallbacks: number;
  retries: number;
  targets: DashboardTarget[];
}

/** How an event is coloured: `bad` (failures, open breakers), `warn`, `good` (recoveries), `info`. */
export type Severity = 'bad' | 'warn' | 'good' | 'info';

/** A router event on the feed: the route it happened on, a one-line text, and the feed's own `seq`. */
export interface DashboardEvent {
  /** Position in the merged feed (1, 2, …): ask `?after=` the last one seen. */
  seq: number;
  route: string;
  /** Clock time (ms). */
  at: number;
  type: MetricsEvent['type'];
  severity: Severity;
  /** The target concerned (a fallback's `from`), when one is. */
  target?: string;
  text: string;
  /** The error message behind it (already redacted), when there is one. */
  detail?: string;
}

/** `GET /dashboard/data`. */
export interface DashboardData {
  /** The routers' clock now (ms): countdowns are `until - now`. */
  now: number;
  demo: boolean;
  /** The newest event's `seq`: the next poll asks `?after=` this. */
  seq: number;
  /** `after` was beyond the feed (the gateway restarted): forget the events shown so far. */
  reset: boolean;
  routes: DashboardRoute[];
  /** Events after `after`, oldest first. */
  events: DashboardEvent[];
}

/** The recent events of every route's router, merged into one feed with its own sequence. */
export interface EventFeed {
  /** Takes in what each router logged since the last pull; a router replaced on reload starts afresh. */
  pull(routers: ReadonlyMap<string, DashboardRouter>): void;
  /** Events with `seq > after`, oldest first, the newest `limit` at most. */
  since(after: number, limit?: number): DashboardEvent[];
  /** The newest `seq` (0 when empty). */
  readonly seq: number;
}

/** Creates an {@link EventFeed} that keeps (at least) the last `keep` events, default 500. */
export function createEventFeed(options: { keep?: number } = {}): EventFeed {
  const keep = options.keep ?? 500;
  const cursors = new WeakMap<DashboardRouter, number>();
  let kept: DashboardEvent[] = [];
  let seq = 0;
  return {
    pull(routers) {
      const batch: Array<{ route: string; event: MetricsEvent }> = [];
      for (const [route, router] of routers) {
        const fresh = router.events(cursors.get(router) ?? 0);
        if (fresh.length === 0) continue;
        cursors.set(router, fresh[fresh.length - 1]!.seq);
        for (const event of fresh) batch.push({ route, event });
      }
      // Stable: one route's events stay in their order; routes interleave by time.
      batch.sort((a, b) => a.event.at - b.event.at);
      for (const { route, event } of batch) kept.push(describeEvent(event, route, ++seq));
      if (kept.length > 2 * keep) kept = kept.slice(-keep);
    },
    since(after, limit = 100) {
      let first = kept.length;
      while (first > 0 && kept[first - 1]!.seq > after) first--;
      return kept.slice(Math.max(first, kept.length - limit));
    },
    get seq() {
      return seq;
    },
  };
}

/**
 * The dashboard's JSON: every route and target with state, success rate, p50/p99 latency and
 * TTFT, the time series for the charts, and the feed's events after `afterSeq`. Pass the same
 * `feed` on every poll (the handler does): without one the events are numbered afresh each call.
 */
export function dashboardData(
  routers: ReadonlyMap<string, DashboardRouter>,
  afterSeq = 0,
  options: { demo?: boolean; feed?: EventFeed } = {},
): DashboardData {
  const feed = options.feed ?? createEventFeed();
  feed.pull(routers);
  const reset = afterSeq > feed.seq;
  const routes: DashboardRoute[] = [];
  let now = 0;
  for (const [name, router] of routers) {
    const s = router.metrics({ events: false });
    now = Math.max(now, s.at);
    const slots = { slotMs: s.window.slotMs, since: s.startedAt - s.window.slotMs };
    routes.push({
      name,
      recentMs: s.window.recentMs,
      ...figures(s.totals, s.totals.health, s.totals.inFlight, slots),
      fallbacks: s.totals.fallbacks,
      retries: s.totals.retries,
      targets: s.targets.map((t) => target(t, slots)),
    });
  }
  return { now: now || Date.now(), demo: options.demo ?? false, seq: feed.seq, reset, routes, events: feed.since(reset ? 0 : afterSeq) };
}

/** Which slots the charts show: `slotMs` wide, those starting after `since`. */
interface Slots {
  slotMs: number;
  since: number;
}

function figures(m: CallMetrics, health: Health, inFlight: number, slots: Slots): DashboardFigures {
  const points = m.series.filter((p) => p.at > slots.since);
  return {
    health,
    requests: m.requests,
    successes: m.successes,
    failures: m.failures,
    successRate: m.recent.successRate,
    latency: quantiles(m.recent.latencyMs),
    ttft: quantiles(m.recent.ttftMs),
    inFlight,
    series: {
      slotMs: slots.slotMs,
      successes: points.map((p) => p.successes),
      failures: points.map((p) => p.failures),
      latencyP50: points.map((p) => p.latencyP50),
      latencyP99: points.map((p) => p.latencyP99),
      ttftP50: points.map((p) => p.ttftP50),
      ttftP99: points.map((p) => p.ttftP99),
    },
  };
}

function target(t: TargetMetrics, slots: Slots): DashboardTarget {
  const lastError = t.lastError ? { at: t.lastError.at, kind: t.lastError.kind, message: t.lastError.message, ...(t.lastError.status === undefined ? {} : { status: t.lastError.status }) } : null;
  return {
    id: t.id,
    provider: t.provider,
    model: t.model,
    ...figures(t, t.health, t.inFlight, slots),
    breaker: t.breaker ? { state: t.breaker.state, openUntil: t.breaker.openUntil, trips: t.breaker.trips } : null,
    cooldown: t.cooldown,
    retries: t.retries,
    lastError,
  };
}

const quantiles = (h: HistogramSummary): Quantiles => ({ p50: h.p50, p99: h.p99 });

const ms = (value: number) => (value < 1000 ? `${Math.round(value)} ms` : `${Math.round(value / 100) / 10} s`);
const status = (s: number | undefined) => (s === undefined ? '' : ` ${s}`);

/** One line per event, in words. The texts are plain (the page escapes them). */
export function describeEvent(e: MetricsEvent, route: string, seq: number): DashboardEvent {
  const base = { seq, route, at: e.at, type: e.type };
  switch (e.type) {
    case 'retry':
      return { ...base, severity: 'warn', target: e.target, text: `retry on ${e.target} in ${ms(e.delayMs)} after ${e.kind}${status(e.status)} (attempt ${e.attempt})` };
    case 'fallback':
      return { ...base, severity: 'warn', target: e.from, text: `fallback ${e.from} → ${e.to} after ${e.error.kind}${status(e.error.status)}`, detail: e.error.message };
    case 'hedge':
      return { ...base, severity: 'info', target: e.target, text: `hedged to ${e.target} after ${ms(e.afterMs)}` };
    case 'breaker':
      return {
        ...base,
        severity: e.to === 'closed' ? 'good' : e.to === 'half_open' ? 'warn' : 'bad',
        target: e.target,
        text: `breaker of ${e.target}: ${e.from.replace('_', '-')} → ${e.to.replace('_', '-')}`,
      };
    case 'cooldown':
      return { ...base, severity: 'warn', target: e.target, text: `${e.target} cooling down for ${ms(Math.max(0, e.until - e.at))} (${e.reason.replace('_', ' ')})` };
    case 'failure':
      return {
        ...base,
        severity: 'bad',
        text: `request failed on every target: ${e.error.kind}${status(e.error.status)} after ${e.attempts} ${e.attempts === 1 ? 'attempt' : 'attempts'}`,
        detail: e.error.message,
      };
    case 'success':
      return { ...base, severity: 'good', target: e.target, text: `answered by ${e.target} in ${ms(e.durationMs)}` };
    case 'attempt':
      return { ...base, severity: 'info', target: e.target, text: `attempt ${e.attempt} on ${e.target}` };
  }
}

/** Options of {@link createDashboardHandler}. */
export interface DashboardHandlerOptions {
  /** Demo mode: the page says SIMULATED in a banner. */
  demo: boolean;
  /** Events the merged feed keeps. Default 500. */
  keepEvents?: number;
}

/** Answers a dashboard request and returns true, or returns false without touching `res`. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The dashboard's HTTP seam: `GET /` (the page) and `GET /dashboard/data?after=N` (its JSON);
 * anything else returns false for the caller to answer. `getRouters` is read on every request,
 * so routers swapped by a reload show up on the next poll.
 */
export function createDashboardHandler(getRouters: () => ReadonlyMap<string, DashboardRouter>, options: DashboardHandlerOptions): DashboardHandler {
  const feed = createEventFeed({ keep: options.keepEvents });
  const page = dashboardPage({ demo: options.demo });
  const pageLength = Buffer.byteLength(page);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': pageLength,
        'cache-control': 'no-cache',
        'content-security-policy': DASHBOARD_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(req.method === 'HEAD' ? undefined : page);
      return true;
    }
    if (path === '/dashboard/data') {
      const after = Number(new URLSearchParams(q === -1 ? '' : url.slice(q + 1)).get('after') ?? 0);
      const body = JSON.stringify(dashboardData(getRouters(), Number.isSafeInteger(after) && after > 0 ? after : 0, { demo: options.demo, feed }));
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    return false;
  };
}

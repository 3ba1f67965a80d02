import type { Usage } from '../llm/chat-response.js';
import { ERROR_KINDS, type ErrorKind } from '../llm/error-kind.js';
import type { LlmError } from '../llm/llm-error.js';
import { redactSecrets } from '../llm/redact.js';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import type { Dispose } from '../policy/events.js';
import type { AttemptRecord, SkipReason } from './attempt-record.js';
import {
  DEFAULT_LATENCY_BOUNDS_MS,
  createWindowedCounter,
  createWindowedHistogram,
  type HistogramSnapshot,
  type HistogramSummary,
  type WindowedCounter,
  type WindowedHistogram,
} from './histogram.js';
import type { RouterEvent, RouterEventType } from './router-events.js';
import type { CooldownReason, TargetRuntime } from './target-runtime.js';
import type { Target } from './target.js';

/** What the metrics read from a router: its events, its targets and their live runtime. `Router` fits. */
export interface MetricsSource {
  on(type: '*', listener: (event: RouterEvent) => void): Dispose;
  targets(): readonly Target[];
  runtime(id: string): TargetRuntime | undefined;
}

/** Options of {@link createRouterMetrics}. */
export interface RouterMetricsOptions {
  clock: Clock;
  /** The route's name in the snapshot (the gateway's `route` label). Default `'default'`. */
  route?: string;
  /** Upper bounds (ms) of the latency and TTFT buckets. Default {@link DEFAULT_LATENCY_BOUNDS_MS}. */
  boundsMs?: readonly number[];
  /** Width of one time-series slot. Default 10 s. */
  slotMs?: number;
  /** Slots of the time series. Default 30 (five minutes of 10 s slots). */
  slots?: number;
  /** The "recent" window of the status and of the "now" quantiles. Default 60 s. */
  recentMs?: number;
  /** Recent outcomes needed before the success rate is judged. Default 5. */
  minCalls?: number;
  /** A recent success rate below this marks a target (or the route) degraded. Default 0.9. */
  degradedBelow?: number;
  /** Events kept in the recent-events ring. Default 200. */
  eventsKept?: number;
  /** Event types the ring keeps. Default everything but `attempt` and `success` (one per request each). */
  eventTypes?: readonly RouterEventType[];
}

/** Health of a target or a route. */
export type HealthStatus = 'healthy' | 'degraded' | 'unavailable';

/**
 * Why a target or route has its {@link HealthStatus}:
 * - unavailable: `breaker_open`, `isolated`, `cooldown`, `disabled` (after auth / not_found);
 *   for a route, `no_targets` or `all_unavailable`;
 * - degraded: `half_open`, `probe_due` (open breaker whose wait is over, admitting a probe),
 *   `low_success_rate`, `recent_errors` (failures, too few calls to judge a rate); for a route,
 *   also `targets_unhealthy`;
 * - healthy: `ok`, or `idle` (no recent traffic).
 */
export type HealthReason =
  | 'ok'
  | 'idle'
  | 'breaker_open'
  | 'isolated'
  | 'cooldown'
  | 'disabled'
  | 'half_open'
  | 'probe_due'
  | 'low_success_rate'
  | 'recent_errors'
  | 'targets_unhealthy'
  | 'no_targets'
  | 'all_unavailable';

/** A health verdict with its reason. */
export interface Health {
  status: HealthStatus;
  reason: HealthReason;
  /** One human line, e.g. `breaker open for another 30 s`. Secret-free. */
  detail: string;
  /** When unavailable: clock time it is expected back (`null` when unknown or never, e.g. isolated). */
  until: number | null;
}

/** Health of one target. */
export interface TargetStatus extends Health {
  id: string;
}

/** `router.status()`: the route's health and each target's. */
export interface RouterStatus extends Health {
  route: string;
  /** Clock time of the verdict. */
  at: number;
  targets: TargetStatus[];
}

/** An error as the metrics keep it: the secret-free fields of `LlmError.toJSON()`, message redacted again. */
export interface ErrorSummary {
  kind: ErrorKind;
  message: string;
  status?: number;
  code?: string;
  provider?: string;
  model?: string;
}

/** The last failure seen, with when it happened. */
export interface LastError {
  at: number;
  kind: ErrorKind;
  message: string;
  status?: number;
  /** The target it happened on (route level only). */
  target?: string;
}

/** Counts of the last `windowMs` and the quantiles "now". */
export interface RecentMetrics {
  windowMs: number;
  successes: number;
  /** Failures that say something about health: aborts and request errors (`invalid_request`, `context_length`, `content_filter`) are left out. */
  failures: number;
  /** `successes / (successes + failures)`, `null` without traffic. */
  successRate: number | null;
  latencyMs: HistogramSummary;
  ttftMs: HistogramSummary;
}

/** One point of the dashboard's time series (one slot). */
export interface SeriesPoint {
  /** Clock time the slot starts. */
  at: number;
  successes: number;
  failures: number;
  latencyP50: number | null;
  latencyP99: number | null;
  ttftP50: number | null;
  ttftP99: number | null;
}

/** Counters and histograms kept both per target and for the whole route. Counters are monotonic. */
export interface CallMetrics {
  /**
   * Route: calls that ended (successes + failures). Target: calls that reached it (first attempt
   * on it), counted when the attempt starts.
   */
  requests: number;
  /** Attempts started (retries included; hedges too, once the router hedges). */
  attempts: number;
  /** Route: calls answered. Target: calls it answered. */
  successes: number;
  /** Route: calls that failed. Target: its failed attempts (a stream failing after its first token included). */
  failures: number;
  /** `failures` by error kind; every kind present. */
  failuresByKind: Record<ErrorKind, number>;
  /** Retries on the same target. */
  retries: number;
  /** Hedges started (on this target). */
  hedges: number;
  /** Tokens of answered calls, as providers reported them. */
  tokens: { input: number; output: number };
  /** US dollars: usage × the target's `cost` (per million tokens); 0 for targets without prices. */
  costUsd: number;
  /**
   * Successful calls. Route: end to end (retries, waits, fallbacks, the whole stream). Target: its
   * successful attempt (non-streamed), or from that attempt's start to the end of the stream.
   */
  latencyMs: HistogramSnapshot;
  /**
   * Successful streams, to the first content event. Route: from the call's start (what the
   * caller waited). Target: from the successful attempt's start.
   */
  ttftMs: HistogramSnapshot;
  recent: RecentMetrics;
  /** Oldest first, the current (partial) slot last; `[]` when the snapshot was taken without series. */
  series: SeriesPoint[];
  lastError: LastError | null;
  lastSuccessAt: number | null;
}

/** Live state of a target's breaker. */
export interface BreakerSnapshot {
  state: CircuitState;
  /** When an open breaker admits probes again (`null` unless open; isolated breakers never do). */
  openUntil: number | null;
  /** Trips since the last successful close. */
  trips: number;
  /** Calls and failures its window counts now. */
  windowCalls: number;
  windowFailures: number;
}

/** Everything about one target. */
export interface TargetMetrics extends CallMetrics {
  id: string;
  provider: string;
  model: string;
  /** Calls that left this target for another one. */
  fallbacksFrom: number;
  /** Calls that came to this target from another one. */
  fallbacksTo: number;
  /** Times it was passed over without a request, by reason. */
  skips: Record<SkipReason, number>;
  /** Cooldowns started (rate limits, quota, auth…). */
  cooldowns: number;
  /** Breaker transitions, by the state entered. */
  breakerTransitions: Record<CircuitState, number>;
  /** `null` when breakers are disabled. */
  breaker: BreakerSnapshot | null;
  /** The active cooldown, if any. */
  cooldown: { until: number; reason: CooldownReason } | null;
  /** Requests running on it now. */
  inFlight: number;
  /** The router's moving averages (what `least-latency` routes on). */
  latencyEwmaMs: number | null;
  ttftEwmaMs: number | null;
  health: Health;
}

/** One fallback path and how often calls took it. */
export interface FallbackPath {
  from: string;
  to: string;
  count: number;
}

/** Everything about the route as a whole. */
export interface RouteMetrics extends CallMetrics {
  /** Moves from one target to the next. */
  fallbacks: number;
  fallbackPaths: FallbackPath[];
  /** Sum over the targets. */
  inFlight: number;
  health: Health;
}

interface EventBase {
  /** Position in the ring's history (1, 2, …): poll with `events(lastSeq)` for what is new. */
  seq: number;
  at: number;
}

/** A router event as the ring keeps it: flat, small and secret-free. */
export type MetricsEvent =
  | (EventBase & { type: 'attempt'; callId: number; target: string; attempt: number; stream: boolean })
  | (EventBase & { type: 'retry'; callId: number; target: string; attempt: number; delayMs: number; kind: ErrorKind; status?: number })
  | (EventBase & { type: 'fallback'; callId: number; from: string; to: string; error: ErrorSummary })
  | (EventBase & { type: 'hedge'; callId: number; target: string; afterMs: number })
  | (EventBase & { type: 'breaker'; target: string; from: CircuitState; to: CircuitState })
  | (EventBase & { type: 'cooldown'; callId: number; target: string; until: number; reason: CooldownReason })
  | (EventBase & {
      type: 'success';
      callId: number;
      target: string;
      stream: boolean;
      durationMs: number;
      ttftMs?: number;
      /** Attempts made (skips left out). */
      attempts: number;
      inputTokens?: number;
      outputTokens?: number;
    })
  | (EventBase & { type: 'failure'; callId: number; stream: boolean; durationMs: number; error: ErrorSummary; attempts: number });

/** `router.metrics()`: a JSON-serializable picture of the route (no `undefined`, `NaN` or `Infinity` inside). */
export interface RouterMetricsSnapshot {
  route: string;
  /** Clock time of the snapshot. */
  at: number;
  /** Clock time the metrics started (Prometheus `_created`). */
  startedAt: number;
  /** Bucket upper bounds (ms) of every `latencyMs` / `ttftMs` histogram. */
  histogramBoundsMs: number[];
  window: { slotMs: number; slots: number; recentMs: number };
  totals: RouteMetrics;
  /** Current targets, in configured order. */
  targets: TargetMetrics[];
  /** The recent-events ring, oldest first (`[]` when taken without events). */
  events: MetricsEvent[];
}

/** What to leave out of a snapshot (a Prometheus scrape needs neither series nor events). */
export interface SnapshotOptions {
  /** Default true. */
  series?: boolean;
  /** Default true. */
  events?: boolean;
}

/** Metrics and health of one router, fed by its events. */
export interface RouterMetrics {
  snapshot(options?: SnapshotOptions): RouterMetricsSnapshot;
  status(): RouterStatus;
  /** Ring events with `seq > afterSeq` (default all), oldest first. */
  events(afterSeq?: number): MetricsEvent[];
  /** Stops listening to the router. The numbers so far stay readable. */
  dispose(): void;
}

const DEFAULT_EVENT_TYPES: readonly RouterEventType[] = ['retry', 'fallback', 'hedge', 'breaker', 'cooldown', 'failure'];
const SKIP_REASONS: readonly SkipReason[] = ['breaker_open', 'cooldown', 'disabled', 'context_window', 'no_stream', 'no_tools', 'ignored', 'max_cost'];
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open', 'isolated'];
/** Failures that say nothing about a target's (or route's) health: the caller's doing or the request's. */
const NOT_HEALTH: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['aborted', 'invalid_request', 'context_length', 'content_filter']);

/** Per-target or per-route recording state: everything fixed-size, allocated once. */
interface Stats {
  requests: number;
  attempts: number;
  successes: number;
  failures: number;
  failuresByKind: Record<ErrorKind, number>;
  retries: number;
  hedges: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** All-time buckets plus the recent window. */
  latency: WindowedHistogram;
  ttft: WindowedHistogram;
  recentSuccesses: WindowedCounter;
  recentFailures: WindowedCounter;
  // The last error in flat fields, overwritten in place (no object per failure). NaN: none yet.
  lastErrorAt: number;
  lastErrorKind: ErrorKind;
  lastErrorStatus: number | undefined;
  lastErrorMessage: string;
  lastErrorTarget: string | undefined;
  lastSuccessAt: number | undefined;
}

interface TargetStats extends Stats {
  fallbacksFrom: number;
  fallbacksTo: number;
  skips: Record<SkipReason, number>;
  cooldowns: number;
  breakerTransitions: Record<CircuitState, number>;
}

interface RouteStats extends Stats {
  fallbacks: number;
  paths: Map<string, Map<string, number>>;
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> => {
  const out = {} as Record<K, number>;
  for (const key of keys) out[key] = 0;
  return out;
};

/**
 * Counts everything a router does, per target and for the route, from its events (`'*'`) plus
 * the live runtime (breaker, cooldown, in-flight) read at snapshot time. Recording is a few
 * increments per event; only the recent-events ring allocates (one small object per kept event).
 */
export function createRouterMetrics(router: MetricsSource, options: RouterMetricsOptions): RouterMetrics {
  const { clock } = options;
  const routeName = options.route ?? 'default';
  const bounds = Object.freeze([...(options.boundsMs ?? DEFAULT_LATENCY_BOUNDS_MS)]);
  const grid = { slotMs: options.slotMs ?? 10_000, slots: options.slots ?? 30 };
  const recentMs = options.recentMs ?? 60_000;
  const minCalls = options.minCalls ?? 5;
  const degradedBelow = options.degradedBelow ?? 0.9;
  const eventsKept = options.eventsKept ?? 200;
  if (!(recentMs > 0)) throw new TypeError(`createRouterMetrics: recentMs must be > 0, got ${String(recentMs)}`);
  if (!(minCalls >= 1)) throw new TypeError(`createRouterMetrics: minCalls must be >= 1, got ${String(minCalls)}`);
  if (!(degradedBelow >= 0 && degradedBelow <= 1)) throw new TypeError(`createRouterMetrics: degradedBelow must be in [0, 1], got ${String(degradedBelow)}`);
  if (!Number.isInteger(eventsKept) || eventsKept < 0) throw new TypeError(`createRouterMetrics: eventsKept must be an integer >= 0, got ${String(eventsKept)}`);
  const kept = new Set<RouterEventType>(options.eventTypes ?? DEFAULT_EVENT_TYPES);
  const startedAt = clock.now();

  const newStats = (): Stats => ({
    requests: 0,
    attempts: 0,
    successes: 0,
    failures: 0,
    failuresByKind: zeros(ERROR_KINDS),
    retries: 0,
    hedges: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    latency: createWindowedHistogram({ clock, bounds, ...grid }),
    ttft: createWindowedHistogram({ clock, bounds, ...grid }),
    recentSuccesses: createWindowedCounter({ clock, ...grid }),
    recentFailures: createWindowedCounter({ clock, ...grid }),
    lastErrorAt: NaN,
    lastErrorKind: 'server',
    lastErrorStatus: undefined,
    lastErrorMessage: '',
    lastErrorTarget: undefined,
    lastSuccessAt: undefined,
  });

  const route: RouteStats = { ...newStats(), fallbacks: 0, paths: new Map() };
  const byTarget = new Map<string, TargetStats>();
  const target = (id: string): TargetStats => {
    let stats = byTarget.get(id);
    if (!stats) {
      stats = {
        ...newStats(),
        fallbacksFrom: 0,
        fallbacksTo: 0,
        skips: zeros(SKIP_REASONS),
        cooldowns: 0,
        breakerTransitions: zeros(CIRCUIT_STATES),
      };
      byTarget.set(id, stats);
    }
    return stats;
  };
  for (const t of router.targets()) target(t.id);

  // The ring: a fixed array written round-robin; `seq` numbers every kept event.
  const ring = new Array<MetricsEvent | undefined>(eventsKept);
  let seq = 0;
  const keep = (event: MetricsEvent) => {
    if (eventsKept > 0) ring[(event.seq - 1) % eventsKept] = event;
  };

  const observeSuccess = (stats: Stats, at: number, latencyMs: number, ttftMs: number | undefined, usage: Usage | undefined, cost: Target['cost']) => {
    stats.successes++;
    stats.lastSuccessAt = at;
    stats.recentSuccesses.add(1, at);
    stats.latency.observe(latencyMs, at);
    if (ttftMs !== undefined) stats.ttft.observe(ttftMs, at);
    if (usage) {
      const input = usage.inputTokens || 0;
      const output = usage.outputTokens || 0;
      stats.inputTokens += input;
      stats.outputTokens += output;
      if (cost) stats.costUsd += (input * cost.input + output * cost.output) / 1_000_000;
    }
  };

  /** `at`: when it failed (the last error's time); `now`: the event's time (the window's slot). */
  const noteFailure = (stats: Stats, at: number, now: number, kind: ErrorKind, status: number | undefined, message: string, where: string | undefined) => {
    stats.failures++;
    stats.failuresByKind[kind]++;
    if (!NOT_HEALTH.has(kind)) stats.recentFailures.add(1, now);
    // A hedged call's history is not in time order: keep the latest error.
    if (at < stats.lastErrorAt) return;
    stats.lastErrorAt = at;
    stats.lastErrorKind = kind;
    stats.lastErrorStatus = status;
    stats.lastErrorMessage = message;
    stats.lastErrorTarget = where;
  };

  // Attempts (not skips) of the call `scanAttempts` last looked at: a variable, not a returned tuple, to spare an allocation.
  let attemptCount = 0;
  /** Failures and skips of a finished call, from its attempt history; returns the answering attempt, if any. */
  const scanAttempts = (attempts: readonly AttemptRecord[], answeredBy: string | undefined, now: number): AttemptRecord | undefined => {
    let answer: AttemptRecord | undefined;
    let count = 0;
    for (let i = 0; i < attempts.length; i++) {
      const a = attempts[i]!;
      if (a.outcome === 'failure') {
        count++;
        noteFailure(target(a.target), a.startedAt + a.durationMs, now, a.kind ?? 'server', a.status, a.message ?? '', undefined);
      } else if (a.outcome === 'skipped') {
        const skips = target(a.target).skips;
        // A skip reason added to the router later must not put NaN into the counts.
        if (a.skipReason && a.skipReason in skips) skips[a.skipReason]++;
      } else {
        count++;
        if (a.target === answeredBy) answer = a;
      }
    }
    attemptCount = count;
    return answer;
  };

  const onEvent = (e: RouterEvent): void => {
    switch (e.type) {
      case 'attempt': {
        const t = target(e.target);
        t.attempts++;
        if (e.attempt === 1) t.requests++;
        route.attempts++;
        break;
      }
      case 'retry':
        target(e.target).retries++;
        route.retries++;
        break;
      case 'fallback': {
        target(e.from).fallbacksFrom++;
        target(e.to).fallbacksTo++;
        route.fallbacks++;
        let tos = route.paths.get(e.from);
        if (!tos) route.paths.set(e.from, (tos = new Map()));
        tos.set(e.to, (tos.get(e.to) ?? 0) + 1);
        break;
      }
      case 'hedge':
        target(e.target).hedges++;
        route.hedges++;
        break;
      case 'breaker':
        target(e.target).breakerTransitions[e.to]++;
        break;
      case 'cooldown':
        target(e.target).cooldowns++;
        break;
      case 'success': {
        const answer = scanAttempts(e.attempts, e.target, e.at);
        const callStart = e.at - e.durationMs;
        const t = target(e.target);
        const cost = router.runtime(e.target)?.target.cost;
        // Non-streamed: the answering attempt; streamed: from its start to the end of the stream.
        const targetLatency = answer ? (e.stream ? e.at - answer.startedAt : answer.durationMs) : e.durationMs;
        observeSuccess(t, e.at, targetLatency, e.ttftMs, e.usage, cost);
        // The caller's TTFT: the answering attempt reached its first token at `startedAt + durationMs`.
        const routeTtft = e.ttftMs === undefined ? undefined : answer ? answer.startedAt + answer.durationMs - callStart : e.ttftMs;
        route.requests++;
        observeSuccess(route, e.at, e.durationMs, routeTtft, e.usage, cost);
        break;
      }
      case 'failure': {
        scanAttempts(e.attempts, undefined, e.at);
        route.requests++;
        const last = e.attempts.length > 0 ? e.attempts[e.attempts.length - 1]!.target : undefined;
        noteFailure(route, e.at, e.at, e.error.kind, e.error.status, e.error.message, last);
        break;
      }
    }
    if (kept.has(e.type)) {
      seq++;
      keep(toMetricsEvent(e, seq, attemptCount));
    }
  };
  let unsubscribe: Dispose | undefined = router.on('*', onEvent);

  const lastError = (s: Stats): LastError | null => {
    if (Number.isNaN(s.lastErrorAt)) return null;
    const out: LastError = { at: s.lastErrorAt, kind: s.lastErrorKind, message: redactSecrets(s.lastErrorMessage) };
    if (s.lastErrorStatus !== undefined) out.status = s.lastErrorStatus;
    if (s.lastErrorTarget !== undefined) out.target = s.lastErrorTarget;
    return out;
  };

  const recentOf = (s: Stats): RecentMetrics => {
    const successes = s.recentSuccesses.total(recentMs);
    const failures = s.recentFailures.total(recentMs);
    return {
      windowMs: recentMs,
      successes,
      failures,
      successRate: successes + failures > 0 ? successes / (successes + failures) : null,
      latencyMs: s.latency.summary(recentMs),
      ttftMs: s.ttft.summary(recentMs),
    };
  };

  const seriesOf = (s: Stats): SeriesPoint[] => {
    const ok = s.recentSuccesses.series();
    const bad = s.recentFailures.series();
    const latency = s.latency.series();
    const ttft = s.ttft.series();
    return ok.map((point, i) => ({
      at: point.at,
      successes: point.value,
      failures: bad[i]!.value,
      latencyP50: latency[i]!.p50,
      latencyP99: latency[i]!.p99,
      ttftP50: ttft[i]!.p50,
      ttftP99: ttft[i]!.p99,
    }));
  };

  const callMetrics = (s: Stats, withSeries: boolean): CallMetrics => ({
    requests: s.requests,
    attempts: s.attempts,
    successes: s.successes,
    failures: s.failures,
    failuresByKind: { ...s.failuresByKind },
    retries: s.retries,
    hedges: s.hedges,
    tokens: { input: s.inputTokens, output: s.outputTokens },
    costUsd: s.costUsd,
    latencyMs: s.latency.lifetime(),
    ttftMs: s.ttft.lifetime(),
    recent: recentOf(s),
    series: withSeries ? seriesOf(s) : [],
    lastError: lastError(s),
    lastSuccessAt: s.lastSuccessAt ?? null,
  });

  /** Judges recent outcomes: `undefined` when they look fine. */
  const judgeRecent = (s: Stats, unit: string): Health | undefined => {
    const ok = s.recentSuccesses.total(recentMs);
    const bad = s.recentFailures.total(recentMs);
    const n = ok + bad;
    if (n >= minCalls && ok / n < degradedBelow) {
      return degraded('low_success_rate', `${percent(ok / n)} success over the last ${seconds(recentMs)} (${ok}/${n} ${unit})`);
    }
    if (n < minCalls && bad > 0) {
      return degraded('recent_errors', `${bad} ${bad === 1 ? 'failure' : 'failures'} in the last ${seconds(recentMs)}${describeLast(s)}`);
    }
    return undefined;
  };

  const describeLast = (s: Stats) =>
    Number.isNaN(s.lastErrorAt) ? '' : ` (last: ${s.lastErrorKind}${s.lastErrorStatus === undefined ? '' : ` ${s.lastErrorStatus}`})`;

  const healthy = (s: Stats, unit: string): Health => {
    const ok = s.recentSuccesses.total(recentMs);
    const bad = s.recentFailures.total(recentMs);
    if (ok + bad === 0) return { status: 'healthy', reason: 'idle', detail: `no traffic in the last ${seconds(recentMs)}`, until: null };
    return { status: 'healthy', reason: 'ok', detail: `${percent(ok / (ok + bad))} success over the last ${seconds(recentMs)} (${ok}/${ok + bad} ${unit})`, until: null };
  };

  const targetHealth = (runtime: TargetRuntime | undefined, s: Stats, now: number): Health => {
    if (runtime) {
      const gone = runtime.availability(now);
      if (gone) {
        const until = Number.isFinite(gone.until) ? gone.until : null;
        const when = until === null ? '' : ` for another ${seconds(until - now)}`;
        if (gone.reason === 'disabled') return unavailable('disabled', `disabled after a ${gone.detail ?? 'fatal'} error${when}`, until);
        if (gone.reason === 'cooldown') return unavailable('cooldown', `cooling down (${gone.detail ?? 'cooldown'})${when}`, until);
        if (gone.detail === 'isolated') return unavailable('isolated', 'breaker isolated by hand', until);
        return unavailable('breaker_open', `breaker open${when}`, until);
      }
      const state = runtime.breaker?.state;
      if (state === 'half_open') return degraded('half_open', 'breaker half-open: probing');
      if (state === 'open') return degraded('probe_due', 'breaker open, its wait is over: the next call probes');
    }
    return judgeRecent(s, 'attempts') ?? healthy(s, 'attempts');
  };

  const routeHealth = (targets: readonly TargetStatus[]): Health => {
    if (targets.length === 0) return unavailable('no_targets', 'the route has no targets', null);
    if (targets.every((t) => t.status === 'unavailable')) {
      const times = targets.map((t) => t.until).filter((u): u is number => u !== null);
      const until = times.length > 0 ? Math.min(...times) : null;
      const now = clock.now();
      return unavailable('all_unavailable', `every target is unavailable${until === null ? '' : `; the first returns in ${seconds(until - now)}`}`, until);
    }
    const recent = judgeRecent(route, 'calls');
    if (recent?.reason === 'low_success_rate') return recent;
    const unhealthy = targets.filter((t) => t.status !== 'healthy');
    if (unhealthy.length > 0) {
      return degraded('targets_unhealthy', unhealthy.map((t) => `${t.id}: ${t.status} (${t.reason})`).join('; '));
    }
    return recent ?? healthy(route, 'calls');
  };

  const status = (): RouterStatus => {
    const now = clock.now();
    const targets = router.targets().map((t): TargetStatus => ({ id: t.id, ...targetHealth(router.runtime(t.id), target(t.id), now) }));
    return { route: routeName, at: now, ...routeHealth(targets), targets };
  };

  const breakerOf = (runtime: TargetRuntime | undefined, now: number): BreakerSnapshot | null => {
    const breaker = runtime?.breaker;
    if (!breaker) return null;
    const wait = breaker.retryAfterMs;
    const stats = breaker.stats();
    return {
      state: breaker.state,
      openUntil: breaker.state === 'open' && Number.isFinite(wait) ? now + wait : null,
      trips: breaker.trips,
      windowCalls: stats.calls,
      windowFailures: stats.failures,
    };
  };

  const events = (afterSeq = 0): MetricsEvent[] => {
    const out: MetricsEvent[] = [];
    const first = Math.max(afterSeq + 1, seq - eventsKept + 1, 1);
    for (let s = first; s <= seq; s++) out.push(ring[(s - 1) % eventsKept]!);
    return out;
  };

  return {
    snapshot(snapshotOptions) {
      const withSeries = snapshotOptions?.series ?? true;
      const now = clock.now();
      const current = router.targets();
      // Forget targets removed from the router (their series end, as Prometheus expects).
      for (const id of byTarget.keys()) if (!current.some((t) => t.id === id)) byTarget.delete(id);
      let inFlight = 0;
      const targets = current.map((t): TargetMetrics => {
        const runtime = router.runtime(t.id);
        const s = target(t.id);
        const cooldown = runtime?.cooldown(now);
        inFlight += runtime?.inFlight ?? 0;
        return {
          id: t.id,
          provider: t.provider.name,
          model: t.model,
          ...callMetrics(s, withSeries),
          fallbacksFrom: s.fallbacksFrom,
          fallbacksTo: s.fallbacksTo,
          skips: { ...s.skips },
          cooldowns: s.cooldowns,
          breakerTransitions: { ...s.breakerTransitions },
          breaker: breakerOf(runtime, now),
          cooldown: cooldown ? { until: cooldown.until, reason: cooldown.reason } : null,
          inFlight: runtime?.inFlight ?? 0,
          latencyEwmaMs: runtime?.latencyEwma ?? null,
          ttftEwmaMs: runtime?.ttftEwma ?? null,
          health: targetHealth(runtime, s, now),
        };
      });
      const fallbackPaths: FallbackPath[] = [];
      for (const [from, tos] of route.paths) for (const [to, count] of tos) fallbackPaths.push({ from, to, count });
      const totals: RouteMetrics = {
        ...callMetrics(route, withSeries),
        fallbacks: route.fallbacks,
        fallbackPaths,
        inFlight,
        health: routeHealth(targets.map((t) => ({ id: t.id, ...t.health }))),
      };
      return {
        route: routeName,
        at: now,
        startedAt,
        histogramBoundsMs: [...bounds],
        window: { slotMs: grid.slotMs, slots: grid.slots, recentMs },
        totals,
        targets,
        events: (snapshotOptions?.events ?? true) ? events() : [],
      };
    },
    status,
    events,
    dispose() {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}

function unavailable(reason: HealthReason, detail: string, until: number | null): Health {
  return { status: 'unavailable', reason, detail, until };
}

function degraded(reason: HealthReason, detail: string): Health {
  return { status: 'degraded', reason, detail, until: null };
}

const percent = (rate: number) => `${Math.round(rate * 1000) / 10}%`;
const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The secret-free summary of an error (the fields `LlmError.toJSON()` exposes, without attempts; message redacted again). */
function summarize(error: LlmError): ErrorSummary {
  const out: ErrorSummary = { kind: error.kind, message: redactSecrets(error.message) };
  if (error.status !== undefined) out.status = error.status;
  if (error.code !== undefined) out.code = redactSecrets(error.code);
  if (error.provider !== undefined) out.provider = error.provider;
  if (error.model !== undefined) out.model = error.model;
  return out;
}

function toMetricsEvent(e: RouterEvent, seq: number, attempts: number): MetricsEvent {
  switch (e.type) {
    case 'attempt':
      return { seq, type: 'attempt', at: e.at, callId: e.callId, target: e.target, attempt: e.attempt, stream: e.stream };
    case 'retry': {
      const out: MetricsEvent = { seq, type: 'retry', at: e.at, callId: e.callId, target: e.target, attempt: e.attempt, delayMs: e.delay, kind: e.kind };
      if (e.status !== undefined) out.status = e.status;
      return out;
    }
    case 'fallback':
      return { seq, type: 'fallback', at: e.at, callId: e.callId, from: e.from, to: e.to, error: summarize(e.error) };
    case 'hedge':
      return { seq, type: 'hedge', at: e.at, callId: e.callId, target: e.target, afterMs: e.afterMs };
    case 'breaker':
      return { seq, type: 'breaker', at: e.at, target: e.target, from: e.from, to: e.to };
    case 'cooldown':
      return { seq, type: 'cooldown', at: e.at, callId: e.callId, target: e.target, until: e.until, reason: e.reason };
    case 'success': {
      const out: MetricsEvent = { seq, type: 'success', at: e.at, callId: e.callId, target: e.target, stream: e.stream, durationMs: e.durationMs, attempts };
      if (e.ttftMs !== undefined) out.ttftMs = e.ttftMs;
      if (e.usage) {
        out.inputTokens = e.usage.inputTokens;
        out.outputTokens = e.usage.outputTokens;
      }
      return out;
    }
    case 'failure':
      return { seq, type: 'failure', at: e.at, callId: e.callId, stream: e.stream, durationMs: e.durationMs, error: summarize(e.error), attempts };
  }
}

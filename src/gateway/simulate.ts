import type { ChatRequest } from '../llm/chat-request.js';
import { toMs, type Duration } from '../policy/duration.js';
import { createMemoryStore } from '../policy/memory-store.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { deriveSeed, hashString, seededRandom } from '../providers/seeded-random.js';
import type { RouterEvent } from '../router/router-events.js';
import { checkConfig } from './config-load.js';
import type { ConfigProblem } from './config-problems.js';
import type { GatewayConfig, GatewayConfigInput, ProviderConfig } from './config-schema.js';
import { buildRouteTable, RouteTableError, type GatewayRoute, type RouteTable } from './route-table.js';

// `ballast simulate`: the config's real routers, on a virtual clock, under a steady stream of
// requests. Every number of the report comes from the routers' own events and metrics.

/** Options of {@link simulateTraffic}. */
export interface SimulateOptions {
  /** Routes to send traffic to; default every route of the config. */
  routes?: readonly string[];
  /** Virtual time the traffic lasts. Default `'1h'`. */
  duration?: Duration;
  /** Requests started per second on each route. Default 2. */
  rps?: number;
  /** Stream every request (read to its end) instead of `chat`. Default false. */
  stream?: boolean;
  /** Seeds the simulated providers and the routers' random choices (retry jitter, shuffles). Default 1. */
  seed?: number;
  /** Refuse to run more requests than this in total (routes × duration × rps). Default {@link MAX_SIMULATED_REQUESTS}. */
  maxRequests?: number;
  /** Buckets of the timeline. Default 12. */
  buckets?: number;
}

/** The default bound on the requests of one simulation. */
export const MAX_SIMULATED_REQUESTS = 200_000;

/** How long (virtual time) requests still running at the end of the traffic are waited for before they are aborted. */
export const SIMULATION_DRAIN_MS = 10 * 60_000;

/** Thrown by {@link simulateTraffic} for a config that does not validate or build. */
export class SimulationConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.path || '(config)'}: expected ${p.expected}, got ${p.got}`).join('\n'));
    this.name = 'SimulationConfigError';
  }
}

/** Thrown by {@link simulateTraffic} for options it cannot run: a bad value, an unknown route, too many requests. */
export class SimulationOptionsError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationOptionsError';
  }
}

/** A provider of the config that was not called: a healthy simulated provider of the same name stood in for it. */
export interface ReplacedProvider {
  provider: string;
  type: string;
}

/** Breaker transitions of a target, by the state entered. */
export interface BreakerCounts {
  open: number;
  half_open: number;
  closed: number;
}

/** One target of a simulated route. */
export interface SimulatedTargetReport {
  id: string;
  /** Attempts started on it (retries and hedges included). */
  attempts: number;
  /** Requests it answered. */
  served: number;
  /** Its failed attempts. */
  failures: number;
  breaker: BreakerCounts;
  /** Cooldowns started (rate limits, exhausted windows…). */
  cooldowns: number;
}

/** One bucket of the timeline: the requests that started in `[fromMs, toMs)` of virtual time. */
export interface TimelineBucket {
  fromMs: number;
  toMs: number;
  requests: number;
  successes: number;
  /** `successes / requests`; `null` without requests. */
  successRate: number | null;
  /** The target that answered most of them (`null` when none was answered). */
  topTarget: string | null;
  /** Its share of the answered ones. */
  topShare: number | null;
  /** Fallbacks of those requests. */
  fallbacks: number;
  /** Targets whose breaker opened in the bucket, in configured order. */
  breakersOpened: string[];
}

/** One simulated route. */
export interface SimulatedRouteReport {
  route: string;
  /** The strategy's name (`priority`, `rules+weighted`, …). */
  strategy: string;
  targets: string[];
  /** Requests that ended (successes + failures). */
  requests: number;
  successes: number;
  failures: number;
  /** `successes / requests` (0 without requests). */
  successRate: number;
  /** Requests still running when the drain time ran out: aborted, and counted as `aborted` failures. */
  unfinished: number;
  attempts: number;
  /** `attempts / requests`. */
  meanAttempts: number;
  retries: number;
  fallbacks: number;
  /** Most taken first. */
  fallbackPaths: Array<{ from: string; to: string; count: number }>;
  hedges: number;
  /** Of successful requests, end to end (retries, waits and fallbacks included), virtual ms; `null` without any. */
  latencyMs: { p50: number; p99: number } | null;
  /** The final error of failed requests, by kind (kinds that occurred only). */
  failuresByKind: Record<string, number>;
  perTarget: SimulatedTargetReport[];
  timeline: TimelineBucket[];
}

/** What {@link simulateTraffic} returns: plain data, the same for the same config, options and seed. */
export interface SimulationReport {
  seed: number;
  durationMs: number;
  rps: number;
  stream: boolean;
  /** Requests started on each route. */
  requestsPerRoute: number;
  /** Providers that were not simulated in the config. */
  replaced: ReplacedProvider[];
  /** One line per replaced provider, and anything else worth saying about the run. */
  notes: string[];
  routes: SimulatedRouteReport[];
}

/** What a provider of another type becomes: no faults, and a bounded latency (no tail to trip a route's timeouts). */
const STAND_IN: Omit<Extract<ProviderConfig, { type: 'simulated' }>, 'seed'> = {
  type: 'simulated',
  firstToken: { dist: 'uniform', min: '200ms', max: '800ms' },
  chunkInterval: '15ms',
};

/**
 * Sends `rps` requests a second to each route of `config` for `duration` of virtual time, through
 * the real routers (`buildRouteTable` on a virtual clock and a memory store), and reports what
 * they did. `simulated` providers run as configured, their seeds mixed with `seed`; every other
 * provider is replaced by a healthy simulated one of the same name (nothing goes over the network).
 *
 * `config` is checked as it is (`${ENV}` references are not resolved: pass what `loadConfigFile`
 * or `validateConfig` returned to have them resolved).
 *
 * The routers draw their randomness (strategies, retry jitter) from a generator seeded from
 * `seed`, and simulated providers from their own seeds mixed with it, so a run repeats exactly.
 *
 * Throws a {@link SimulationConfigError} for an invalid config, a {@link SimulationOptionsError}
 * for bad options or more than `maxRequests` requests.
 */
export async function simulateTraffic(config: GatewayConfigInput | GatewayConfig, options: SimulateOptions = {}): Promise<SimulationReport> {
  const { durationMs, rps, seed, stream, buckets, maxRequests } = checkOptions(options);
  const checked = checkConfig(config);
  if (!checked.ok) throw new SimulationConfigError(checked.problems);
  const routeNames = pickRoutes(checked.config, options.routes);
  const perRoute = Math.ceil((durationMs * rps) / 1000 - 1e-9);
  const total = perRoute * routeNames.length;
  if (total > maxRequests) {
    throw new SimulationOptionsError(
      `the simulation would send ${total} requests (${perRoute} on each of ${routeNames.length} route${routeNames.length === 1 ? '' : 's'}), more than the limit of ${maxRequests}: shorten the duration, lower the rate or pick fewer routes`,
    );
  }

  const { config: simConfig, replaced } = forSimulation(checked.config, seed);
  const clock = createVirtualClock(0);
  const random = seededRandom(deriveSeed(seed, hashString('ballast simulate')));
  let table: RouteTable | undefined;
  try {
    table = build(simConfig, clock, () => random.next());
    const built = table;
    const routes = routeNames.map((name) => built.routes.get(name)!);
    const bucketCount = Math.max(1, Math.min(buckets, perRoute));
    const recorders = routes.map((route) => record(route, durationMs, bucketCount));
    const running = new Set<Promise<void>>();
    const controllers = new Set<AbortController>();
    const pending = new Map<string, number>(routeNames.map((name) => [name, 0]));
    const interval = 1000 / rps;

    const send = (route: GatewayRoute, n: number) => {
      const controller = new AbortController();
      controllers.add(controller);
      pending.set(route.name, pending.get(route.name)! + 1);
      const request: ChatRequest = { messages: [{ role: 'user', content: `Simulated request ${n + 1} to ${route.name}` }], signal: controller.signal };
      const call = (async () => {
        try {
          if (stream) {
            for await (const event of route.router.stream(request)) void event;
          } else await route.router.chat(request);
        } catch {
          // Counted by the router's own failure event.
        }
      })();
      const done = call.then(() => {
        running.delete(done);
        controllers.delete(controller);
        pending.set(route.name, pending.get(route.name)! - 1);
      });
      running.add(done);
    };

    // The traffic: each start is a timer on the virtual clock that arms the next one. One advance
    // then fires every timer in time order (starts, latencies, timeouts, backoffs, breaker waits,
    // outages), letting promise chains settle between them: slow requests overlap later ones.
    const tick = (n: number) => {
      for (const route of routes) send(route, n);
      if (n + 1 < perRoute) clock.setTimer(Math.round((n + 1) * interval) - clock.now(), () => tick(n + 1));
    };
    tick(0);
    await clock.advance(durationMs);
    // The drain: what still runs gets up to SIMULATION_DRAIN_MS more, then is aborted.
    const drainEnd = clock.now() + SIMULATION_DRAIN_MS;
    while (running.size > 0 && clock.now() < drainEnd) await clock.advance(Math.min(1000, drainEnd - clock.now()));
    const unfinished = new Map(pending);
    if (running.size > 0) {
      for (const controller of controllers) controller.abort(new Error('the simulation ended'));
      await clock.run(Promise.all(running));
    }

    const notes = replaced.map((r) => `${r.provider}: not simulated in the config; replaced by a healthy simulated provider`);
    return {
      seed,
      durationMs,
      rps,
      stream,
      requestsPerRoute: perRoute,
      replaced,
      notes,
      routes: recorders.map((r) => r.report(unfinished.get(r.route.name) ?? 0)),
    };
  } finally {
    table?.close();
  }
}

function build(config: GatewayConfig, clock: VirtualClock, random: () => number): RouteTable {
  try {
    return buildRouteTable(config, { clock, store: createMemoryStore({ clock }), random });
  } catch (error) {
    if (error instanceof RouteTableError) throw new SimulationConfigError(error.problems);
    throw error;
  }
}

function checkOptions(options: SimulateOptions) {
  let durationMs: number;
  try {
    durationMs = toMs(options.duration ?? '1h');
  } catch (error) {
    throw new SimulationOptionsError(`duration: ${(error as Error).message}`);
  }
  if (!(durationMs > 0 && Number.isFinite(durationMs))) throw new SimulationOptionsError(`duration: expected a duration > 0, got ${JSON.stringify(options.duration)}`);
  const rps = options.rps ?? 2;
  if (!(typeof rps === 'number' && rps > 0 && Number.isFinite(rps))) throw new SimulationOptionsError(`rps: expected a number of requests per second > 0, got ${JSON.stringify(rps)}`);
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new SimulationOptionsError(`seed: expected an integer, got ${JSON.stringify(seed)}`);
  const buckets = options.buckets ?? 12;
  if (!(Number.isInteger(buckets) && buckets >= 1)) throw new SimulationOptionsError(`buckets: expected an integer >= 1, got ${JSON.stringify(buckets)}`);
  const maxRequests = options.maxRequests ?? MAX_SIMULATED_REQUESTS;
  return { durationMs, rps, seed, stream: options.stream ?? false, buckets, maxRequests };
}

function pickRoutes(config: GatewayConfig, wanted: readonly string[] | undefined): string[] {
  const all = Object.keys(config.routes);
  if (!wanted || wanted.length === 0) return all;
  for (const name of wanted) {
    if (!all.includes(name)) throw new SimulationOptionsError(`no route named ${JSON.stringify(name)} in the config (routes: ${all.join(', ')})`);
  }
  return all.filter((name) => wanted.includes(name));
}

/** The config with every simulated provider's seed mixed with `seed`, and every other provider replaced. */
function forSimulation(config: GatewayConfig, seed: number): { config: GatewayConfig; replaced: ReplacedProvider[] } {
  const replaced: ReplacedProvider[] = [];
  const providers: GatewayConfig['providers'] = {};
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.type === 'simulated') providers[name] = { ...provider, seed: deriveSeed(seed, provider.seed ?? 0) };
    else {
      replaced.push({ provider: name, type: provider.type });
      providers[name] = { ...STAND_IN, seed: deriveSeed(seed, hashString(name)) };
    }
  }
  return { config: { ...config, providers }, replaced };
}

interface Bucket {
  requests: number;
  successes: number;
  fallbacks: number;
  served: Map<string, number>;
  opened: Set<string>;
}

/** Listens to a route's router and turns its events and metrics into the route's report. */
function record(route: GatewayRoute, durationMs: number, bucketCount: number) {
  const bucketMs = durationMs / bucketCount;
  const buckets: Bucket[] = Array.from({ length: bucketCount }, () => ({ requests: 0, successes: 0, fallbacks: 0, served: new Map(), opened: new Set() }));
  const bucketAt = (at: number) => buckets[Math.min(bucketCount - 1, Math.max(0, Math.floor(at / bucketMs)))]!;
  const latencies: number[] = [];

  // When each running call started (its first event), so a fallback counts in its request's bucket.
  const startedAt = new Map<number, number>();

  route.router.on('*', (e: RouterEvent) => {
    if (e.type !== 'breaker' && !startedAt.has(e.callId)) startedAt.set(e.callId, e.type === 'success' || e.type === 'failure' ? e.at - e.durationMs : e.at);
    switch (e.type) {
      case 'success': {
        startedAt.delete(e.callId);
        // A request belongs to the bucket it started in.
        const bucket = bucketAt(e.at - e.durationMs);
        bucket.requests++;
        bucket.successes++;
        bucket.served.set(e.target, (bucket.served.get(e.target) ?? 0) + 1);
        latencies.push(e.durationMs);
        break;
      }
      case 'failure':
        startedAt.delete(e.callId);
        bucketAt(e.at - e.durationMs).requests++;
        break;
      case 'fallback':
        bucketAt(startedAt.get(e.callId)!).fallbacks++;
        break;
      case 'breaker':
        if (e.to === 'open') bucketAt(e.at).opened.add(e.target);
        break;
    }
  });

  return {
    route,
    report(unfinished: number): SimulatedRouteReport {
      const m = route.router.metrics({ series: false, events: false });
      const totals = m.totals;
      const order = route.targets.map((t) => t.id);
      latencies.sort((a, b) => a - b);
      const failuresByKind: Record<string, number> = {};
      for (const [kind, count] of Object.entries(totals.failuresByKind)) if (count > 0) failuresByKind[kind] = count;
      return {
        route: route.name,
        strategy: route.strategy,
        targets: order,
        requests: totals.requests,
        successes: totals.successes,
        failures: totals.failures,
        successRate: totals.requests > 0 ? round(totals.successes / totals.requests, 6) : 0,
        unfinished,
        attempts: totals.attempts,
        meanAttempts: totals.requests > 0 ? round(totals.attempts / totals.requests, 3) : 0,
        retries: totals.retries,
        fallbacks: totals.fallbacks,
        fallbackPaths: [...totals.fallbackPaths].sort((a, b) => b.count - a.count || order.indexOf(a.from) - order.indexOf(b.from) || order.indexOf(a.to) - order.indexOf(b.to)),
        hedges: totals.hedges,
        latencyMs: latencies.length > 0 ? { p50: Math.round(quantile(latencies, 0.5)), p99: Math.round(quantile(latencies, 0.99)) } : null,
        failuresByKind,
        perTarget: m.targets.map((t) => ({
          id: t.id,
          attempts: t.attempts,
          served: t.successes,
          failures: t.failures,
          breaker: { open: t.breakerTransitions.open, half_open: t.breakerTransitions.half_open, closed: t.breakerTransitions.closed },
          cooldowns: t.cooldowns,
        })),
        timeline: buckets.map((b, i) => {
          let top: string | null = null;
          let topCount = 0;
          for (const id of order) {
            const count = b.served.get(id) ?? 0;
            if (count > topCount) [top, topCount] = [id, count];
          }
          return {
            fromMs: Math.round(i * bucketMs),
            toMs: Math.round((i + 1) * bucketMs),
            requests: b.requests,
            successes: b.successes,
            successRate: b.requests > 0 ? round(b.successes / b.requests, 6) : null,
            topTarget: top,
            topShare: top === null ? null : round(topCount / b.successes, 6),
            fallbacks: b.fallbacks,
            breakersOpened: order.filter((id) => b.opened.has(id)),
          };
        }),
      };
    },
  };
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

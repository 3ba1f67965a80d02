import type { ErrorKind } from '../llm/error-kind.js';
import type { CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import type { Clock } from '../policy/clock.js';
import type { StateStore } from '../policy/state-store.js';
import type { Transport } from '../providers/transport.js';
import { when, type RoutingRule } from '../router/conditional.js';
import { createRouter, type Router, type RouterOptions } from '../router/router.js';
import { strategyByName, type StrategyName } from '../router/strategies.js';
import type { Strategy } from '../router/strategy.js';
import { buildProvider, type BuiltProvider } from './build-provider.js';
import { formatPath, type ConfigProblem } from './config-problems.js';
import type { GatewayConfig, RouteConfig } from './config-schema.js';

/** A target of a route, as `/status` and logs describe it (no secrets). */
export interface GatewayTarget {
  /** The router's target id (`<provider>/<model>` unless set). */
  readonly id: string;
  /** The config name of its provider. */
  readonly provider: string;
  readonly type: string;
  readonly model: string;
}

/** One route: the model name clients ask for, and the router behind it. */
export interface GatewayRoute {
  readonly name: string;
  readonly router: Router;
  readonly config: RouteConfig;
  readonly targets: readonly GatewayTarget[];
  /** The strategy's name (`priority` unless set; `rules+<name>` with conditional rules). */
  readonly strategy: string;
}

/** What a requested model name leads to: a route, and for a direct target name the other targets to leave out. */
export interface ResolvedModel {
  readonly route: GatewayRoute;
  readonly ignore?: readonly string[];
}

/** Every route and provider of one config: what a reload swaps as a whole. */
export interface RouteTable {
  readonly routes: ReadonlyMap<string, GatewayRoute>;
  readonly providers: ReadonlyMap<string, BuiltProvider>;
  /**
   * A route by name; else a target asked for directly, as `<provider>/<model>`, its id, or a bare
   * model name that exactly one provider serves in this config.
   */
  resolve(model: string): ResolvedModel | undefined;
  /** Stops every router and provider timer. */
  close(): void;
}

/** Thrown by {@link buildRouteTable} when a provider or router refuses part of a valid-looking config. */
export class RouteTableError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.path}: expected ${p.expected}, got ${p.got}`).join('\n'));
    this.name = 'RouteTableError';
  }
}

/** What the routers and providers of a table share. */
export interface RouteTableOptions {
  clock: Clock;
  /** Breaker states and cooldowns; kept across reloads so a reload does not forget a broken target. */
  store: StateStore;
  transport?: Transport;
  /** What every key of the routers starts with (`<keyPrefix><route>:…`); default `ballast:`. A Redis store shares only keys under its prefix. */
  keyPrefix?: string;
  /** Random source of the routers (strategies, retry jitter); default `Math.random`. Simulations seed it. */
  random?: () => number;
}

/** Builds providers and routers from a validated config. Throws a {@link RouteTableError}. */
export function buildRouteTable(config: GatewayConfig, options: RouteTableOptions): RouteTable {
  const problems: ConfigProblem[] = [];
  const providers = new Map<string, BuiltProvider>();
  const routes = new Map<string, GatewayRoute>();
  const closeAll = () => {
    for (const route of routes.values()) route.router.close();
    for (const provider of providers.values()) provider.dispose();
  };

  for (const [name, providerConfig] of Object.entries(config.providers)) {
    try {
      providers.set(name, buildProvider(name, providerConfig, options));
    } catch (error) {
      problems.push(problemFrom(['providers', name], error));
    }
  }
  if (problems.length === 0) {
    for (const [name, routeConfig] of Object.entries(config.routes)) {
      try {
        routes.set(name, buildRoute(name, routeConfig, providers, options));
      } catch (error) {
        problems.push(problemFrom(['routes', name], error));
      }
    }
  }
  if (problems.length > 0) {
    closeAll();
    throw new RouteTableError(problems);
  }

  const direct = directNames(routes);
  return {
    routes,
    providers,
    resolve: (model) => {
      const route = routes.get(model);
      return route ? { route } : direct.get(model);
    },
    close: closeAll,
  };
}

function buildRoute(name: string, config: RouteConfig, providers: ReadonlyMap<string, BuiltProvider>, options: RouteTableOptions): GatewayRoute {
  const targets: GatewayTarget[] = [];
  const routerOptions: RouterOptions = {
    route: name,
    targets: config.targets.map((t) => {
      const built = providers.get(t.provider)!;
      const id = t.id ?? `${t.provider}/${t.model}`;
      targets.push({ id, provider: t.provider, type: built.type, model: t.model });
      return {
        provider: built.provider,
        model: t.model,
        id,
        priority: t.priority,
        weight: t.weight,
        contextWindow: t.contextWindow,
        cost: t.cost,
        supportsStream: t.supportsStream,
        supportsTools: t.supportsTools,
        tags: t.tags,
        retry: t.retry ? { ...t.retry } : undefined,
      };
    }),
    clock: options.clock,
    store: options.store,
    ...(options.random && { random: options.random }),
    keyPrefix: `${options.keyPrefix ?? 'ballast:'}${name}:`,
  };
  const { strategy, label } = strategyOf(config);
  routerOptions.strategy = strategy;
  if (config.retry) routerOptions.retry = { ...config.retry };
  if (config.breaker !== undefined) routerOptions.breaker = breakerOf(config.breaker);
  if (config.timeouts) routerOptions.timeouts = { ...config.timeouts };
  if (config.hedge) routerOptions.hedge = { ...config.hedge };
  if (config.resume !== undefined) routerOptions.resume = config.resume;
  if (config.cooldowns) routerOptions.cooldowns = { ...config.cooldowns };
  if (config.errors) {
    const { fallbackOnContentFilter, stopOn, retryOn, fallbackOn } = config.errors;
    const matchers = (list: readonly (string | number)[] | undefined) => list?.map((m) => (typeof m === 'number' ? m : (m as ErrorKind)));
    routerOptions.errors = { fallbackOnContentFilter, stopOn: matchers(stopOn), retryOn: matchers(retryOn), fallbackOn: matchers(fallbackOn) };
  }
  const router = createRouter(routerOptions);
  if (config.healthCheck) router.startHealthChecks({ interval: config.healthCheck.interval, timeout: config.healthCheck.timeout });
  return { name, router, config, targets, strategy: label };
}

function strategyOf(config: RouteConfig): { strategy: Strategy; label: string } {
  const spec = config.strategy ?? 'priority';
  const { name, ...rest } = typeof spec === 'string' ? { name: spec } : spec;
  const base = strategyByName(name as StrategyName, rest as never);
  if (!config.rules?.length) return { strategy: base, label: name };
  const rules: RoutingRule[] = config.rules.map((r) => ({
    if: r.if,
    use: r.use,
    only: r.only,
    strategy: r.strategy === undefined ? undefined : strategyByName(r.strategy as StrategyName),
  }));
  return { strategy: when(rules, base), label: `rules+${name}` };
}

function breakerOf(config: Exclude<RouteConfig['breaker'], undefined>): CircuitBreakerOptions | false {
  if (config === false) return false;
  const halfOpen = config.halfOpenProbes === undefined ? undefined : { probes: config.halfOpenProbes };
  if (config.consecutive !== undefined) return { consecutive: config.consecutive, openFor: config.openFor, halfOpen };
  return { window: config.window ?? '30s', failureRate: config.failureRate, minCalls: config.minCalls, openFor: config.openFor, halfOpen };
}

/**
 * Names that reach one target directly: `<provider>/<model>`, a custom target id, and a bare
 * model name when exactly one provider serves it. The first route using a target owns it (its
 * retry, breaker and timeouts apply); the route's other targets are ignored for the call.
 */
function directNames(routes: ReadonlyMap<string, GatewayRoute>): Map<string, ResolvedModel> {
  const out = new Map<string, ResolvedModel>();
  const servedBy = new Map<string, Set<string>>();
  const bare = new Map<string, ResolvedModel>();
  for (const route of routes.values()) {
    for (const target of route.targets) {
      const resolved: ResolvedModel = { route, ignore: route.targets.filter((t) => t.id !== target.id).map((t) => t.id) };
      for (const name of [`${target.provider}/${target.model}`, target.id]) {
        if (!routes.has(name) && !out.has(name)) out.set(name, resolved);
      }
      const providers = servedBy.get(target.model) ?? new Set<string>();
      providers.add(target.provider);
      servedBy.set(target.model, providers);
      if (!bare.has(target.model)) bare.set(target.model, resolved);
    }
  }
  for (const [model, resolved] of bare) {
    if (servedBy.get(model)!.size === 1 && !routes.has(model) && !out.has(model)) out.set(model, resolved);
  }
  return out;
}

/** A provider's or router's `TypeError` (`faults[0].between: ends before it starts`) as a problem under `prefix`. */
function problemFrom(prefix: readonly PropertyKey[], error: unknown): ConfigProblem {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^([\w.[\]"-]+): (.*)$/s.exec(message);
  const path = formatPath(prefix) + (match ? (match[1]!.startsWith('[') ? match[1] : `.${match[1]}`) : '');
  const detail = match ? match[2]! : message;
  const split = /^expected (.*), got (.*)$/s.exec(detail);
  return split ? { path, expected: split[1]!, got: split[2]! } : { path, expected: 'a value the provider accepts', got: detail };
}

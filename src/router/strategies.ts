import { estimateCallTokens, priceTokens, type CostEstimateOptions, type TokenEstimate } from './cost.js';
import { priorityStrategy, type Strategy, type StrategyInput } from './strategy.js';
import type { TargetRuntime } from './target-runtime.js';

export { priorityStrategy };
export type { Strategy, StrategyInput };

/** Options of {@link priority}. */
export interface PriorityOptions {
  /**
   * Order among targets of equal priority: `'order'` keeps the configured order (default),
   * `'shuffle'` shuffles them on every call, `'round-robin'` takes turns.
   */
  ties?: 'order' | 'shuffle' | 'round-robin';
}

/** Options of {@link leastLatency}. */
export interface LeastLatencyOptions {
  /**
   * What "fast" means: mean latency of whole answers, mean time to first token, or (`'auto'`,
   * the default) time to first token for streams and latency otherwise.
   */
  metric?: 'latency' | 'ttft' | 'auto';
}

/** Options of {@link leastCost}. */
export type LeastCostOptions = CostEstimateOptions;

type NoOptions = Record<string, never>;

/** The options each named strategy takes (what a config file may carry next to the name). */
export interface StrategyOptionsByName {
  priority: PriorityOptions;
  'round-robin': NoOptions;
  weighted: NoOptions;
  'least-latency': LeastLatencyOptions;
  'least-cost': LeastCostOptions;
  'least-busy': NoOptions;
}

/** The names config files use for the built-in strategies. */
export type StrategyName = keyof StrategyOptionsByName;

/** Every {@link StrategyName}, e.g. for a config schema's enum. */
export const STRATEGY_NAMES: readonly StrategyName[] = Object.freeze([
  'priority',
  'round-robin',
  'weighted',
  'least-latency',
  'least-cost',
  'least-busy',
]);

/** Lowest `priority` first; equal priorities kept in order, shuffled, or taking turns. */
export function priority(options: PriorityOptions = {}): Strategy {
  const ties = options.ties ?? 'order';
  switch (ties) {
    case 'order':
      return priorityStrategy;
    case 'shuffle':
      return shuffledTies;
    case 'round-robin': {
      const turns = createTurns();
      return (candidates) => {
        const out = orderBy(candidates, priorityOf, undefined, turns.of);
        // Each priority group takes turns, so fallback traffic spreads over its group too.
        for (let i = 0; i < out.length; i++) {
          if (i === 0 || out[i]!.target.priority !== out[i - 1]!.target.priority) turns.mark(out[i]!);
        }
        return out;
      };
    }
    default:
      throw new TypeError(`priority: ties must be 'order', 'shuffle' or 'round-robin', got ${JSON.stringify(ties)}`);
  }
}

/**
 * Takes turns over the candidates in configured order: each call starts with the candidate whose
 * last turn is oldest (a new target goes first) and the others follow in rotation. Turns are kept
 * per strategy instance and per target, so a call whose candidates are a subset (an `ignore`
 * list, conditional routing) still rotates evenly over that subset.
 */
export function roundRobin(): Strategy {
  const turns = createTurns();
  return (candidates) => {
    const out = orderBy(candidates, turns.of, undefined, undefined);
    if (out.length > 0) turns.mark(out[0]!);
    return out;
  };
}

/**
 * Weighted random order without replacement: the first target is drawn with probability
 * proportional to its `weight`, the next from the rest the same way, so fallbacks still follow.
 * Targets of weight 0 come last, by priority. Draws one `input.random()` per candidate.
 */
export function weighted(): Strategy {
  return weightedStrategy;
}

/**
 * Fastest first by exponentially weighted mean latency (or time to first token, see
 * {@link LeastLatencyOptions}). Targets with no measurement yet go first, so new targets get
 * measured; ties go by priority. Only successful calls are measured, so an unmeasured target
 * that keeps failing stays first until its breaker or a cooldown takes it out. A mean that is
 * stale because its target lost the traffic needs no exploration: the mean of the target that
 * took the traffic keeps moving, and once it passes the stale one the traffic moves back.
 */
export function leastLatency(options: LeastLatencyOptions = {}): Strategy {
  const metric = options.metric ?? 'auto';
  switch (metric) {
    case 'latency':
      return (candidates) => orderBy(candidates, latencyOf, undefined, priorityOf);
    case 'ttft':
      return (candidates) => orderBy(candidates, ttftOf, undefined, priorityOf);
    case 'auto':
      return (candidates, input) => orderBy(candidates, input.stream ? ttftOf : latencyOf, undefined, priorityOf);
    default:
      throw new TypeError(`leastLatency: metric must be 'latency', 'ttft' or 'auto', got ${JSON.stringify(metric)}`);
  }
}

/**
 * Cheapest first for this request: estimated input tokens (about four characters per token) ×
 * input price + expected output tokens (`maxTokens`, else a default) × output price. Targets
 * without prices come last; ties go by priority.
 */
export function leastCost(options: LeastCostOptions = {}): Strategy {
  const defaultOutputTokens = options.defaultOutputTokens;
  if (defaultOutputTokens !== undefined && !(defaultOutputTokens >= 0 && Number.isFinite(defaultOutputTokens))) {
    throw new TypeError(`leastCost: defaultOutputTokens must be a number >= 0, got ${String(defaultOutputTokens)}`);
  }
  const estimate = { defaultOutputTokens };
  return (candidates, input) => orderBy(candidates, costOf, estimateCallTokens(input.request, estimate), priorityOf);
}

/** Fewest calls in flight first; ties go by priority. */
export function leastBusy(): Strategy {
  return leastBusyStrategy;
}

/** Types a selector function as a {@link Strategy} (it must not mutate the candidates). */
export function custom(fn: Strategy): Strategy {
  if (typeof fn !== 'function') throw new TypeError('custom: expected a function (candidates, input) => ordered candidates');
  return fn;
}

/** True when `name` names a built-in strategy. */
export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

/**
 * A new instance of a built-in strategy by its config name. Throws a `TypeError` listing the
 * names for an unknown one. Stateful strategies (round-robin) keep their state per instance.
 */
export function strategyByName<N extends StrategyName>(name: N, options?: StrategyOptionsByName[N]): Strategy {
  if (!isStrategyName(name)) {
    throw new TypeError(`strategy: expected one of ${STRATEGY_NAMES.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(name)}`);
  }
  switch (name as StrategyName) {
    case 'priority':
      return priority(options as PriorityOptions | undefined);
    case 'round-robin':
      return roundRobin();
    case 'weighted':
      return weighted();
    case 'least-latency':
      return leastLatency(options as LeastLatencyOptions | undefined);
    case 'least-cost':
      return leastCost(options as LeastCostOptions | undefined);
    case 'least-busy':
      return leastBusy();
  }
}

// --- internals ---------------------------------------------------------------------------

type Key<C> = (runtime: TargetRuntime, context: C) => number;

const priorityOf = (r: TargetRuntime): number => r.target.priority;
// No measurement yet sorts first, so the target gets measured.
const latencyOf = (r: TargetRuntime): number => r.latencyEwma ?? -Infinity;
const ttftOf = (r: TargetRuntime): number => r.ttftEwma ?? -Infinity;
const inFlightOf = (r: TargetRuntime): number => r.inFlight;
const costOf = (r: TargetRuntime, tokens: TokenEstimate): number => priceTokens(r.target.cost, tokens) ?? Infinity;
// Exponential race: the smallest of Exp(w_i) draws is target i with probability w_i / Σw, and
// sorting by the draws gives weighted sampling without replacement (Efraimidis–Spirakis).
const raceOf = (r: TargetRuntime, random: () => number): number => {
  const u = random();
  const w = r.target.weight;
  return w > 0 ? -Math.log(1 - u) / w : Infinity;
};

const weightedStrategy: Strategy = (candidates, input) => orderBy(candidates, raceOf, input.random, priorityOf);
const leastBusyStrategy: Strategy = (candidates) => orderBy(candidates, inFlightOf, undefined, priorityOf);

const shuffledTies: Strategy = (candidates, input) => {
  const out = orderBy(candidates, priorityOf, undefined, undefined);
  let start = 0;
  for (let i = 1; i <= out.length; i++) {
    if (i < out.length && out[i]!.target.priority === out[start]!.target.priority) continue;
    // Fisher–Yates over the group [start, i).
    for (let j = i - 1; j > start; j--) {
      const k = start + Math.floor(input.random() * (j - start + 1));
      const swap = out[j]!;
      out[j] = out[k]!;
      out[k] = swap;
    }
    start = i;
  }
  return out;
};

/**
 * A new array of the candidates by `key` ascending, then `tie` ascending, then input order.
 * Each key is computed once per candidate; insertion sort, because candidate lists are short and
 * this keeps a call to two allocations (the result and its keys).
 */
function orderBy<C>(
  candidates: readonly TargetRuntime[],
  key: Key<C>,
  context: C,
  tie: ((runtime: TargetRuntime) => number) | undefined,
): TargetRuntime[] {
  const n = candidates.length;
  const out = new Array<TargetRuntime>(n);
  const keys = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const runtime = candidates[i]!;
    const k = key(runtime, context);
    const t = tie ? tie(runtime) : 0;
    let j = i;
    while (j > 0) {
      const prevKey = keys[j - 1]!;
      if (prevKey < k || (prevKey === k && (!tie || tie(out[j - 1]!) <= t))) break;
      out[j] = out[j - 1]!;
      keys[j] = prevKey;
      j--;
    }
    out[j] = runtime;
    keys[j] = k;
  }
  return out;
}

/** Whose turn it is: a sequence number per target of its last turn (-1 for never). */
function createTurns(): { of: (runtime: TargetRuntime) => number; mark: (runtime: TargetRuntime) => void } {
  let next = 0;
  // Weak, so removed targets do not stay reachable from a long-lived strategy.
  const last = new WeakMap<TargetRuntime, number>();
  return {
    of: (runtime) => last.get(runtime) ?? -1,
    mark: (runtime) => {
      last.set(runtime, next++);
    },
  };
}

import type { ChatProvider } from '../providers/provider.js';
import type { ErrorRules } from './error-rules.js';
import type { TargetRetryOptions } from './fallback-walk.js';
import { checkRetryOptions } from './walk-options.js';

/** Prices in US dollars per million tokens. */
export interface TokenPrices {
  input: number;
  output: number;
}

/** A provider plus a model, and how the router should treat it. Plain data. */
export interface TargetOptions {
  provider: ChatProvider;
  /** The provider's own model name. */
  model: string;
  /** Unique name in events, metrics and errors; default `<provider.name>/<model>`. */
  id?: string;
  /** Lower goes first with the `priority` strategy; default the position in the list. */
  priority?: number;
  /** Share of traffic with the `weighted` strategy; default 1. */
  weight?: number;
  /** Context window in tokens; a `context_length` failure only falls back to larger windows. */
  contextWindow?: number;
  cost?: TokenPrices;
  /** Default true. A request that streams skips targets that cannot. */
  supportsStream?: boolean;
  /** Default true. A request with tools skips targets that cannot. */
  supportsTools?: boolean;
  /** Free-form labels for conditional routing. */
  tags?: readonly string[];
  /** This target's own retry, over the route's (e.g. more attempts on a flaky local model). */
  retry?: TargetRetryOptions;
  /** This target's own error rules, checked before the route's. */
  errors?: ErrorRules;
}

/** A target as the router keeps it: normalized and frozen (calls never mutate targets). */
export interface Target {
  readonly id: string;
  readonly provider: ChatProvider;
  readonly model: string;
  readonly priority: number;
  readonly weight: number;
  readonly contextWindow?: number;
  readonly cost?: TokenPrices;
  readonly supportsStream: boolean;
  readonly supportsTools: boolean;
  readonly tags: readonly string[];
  readonly retry?: TargetRetryOptions;
  readonly errors?: ErrorRules;
}

/** Normalizes target options; throws a `TypeError` naming the bad field. */
export function toTarget(options: TargetOptions, index: number): Target {
  if (!options || typeof options !== 'object') throw new TypeError(`targets[${index}]: expected an object`);
  if (!options.provider || typeof options.provider.chat !== 'function') {
    throw new TypeError(`targets[${index}].provider: expected a provider (e.g. openai({...}))`);
  }
  if (typeof options.model !== 'string' || options.model === '') {
    throw new TypeError(`targets[${index}].model: expected a non-empty string`);
  }
  const weight = options.weight ?? 1;
  if (!(weight >= 0) || !Number.isFinite(weight)) throw new TypeError(`targets[${index}].weight: expected a number >= 0`);
  const priority = options.priority ?? index;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new TypeError(`targets[${index}].priority: expected a finite number, got ${String(priority)}`);
  }
  const { contextWindow, cost } = options;
  if (contextWindow !== undefined && !(typeof contextWindow === 'number' && contextWindow > 0)) {
    throw new TypeError(`targets[${index}].contextWindow: expected a number of tokens > 0, got ${String(contextWindow)}`);
  }
  if (cost !== undefined) {
    if (!cost || typeof cost !== 'object') throw new TypeError(`targets[${index}].cost: expected { input, output } in US dollars per million tokens`);
    for (const field of ['input', 'output'] as const) {
      const price = cost[field];
      if (typeof price !== 'number' || !(price >= 0) || !Number.isFinite(price)) {
        throw new TypeError(`targets[${index}].cost.${field}: expected US dollars per million tokens >= 0, got ${String(price)}`);
      }
    }
  }
  checkRetryOptions(options.retry, `targets[${index}].retry`);
  return Object.freeze({
    id: options.id ?? `${options.provider.name}/${options.model}`,
    provider: options.provider,
    model: options.model,
    priority,
    weight,
    contextWindow,
    cost: cost ? Object.freeze({ ...cost }) : undefined,
    supportsStream: options.supportsStream ?? true,
    supportsTools: options.supportsTools ?? true,
    tags: Object.freeze([...(options.tags ?? [])]),
    retry: options.retry ? Object.freeze({ ...options.retry }) : undefined,
    errors: options.errors ? Object.freeze({ ...options.errors }) : undefined,
  });
}

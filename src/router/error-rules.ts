import { DEFAULT_ERROR_ACTIONS, type CooldownRule, type ErrorKind } from '../llm/error-kind.js';
import type { LlmError } from '../llm/llm-error.js';

/** Matches an error by kind, HTTP status, message pattern, or predicate. */
export type ErrorMatcher = ErrorKind | number | RegExp | ((error: LlmError) => boolean);

/** Overrides of the default action per error kind (DESIGN.md table). The first list that matches wins. */
export interface ErrorRules {
  /** Never retried and never fallen back on: the call fails at once. */
  stopOn?: readonly ErrorMatcher[];
  /** Retried on the same target (then fallen back on). */
  retryOn?: readonly ErrorMatcher[];
  /** Not retried on the same target, but fallen back on. */
  fallbackOn?: readonly ErrorMatcher[];
  /** Fall back when an answer is refused or filtered (default: return it with its finish reason). */
  fallbackOnContentFilter?: boolean;
}

/** What the router does after a failed attempt. */
export interface ErrorAction {
  retry: boolean;
  fallback: 'yes' | 'no' | 'larger_context';
  countsForBreaker: boolean;
  cooldown: CooldownRule;
}

const matches = (error: LlmError, matcher: ErrorMatcher): boolean => {
  if (typeof matcher === 'string') return error.kind === matcher;
  if (typeof matcher === 'number') return error.status === matcher;
  if (matcher instanceof RegExp) return matcher.test(error.message);
  return matcher(error);
};

const anyMatch = (error: LlmError, list: readonly ErrorMatcher[] | undefined) =>
  list !== undefined && list.some((m) => matches(error, m));

/** Decides the action for an error: the rules' overrides first, else the kind's default. */
export function decideAction(error: LlmError, rules: ErrorRules = {}): ErrorAction {
  const base = DEFAULT_ERROR_ACTIONS[error.kind];
  // A breaker that is open (or full of probes) says nothing about the request: go to the next target.
  if (error.code === 'circuit_open') return { retry: false, fallback: 'yes', countsForBreaker: false, cooldown: 'none' };
  if (anyMatch(error, rules.stopOn)) return { ...base, retry: false, fallback: 'no' };
  if (anyMatch(error, rules.retryOn)) return { ...base, retry: true, fallback: 'yes' };
  if (anyMatch(error, rules.fallbackOn)) return { ...base, retry: false, fallback: 'yes' };
  const fallback =
    base.fallback === 'if_route_allows' ? (rules.fallbackOnContentFilter ? 'yes' : 'no') : base.fallback;
  return { retry: base.retrySameTarget, fallback, countsForBreaker: base.countsForBreaker, cooldown: base.cooldown };
}

/** A target's rules before the route's: its lists are checked first, its content-filter choice wins. */
export function mergeErrorRules(target: ErrorRules | undefined, route: ErrorRules): ErrorRules {
  if (!target) return route;
  return {
    stopOn: [...(target.stopOn ?? []), ...(route.stopOn ?? [])],
    retryOn: [...(target.retryOn ?? []), ...(route.retryOn ?? [])],
    fallbackOn: [...(target.fallbackOn ?? []), ...(route.fallbackOn ?? [])],
    fallbackOnContentFilter: target.fallbackOnContentFilter ?? route.fallbackOnContentFilter,
  };
}

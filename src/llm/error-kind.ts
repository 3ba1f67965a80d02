/**
 * The kind of an LLM failure. Every provider maps every failure to exactly one kind, and the
 * router acts on the kind (see the error-kinds table in DESIGN.md).
 */
export type ErrorKind =
  | 'rate_limit'
  | 'quota'
  | 'overloaded'
  | 'server'
  | 'timeout'
  | 'connection'
  | 'auth'
  | 'not_found'
  | 'context_length'
  | 'content_filter'
  | 'invalid_request'
  | 'aborted';

/** Every {@link ErrorKind}, in the order of the DESIGN.md table. */
export const ERROR_KINDS: readonly ErrorKind[] = Object.freeze([
  'rate_limit',
  'quota',
  'overloaded',
  'server',
  'timeout',
  'connection',
  'auth',
  'not_found',
  'context_length',
  'content_filter',
  'invalid_request',
  'aborted',
]);

/**
 * Whether the next target is tried: `yes`; `no`; `larger_context` (only targets with a larger
 * context window); `if_route_allows` (only when the route opts in).
 */
export type FallbackRule = 'yes' | 'no' | 'larger_context' | 'if_route_allows';

/**
 * What the failing target gets: `none`; `until_reset` (stay away until the provider's reset /
 * Retry-After time); `long` (a long cooldown); `disable` (off until it recovers or the config changes).
 */
export type CooldownRule = 'none' | 'until_reset' | 'long' | 'disable';

/** The default action for one {@link ErrorKind}. */
export interface ErrorKindAction {
  /** Retry on the same target (after Retry-After for `rate_limit`, after backoff otherwise). */
  readonly retrySameTarget: boolean;
  readonly fallback: FallbackRule;
  /** Counts as a failure for the target's circuit breaker. */
  readonly countsForBreaker: boolean;
  readonly cooldown: CooldownRule;
}

const action = (
  retrySameTarget: boolean,
  fallback: FallbackRule,
  countsForBreaker: boolean,
  cooldown: CooldownRule,
): ErrorKindAction => Object.freeze({ retrySameTarget, fallback, countsForBreaker, cooldown });

/** The DESIGN.md default-action table as data. Routes may override it per kind. */
export const DEFAULT_ERROR_ACTIONS: Readonly<Record<ErrorKind, ErrorKindAction>> = Object.freeze({
  rate_limit: action(true, 'yes', false, 'until_reset'),
  quota: action(false, 'yes', false, 'long'),
  overloaded: action(true, 'yes', true, 'none'),
  server: action(true, 'yes', true, 'none'),
  timeout: action(true, 'yes', true, 'none'),
  connection: action(true, 'yes', true, 'none'),
  auth: action(false, 'yes', false, 'disable'),
  not_found: action(false, 'yes', false, 'disable'),
  context_length: action(false, 'larger_context', false, 'none'),
  content_filter: action(false, 'if_route_allows', false, 'none'),
  invalid_request: action(false, 'no', false, 'none'),
  aborted: action(false, 'no', false, 'none'),
});

/** True when `value` is one of the {@link ErrorKind} strings. */
export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DEFAULT_ERROR_ACTIONS, value);
}

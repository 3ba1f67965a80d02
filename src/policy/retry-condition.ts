/** The outcome of one attempt: the error it threw, or the result it returned. Tell them apart with `'error' in outcome`. */
export type AttemptOutcome<T = unknown> = { readonly error: unknown } | { readonly result: T };

/**
 * Decides whether an attempt's outcome is retried (`true`) or final. A plain
 * `(outcome) => boolean` is a condition; the built-in ones also say which outcomes they are about.
 */
export interface RetryCondition<T = unknown> {
  (outcome: AttemptOutcome<T>): boolean;
  /**
   * `'error'`: never true for a result (so a retry can skip checking results on its fast path);
   * `'result'`: never true for an error; absent: may be true for either.
   */
  readonly on?: 'error' | 'result';
}

/** An error class, matched with `instanceof` (abstract classes included). */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/** Retries every error and no result: the default of `retry()`. */
export const retryAnyError: RetryCondition = tag('error', (outcome) => 'error' in outcome);

/** Retries the errors `predicate` accepts; never a result. */
export function retryIfError(predicate: (error: unknown) => boolean): RetryCondition {
  return tag('error', (outcome) => 'error' in outcome && predicate(outcome.error));
}

/** Retries errors that are instances of any of `types` (subclasses included). */
export function retryIfErrorType(...types: ErrorClass[]): RetryCondition {
  return tag('error', (outcome) => 'error' in outcome && isInstance(outcome.error, types));
}

/**
 * Retries errors whose message contains any of `patterns`: a string matches as a
 * case-insensitive substring (`retryIfMessage('rate limit')`), a RegExp as given.
 * Strings thrown as errors and objects with a string `message` count too.
 */
export function retryIfMessage(...patterns: Array<string | RegExp>): RetryCondition {
  const match = messageMatcher(patterns);
  return tag('error', (outcome) => 'error' in outcome && match(outcome.error));
}

/** Retries results `predicate` accepts (e.g. a reply with empty text); never an error. */
export function retryIfResult<T>(predicate: (result: T) => boolean): RetryCondition<T> {
  return tag('result', (outcome: AttemptOutcome<T>) => 'result' in outcome && predicate(outcome.result));
}

/**
 * Retries every error except those matching `matchers` (error classes, message substrings or
 * RegExps), which are never retried. Alone it means "retry all but these"; inside
 * {@link retryIfAll} it vetoes: `retryIfAll(retryIfMessage('rate limit'), stopOn(QuotaError))`.
 */
export function stopOn(...matchers: Array<ErrorClass | string | RegExp>): RetryCondition {
  const types = matchers.filter((m): m is ErrorClass => typeof m === 'function');
  const match = messageMatcher(matchers.filter((m): m is string | RegExp => typeof m !== 'function'));
  return tag('error', (outcome) => 'error' in outcome && !isInstance(outcome.error, types) && !match(outcome.error));
}

/** Retries when every condition does (`a and b`). */
export function retryIfAll<T>(...conditions: Array<RetryCondition<T>>): RetryCondition<T> {
  nonEmpty('retryIfAll', conditions);
  const on = conditions.some((c) => c.on === 'error') ? 'error' : conditions.some((c) => c.on === 'result') ? 'result' : undefined;
  return tag(on, (outcome: AttemptOutcome<T>) => {
    for (const condition of conditions) if (!condition(outcome)) return false;
    return true;
  });
}

/** Retries when any condition does (`a or b`). */
export function retryIfAny<T>(...conditions: Array<RetryCondition<T>>): RetryCondition<T> {
  nonEmpty('retryIfAny', conditions);
  const first = conditions[0]!.on;
  const on = conditions.every((c) => c.on === first) ? first : undefined;
  return tag(on, (outcome: AttemptOutcome<T>) => {
    for (const condition of conditions) if (condition(outcome)) return true;
    return false;
  });
}

/**
 * Negates a condition within the kind of outcome it is about: `retryIfNot(retryIfErrorType(AuthError))`
 * retries every error but `AuthError`, and still never a result. A plain predicate is negated as is.
 */
export function retryIfNot<T>(condition: RetryCondition<T>): RetryCondition<T> {
  const on = condition.on;
  if (on === 'error') return tag(on, (outcome: AttemptOutcome<T>) => 'error' in outcome && !condition(outcome));
  if (on === 'result') return tag(on, (outcome: AttemptOutcome<T>) => 'result' in outcome && !condition(outcome));
  return (outcome) => !condition(outcome);
}

function tag<T>(on: 'error' | 'result' | undefined, fn: (outcome: AttemptOutcome<T>) => boolean): RetryCondition<T> {
  return on === undefined ? fn : Object.assign(fn, { on });
}

function isInstance(error: unknown, types: readonly ErrorClass[]): boolean {
  for (const type of types) if (error instanceof type) return true;
  return false;
}

function messageMatcher(patterns: ReadonlyArray<string | RegExp>): (error: unknown) => boolean {
  if (patterns.length === 0) return () => false;
  const needles = patterns.filter((p): p is string => typeof p === 'string').map((p) => p.toLowerCase());
  const regexps = patterns.filter((p): p is RegExp => typeof p !== 'string');
  return (error) => {
    const message = messageOf(error);
    if (message === undefined) return false;
    if (needles.length > 0) {
      const lower = message.toLowerCase();
      for (const needle of needles) if (lower.includes(needle)) return true;
    }
    // `search` ignores `lastIndex`, so global and sticky RegExps behave the same on every call.
    for (const regexp of regexps) if (message.search(regexp) !== -1) return true;
    return false;
  };
}

function messageOf(error: unknown): string | undefined {
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}

function nonEmpty(name: string, conditions: readonly unknown[]): void {
  if (conditions.length === 0) throw new RangeError(`${name}: needs at least one condition`);
}

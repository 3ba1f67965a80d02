import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  retryAnyError,
  retryIfAll,
  retryIfAny,
  retryIfError,
  retryIfErrorType,
  retryIfMessage,
  retryIfNot,
  retryIfResult,
  stopOn,
  type AttemptOutcome,
  type RetryCondition,
} from './retry-condition.js';

class HttpError extends Error {
  constructor(readonly status: number, message = `HTTP ${status}`) {
    super(message);
  }
}
class RateLimitError extends HttpError {}
class AuthError extends Error {}
abstract class AbstractError extends Error {}
class ConcreteError extends AbstractError {}

const err = (error: unknown): AttemptOutcome<never> => ({ error });
const res = <T>(result: T): AttemptOutcome<T> => ({ result });
interface Reply {
  text: string;
}

describe('retryAnyError', () => {
  it('retries every error, even falsy ones, and no result', () => {
    expect(retryAnyError(err(new Error('x')))).toBe(true);
    expect(retryAnyError(err(undefined))).toBe(true);
    expect(retryAnyError(res('x'))).toBe(false);
    expect(retryAnyError.on).toBe('error');
  });
});

describe('retryIfErrorType', () => {
  it('matches instances and subclasses of any given class', () => {
    const cond = retryIfErrorType(HttpError, TypeError);
    expect(cond(err(new HttpError(500)))).toBe(true);
    expect(cond(err(new RateLimitError(429)))).toBe(true);
    expect(cond(err(new TypeError('t')))).toBe(true);
    expect(cond(err(new AuthError()))).toBe(false);
    expect(cond(err('a string'))).toBe(false);
  });

  it('accepts abstract classes', () => {
    expect(retryIfErrorType(AbstractError)(err(new ConcreteError()))).toBe(true);
  });

  it('never retries a result, even one that is an instance', () => {
    expect(retryIfErrorType(HttpError)(res(new HttpError(500)))).toBe(false);
  });
});

describe('retryIfError', () => {
  it('uses the predicate on errors only', () => {
    const cond = retryIfError((e) => e instanceof HttpError && e.status >= 500);
    expect(cond(err(new HttpError(503)))).toBe(true);
    expect(cond(err(new HttpError(400)))).toBe(false);
    expect(cond(res(new HttpError(503)))).toBe(false);
  });
});

describe('retryIfMessage', () => {
  it('matches a substring case-insensitively', () => {
    const cond = retryIfMessage('rate limit');
    expect(cond(err(new Error('Rate limit exceeded for gpt-4o')))).toBe(true);
    expect(cond(err(new Error('quota exhausted')))).toBe(false);
  });

  it('matches a RegExp, the same way on every call even when global', () => {
    const cond = retryIfMessage(/\b(429|5\d\d)\b/g);
    expect(cond(err(new Error('status 503')))).toBe(true);
    expect(cond(err(new Error('status 503')))).toBe(true);
    expect(cond(err(new Error('status 404')))).toBe(false);
  });

  it('reads thrown strings and objects with a message; ignores the rest', () => {
    const cond = retryIfMessage('overloaded', /timeout/);
    expect(cond(err('server overloaded'))).toBe(true);
    expect(cond(err({ message: 'read timeout' }))).toBe(true);
    expect(cond(err({ message: 42 }))).toBe(false);
    expect(cond(err(null))).toBe(false);
    expect(cond(res('overloaded'))).toBe(false);
  });
});

describe('retryIfResult', () => {
  it('retries results the predicate accepts, never errors', () => {
    const cond = retryIfResult((r: Reply) => r.text === '');
    expect(cond(res({ text: '' }))).toBe(true);
    expect(cond(res({ text: 'hi' }))).toBe(false);
    expect(cond(err({ text: '' }))).toBe(false);
    expect(cond.on).toBe('result');
  });
});

describe('stopOn', () => {
  it('alone: retries every error except the listed classes and messages, never a result', () => {
    const cond = stopOn(AuthError, 'insufficient_quota', /context.length/i);
    expect(cond(err(new HttpError(500)))).toBe(true);
    expect(cond(err(new AuthError('bad key')))).toBe(false);
    expect(cond(err(new HttpError(429, 'You exceeded your quota: insufficient_quota')))).toBe(false);
    expect(cond(err(new Error('Context length exceeded')))).toBe(false);
    expect(cond(res('x'))).toBe(false);
  });

  it('inside retryIfAll: vetoes errors another condition would retry', () => {
    const cond = retryIfAll(retryIfErrorType(HttpError), stopOn(RateLimitError));
    expect(cond(err(new HttpError(500)))).toBe(true);
    expect(cond(err(new RateLimitError(429)))).toBe(false);
  });
});

describe('retryIfAll / retryIfAny / retryIfNot', () => {
  const is5xx = retryIfError((e) => e instanceof HttpError && e.status >= 500);
  const mentionsRetry = retryIfMessage('retry');

  it('retryIfAll is a and b', () => {
    const cond = retryIfAll(is5xx, mentionsRetry);
    expect(cond(err(new HttpError(503, 'please retry')))).toBe(true);
    expect(cond(err(new HttpError(503, 'down')))).toBe(false);
    expect(cond(err(new HttpError(400, 'please retry')))).toBe(false);
  });

  it('retryIfAny is a or b, and mixes errors and results', () => {
    const cond = retryIfAny<Reply>(is5xx, retryIfResult((r: Reply) => r.text === ''));
    expect(cond(err(new HttpError(502)))).toBe(true);
    expect(cond(res({ text: '' }))).toBe(true);
    expect(cond(res({ text: 'ok' }))).toBe(false);
    expect(cond(err(new HttpError(404)))).toBe(false);
    expect(cond.on).toBeUndefined();
  });

  it('retryIfNot negates within the kind of outcome a condition is about', () => {
    const notAuth = retryIfNot(retryIfErrorType(AuthError));
    expect(notAuth(err(new HttpError(500)))).toBe(true);
    expect(notAuth(err(new AuthError()))).toBe(false);
    expect(notAuth(res('a result'))).toBe(false); // not "retry every result"
    expect(notAuth.on).toBe('error');

    const nonEmpty = retryIfNot(retryIfResult((r: Reply) => r.text === ''));
    expect(nonEmpty(res({ text: 'x' }))).toBe(true);
    expect(nonEmpty(res({ text: '' }))).toBe(false);
    expect(nonEmpty(err(new Error()))).toBe(false);
  });

  it('retryIfNot negates a plain predicate as is', () => {
    const plain: RetryCondition = (o) => 'result' in o;
    const negated = retryIfNot(plain);
    expect(negated(res(1))).toBe(false);
    expect(negated(err(1))).toBe(true);
  });

  it('say which outcomes they are about', () => {
    expect(retryIfAll(is5xx, mentionsRetry).on).toBe('error');
    expect(retryIfAny(is5xx, mentionsRetry).on).toBe('error');
    expect(retryIfAll(is5xx, (o: AttemptOutcome) => 'error' in o).on).toBe('error');
    expect(retryIfAny(is5xx, (o: AttemptOutcome) => 'error' in o).on).toBeUndefined();
    expect(retryIfAny(retryIfResult(() => true), retryIfResult(() => false)).on).toBe('result');
  });

  it('need at least one condition', () => {
    expect(() => retryIfAll()).toThrow(RangeError);
    expect(() => retryIfAny()).toThrow(RangeError);
  });

  it('are typed by the result they inspect', () => {
    expectTypeOf(retryIfResult((r: Reply) => r.text === '')).toEqualTypeOf<RetryCondition<Reply>>();
    expectTypeOf(retryIfAny(is5xx, retryIfResult((r: Reply) => r.text === ''))).toEqualTypeOf<RetryCondition<Reply>>();
  });
});

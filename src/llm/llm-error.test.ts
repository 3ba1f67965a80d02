import { describe, expect, it } from 'vitest';
import { LlmError, isLlmError } from './llm-error.js';

describe('LlmError', () => {
  it('carries every field it was given', () => {
    const cause = new Error('root');
    const error = new LlmError({
      kind: 'rate_limit',
      message: 'openai HTTP 429: slow down',
      status: 429,
      provider: 'openai',
      model: 'gpt-4o',
      retryAfterMs: 644,
      code: 'rate_limit_exceeded',
      type: 'tokens',
      requestId: 'req_1',
      rateLimit: { retryAfterMs: 644 },
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('LlmError');
    expect(error).toMatchObject({
      kind: 'rate_limit',
      status: 429,
      provider: 'openai',
      model: 'gpt-4o',
      retryAfterMs: 644,
      code: 'rate_limit_exceeded',
      type: 'tokens',
      requestId: 'req_1',
      rateLimit: { retryAfterMs: 644 },
    });
    expect(error.cause).toBe(cause);
  });

  it('has no own properties for fields it was not given', () => {
    const error = new LlmError({ kind: 'server', message: 'x' });
    for (const key of ['status', 'provider', 'model', 'retryAfterMs', 'code', 'type', 'requestId', 'rateLimit', 'cause']) {
      expect(Object.prototype.hasOwnProperty.call(error, key), key).toBe(false);
    }
  });

  it('drops a retryAfterMs that is negative or not finite', () => {
    expect(new LlmError({ kind: 'rate_limit', message: 'x', retryAfterMs: -1 }).retryAfterMs).toBeUndefined();
    expect(new LlmError({ kind: 'rate_limit', message: 'x', retryAfterMs: NaN }).retryAfterMs).toBeUndefined();
    expect(new LlmError({ kind: 'rate_limit', message: 'x', retryAfterMs: 0 }).retryAfterMs).toBe(0);
  });

  it('never puts a secret in its message', () => {
    const error = new LlmError({
      kind: 'auth',
      message: 'Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx. Authorization: Bearer sk-live-123456789',
    });
    expect(error.message).not.toContain('AbCdEfGh');
    expect(error.message).not.toContain('123456789');
    expect(String(error)).toContain('sk-proj-***');
  });

  it('says whether the default action retries the same target', () => {
    expect(new LlmError({ kind: 'overloaded', message: 'x' }).retryable).toBe(true);
    expect(new LlmError({ kind: 'quota', message: 'x' }).retryable).toBe(false);
  });

  it('serialises to a plain summary without cause or stack', () => {
    const error = new LlmError({ kind: 'quota', message: 'no money', status: 429, cause: new Error('secret stuff') });
    expect(JSON.parse(JSON.stringify(error))).toEqual({ name: 'LlmError', kind: 'quota', message: 'no money', status: 429 });
  });

  it('is recognised by brand, across copies of the class, and by kind', () => {
    const error = new LlmError({ kind: 'timeout', message: 'x' });
    expect(isLlmError(error)).toBe(true);
    expect(isLlmError(error, 'timeout')).toBe(true);
    expect(isLlmError(error, 'server')).toBe(false);
    const foreign = Object.assign(new Error('y'), { [Symbol.for('ballast.llm-error')]: true, kind: 'server' });
    expect(isLlmError(foreign, 'server')).toBe(true);
    expect(isLlmError(new Error('z'))).toBe(false);
    expect(isLlmError(null)).toBe(false);
    expect(isLlmError({ kind: 'server' })).toBe(false);
  });
});

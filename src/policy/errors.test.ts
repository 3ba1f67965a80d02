import { describe, expect, it } from 'vitest';
import type {
  PolicyError} from './errors.js';
import {
  AllAttemptsFailedError,
  BrokenCircuitError,
  BulkheadRejectedError,
  IsolatedCircuitError,
  RateLimitedError,
  TimeoutError,
  isPolicyError,
} from './errors.js';

describe('policy errors', () => {
  it('are branded with their code', () => {
    const cases: Array<[PolicyError, string]> = [
      [new BrokenCircuitError(1500), 'circuit_open'],
      [new IsolatedCircuitError(), 'circuit_isolated'],
      [new TimeoutError('attempt', 10), 'timeout'],
      [new BulkheadRejectedError(2, 0), 'bulkhead_full'],
      [new RateLimitedError(20), 'rate_limited'],
      [new AllAttemptsFailedError([new Error('a')]), 'all_attempts_failed'],
    ];
    for (const [error, code] of cases) {
      expect(isPolicyError(error)).toBe(true);
      expect(error.code).toBe(code);
      expect(isPolicyError(error, 'timeout')).toBe(code === 'timeout');
      expect(error).toBeInstanceOf(Error);
    }
  });

  it('recognises the brand across copies of the class', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('ballast.policy-error')]: true, code: 'timeout' });
    expect(isPolicyError(foreign, 'timeout')).toBe(true);
    expect(isPolicyError(new Error('plain'))).toBe(false);
    expect(isPolicyError(null)).toBe(false);
    expect(isPolicyError('timeout')).toBe(false);
  });

  it('say what happened', () => {
    expect(new BrokenCircuitError(1499.6).message).toContain('1500ms');
    expect(new TimeoutError('deadline', 60_000).message).toBe('deadline of 60000ms exceeded');
    const all = new AllAttemptsFailedError([new Error('first'), 'second']);
    expect(all.message).toBe('all 2 attempts failed: #1 first; #2 second');
    expect(all.cause).toBe('second');
  });
});

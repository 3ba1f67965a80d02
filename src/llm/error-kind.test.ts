import { describe, expect, it } from 'vitest';
import { DEFAULT_ERROR_ACTIONS, ERROR_KINDS, isErrorKind, type ErrorKind, type ErrorKindAction } from './error-kind.js';

describe('error kinds', () => {
  it('lists every kind of the DESIGN.md table once', () => {
    expect(new Set(ERROR_KINDS).size).toBe(12);
    expect(Object.keys(DEFAULT_ERROR_ACTIONS).sort()).toEqual([...ERROR_KINDS].sort());
  });

  it('encodes the DESIGN.md default actions row by row', () => {
    const row = (
      retrySameTarget: boolean,
      fallback: ErrorKindAction['fallback'],
      countsForBreaker: boolean,
      cooldown: ErrorKindAction['cooldown'],
    ): ErrorKindAction => ({ retrySameTarget, fallback, countsForBreaker, cooldown });
    const expected: Record<ErrorKind, ErrorKindAction> = {
      rate_limit: row(true, 'yes', false, 'until_reset'),
      quota: row(false, 'yes', false, 'long'),
      overloaded: row(true, 'yes', true, 'none'),
      server: row(true, 'yes', true, 'none'),
      timeout: row(true, 'yes', true, 'none'),
      connection: row(true, 'yes', true, 'none'),
      auth: row(false, 'yes', false, 'disable'),
      not_found: row(false, 'yes', false, 'disable'),
      context_length: row(false, 'larger_context', false, 'none'),
      content_filter: row(false, 'if_route_allows', false, 'none'),
      invalid_request: row(false, 'no', false, 'none'),
      aborted: row(false, 'no', false, 'none'),
    };
    expect(DEFAULT_ERROR_ACTIONS).toEqual(expected);
  });

  it('is frozen, so no caller can change the defaults for everyone', () => {
    expect(Object.isFrozen(DEFAULT_ERROR_ACTIONS)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ERROR_ACTIONS.quota)).toBe(true);
    expect(Object.isFrozen(ERROR_KINDS)).toBe(true);
  });

  it('recognises kind strings and nothing else', () => {
    expect(isErrorKind('quota')).toBe(true);
    expect(isErrorKind('aborted')).toBe(true);
    expect(isErrorKind('toString')).toBe(false);
    expect(isErrorKind('Quota')).toBe(false);
    expect(isErrorKind(429)).toBe(false);
    expect(isErrorKind(undefined)).toBe(false);
  });
});

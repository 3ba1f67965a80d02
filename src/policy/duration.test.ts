import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toMs, toMsOptional } from './duration.js';

describe('toMs', () => {
  it('passes numbers through', () => {
    expect(toMs(250)).toBe(250);
    expect(toMs(0)).toBe(0);
    expect(toMs(Infinity)).toBe(Infinity);
  });

  it.each([
    ['250ms', 250],
    ['20s', 20_000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h2m3s4ms', 3_723_004],
    [' 5s ', 5000],
  ])('parses %s', (text, ms) => {
    expect(toMs(text)).toBe(ms);
  });

  it.each(['', 'abc', '10', '5 s', '-5s', '1x', 's'])('rejects %j with a TypeError naming it', (text) => {
    expect(() => toMs(text)).toThrow(TypeError);
    expect(() => toMs(text)).toThrow(JSON.stringify(text));
  });

  it('rejects negative and NaN numbers', () => {
    expect(() => toMs(-1)).toThrow(/negative/);
    expect(() => toMs(Number.NaN)).toThrow(TypeError);
  });

  it('rejects what is neither a number nor a string with a TypeError, not a crash', () => {
    expect(() => toMs(undefined as never)).toThrow(new TypeError('invalid duration: undefined (expected milliseconds or a string such as "20s")'));
    expect(() => toMs({} as never)).toThrow(TypeError);
  });

  it('keeps undefined in toMsOptional', () => {
    expect(toMsOptional(undefined)).toBeUndefined();
    expect(toMsOptional('1s')).toBe(1000);
  });

  it('sums random unit parts', () => {
    const unit = fc.constantFrom(['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), unit), { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
        const expected = parts.reduce((sum, [n, [, f]]) => sum + n * f, 0);
        expect(toMs(text)).toBe(expected);
      }),
    );
  });
});

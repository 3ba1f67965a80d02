import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cooldownMs,
  headerGetter,
  parseGoDuration,
  parseRateLimitHeaders,
  parseResetValue,
  parseRetryAfter,
  type RateLimitInfo,
} from './rate-limit-headers.js';

const NOW = Date.parse('2025-08-21T12:40:00Z');

describe('parseGoDuration', () => {
  it('parses the reset values OpenAI sends', () => {
    expect(parseGoDuration('12ms')).toBe(12);
    expect(parseGoDuration('9ms')).toBe(9);
    expect(parseGoDuration('1s')).toBe(1000);
    expect(parseGoDuration('6m0s')).toBe(360_000);
    expect(parseGoDuration('1h2m3s')).toBe(3_723_000);
    expect(parseGoDuration('20ms')).toBe(20);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('2m59.56s')).toBeCloseTo(179_560, 6);
  });

  it('accepts the rest of Go’s grammar: 0, sub-millisecond units, signs, bare fractions', () => {
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('+0')).toBe(0);
    expect(parseGoDuration('1500us')).toBeCloseTo(1.5, 9);
    expect(parseGoDuration('1500µs')).toBeCloseTo(1.5, 9);
    expect(parseGoDuration('1500μs')).toBeCloseTo(1.5, 9);
    expect(parseGoDuration('2000000ns')).toBeCloseTo(2, 9);
    expect(parseGoDuration('.5s')).toBe(500);
    expect(parseGoDuration('+1s')).toBe(1000);
    expect(parseGoDuration(' 1s ')).toBe(1000);
  });

  it('rejects anything that is not a whole Go duration', () => {
    for (const bad of ['', '-1s', '-1', '1', '1 s', 's', '1x', '1s junk', '1S', 'NaN', 'Infinity', '1e3s', '..5s', '1.2.3s']) {
      expect(parseGoDuration(bad), bad).toBeUndefined();
    }
  });

  it('gives the sum of any duration built from random parts (property)', () => {
    const unit = fc.constantFrom(['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1], ['us', 1e-3], ['ns', 1e-6]);
    const part = fc.tuple(fc.nat({ max: 100_000 }), fc.option(fc.nat({ max: 999 }), { nil: undefined }), unit);
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        let text = '';
        let expected = 0;
        for (const [whole, frac, [u, ms]] of parts) {
          const n = frac === undefined ? `${whole}` : `${whole}.${frac}`;
          text += `${n}${u}`;
          expected += Number(n) * ms;
        }
        const got = parseGoDuration(text);
        expect(got).toBeDefined();
        expect(Math.abs(got! - expected)).toBeLessThanOrEqual(Math.max(1e-6, expected * 1e-12));
      }),
    );
  });

  it('never throws and never gives NaN or a negative on junk (property)', () => {
    const junk = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom(...'0123456789.+-hmsunµμ '.split('')) }),
    );
    fc.assert(
      fc.property(junk, (text) => {
        const got = parseGoDuration(text);
        if (got !== undefined) {
          expect(Number.isFinite(got)).toBe(true);
          expect(got).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds, including fractions', () => {
    expect(parseRetryAfter('20', NOW)).toBe(20_000);
    expect(parseRetryAfter('0.5', NOW)).toBe(500);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('reads an HTTP date relative to the injected now', () => {
    expect(parseRetryAfter('Thu, 21 Aug 2025 12:40:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Thu, 21 Aug 2025 12:39:00 GMT', NOW)).toBe(0);
  });

  it('ignores negatives and junk', () => {
    for (const bad of ['-1', 'soon', '', '1e3', '12abc', 'Thu, 99 Foo 2025 12:40:30 GMT']) {
      expect(parseRetryAfter(bad, NOW), bad).toBeUndefined();
    }
  });
});

describe('parseResetValue', () => {
  it('reads Go durations, RFC 3339 times, seconds and Unix timestamps', () => {
    expect(parseResetValue('6m0s', NOW)).toBe(360_000);
    expect(parseResetValue('2025-08-21T12:40:59Z', NOW)).toBe(59_000);
    expect(parseResetValue('2025-08-21T14:40:59+02:00', NOW)).toBe(59_000);
    expect(parseResetValue('2', NOW)).toBe(2000);
    expect(parseResetValue(String(NOW / 1000 + 7), NOW)).toBe(7000);
    expect(parseResetValue(String(NOW + 7), NOW)).toBe(7);
    expect(parseResetValue('2025-08-21T12:00:00Z', NOW)).toBe(0);
  });

  it('tolerates Azure’s -1 and junk', () => {
    expect(parseResetValue('-1', NOW)).toBeUndefined();
    expect(parseResetValue('later', NOW)).toBeUndefined();
    expect(parseResetValue('0', NOW)).toBe(0);
  });
});

describe('parseRateLimitHeaders', () => {
  it('reads OpenAI’s x-ratelimit-* headers from a fetch Headers', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-remaining-tokens': '149984',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(parseRateLimitHeaders(headers, NOW)).toEqual({
      requests: { limit: 60, remaining: 59, resetMs: 1000 },
      tokens: { limit: 150000, remaining: 149984, resetMs: 360_000 },
    });
  });

  it('prefers retry-after-ms over retry-after', () => {
    expect(parseRateLimitHeaders({ 'retry-after-ms': '644', 'retry-after': '1' }, NOW)).toEqual({ retryAfterMs: 644 });
    expect(parseRateLimitHeaders({ 'retry-after': '7' }, NOW)).toEqual({ retryAfterMs: 7000 });
    expect(parseRateLimitHeaders({ 'retry-after-ms': 'junk', 'retry-after': '7' }, NOW)).toEqual({ retryAfterMs: 7000 });
    expect(parseRateLimitHeaders({ 'retry-after': 'Thu, 21 Aug 2025 12:40:10 GMT' }, NOW)).toEqual({ retryAfterMs: 10_000 });
  });

  it('reads Anthropic’s anthropic-ratelimit-* headers (RFC 3339 resets) from a plain record, any case', () => {
    const headers = {
      'retry-after': '12',
      'Anthropic-Ratelimit-Requests-Limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2025-08-21T12:40:12Z',
      'anthropic-ratelimit-tokens-limit': '100000',
      'anthropic-ratelimit-tokens-remaining': '99000',
      'anthropic-ratelimit-tokens-reset': '2025-08-21T12:40:01Z',
      'anthropic-ratelimit-input-tokens-limit': '80000',
      'anthropic-ratelimit-input-tokens-remaining': '80000',
      'anthropic-ratelimit-input-tokens-reset': '2025-08-21T12:40:00Z',
      'anthropic-ratelimit-output-tokens-limit': '16000',
      'anthropic-ratelimit-output-tokens-remaining': '15000',
      'anthropic-ratelimit-output-tokens-reset': '2025-08-21T12:40:02.500Z',
    };
    expect(parseRateLimitHeaders(headers, NOW)).toEqual({
      retryAfterMs: 12_000,
      requests: { limit: 50, remaining: 0, resetMs: 12_000 },
      tokens: { limit: 100000, remaining: 99000, resetMs: 1000 },
      inputTokens: { limit: 80000, remaining: 80000, resetMs: 0 },
      outputTokens: { limit: 16000, remaining: 15000, resetMs: 2500 },
    });
  });

  it('accepts Node’s IncomingHttpHeaders shape (arrays, undefined)', () => {
    expect(
      parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': ['3', '4'], 'x-ratelimit-limit-requests': undefined }, NOW),
    ).toEqual({ requests: { remaining: 3 } });
  });

  it('reads the tokens_usage_based variant when plain token headers are absent', () => {
    expect(
      parseRateLimitHeaders(
        { 'x-ratelimit-remaining-tokens_usage_based': '0', 'x-ratelimit-reset-tokens_usage_based': '20ms' },
        NOW,
      ),
    ).toEqual({ tokens: { remaining: 0, resetMs: 20 } });
  });

  it('tolerates Azure’s -1 / 0 values', () => {
    const info = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': '0',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '-1',
        'x-ratelimit-remaining-tokens': '-1',
      },
      NOW,
    );
    expect(info).toEqual({ requests: { limit: 0, remaining: 0 } });
    expect(cooldownMs(info)).toBeUndefined();
  });

  it('returns undefined when there is nothing usable', () => {
    expect(parseRateLimitHeaders(new Headers({ 'content-type': 'application/json' }), NOW)).toBeUndefined();
    expect(parseRateLimitHeaders({ 'retry-after': 'soon', 'x-ratelimit-reset-tokens': 'eventually' }, NOW)).toBeUndefined();
  });

  it('never throws and never yields NaN on random header values (property)', () => {
    const names = [
      'retry-after',
      'retry-after-ms',
      'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-tokens',
      'x-ratelimit-reset-requests',
      'x-ratelimit-reset-tokens',
      'anthropic-ratelimit-tokens-reset',
      'anthropic-ratelimit-output-tokens-remaining',
    ];
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom(...'0123456789.-+:TZ hmsGMT,'.split('')) }),
      fc.double().map(String),
      fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toUTCString())),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), value), fc.integer({ min: 0, max: 4e12 }), (headers, now) => {
        const info = parseRateLimitHeaders(headers, now);
        const numbers: number[] = [];
        const walk = (v: unknown) => {
          if (typeof v === 'number') numbers.push(v);
          else if (v && typeof v === 'object') Object.values(v).forEach(walk);
        };
        walk(info);
        for (const n of numbers) {
          expect(Number.isFinite(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(0);
        }
        const cd = cooldownMs(info);
        if (cd !== undefined) expect(Number.isFinite(cd)).toBe(true);
      }),
    );
  });
});

describe('cooldownMs', () => {
  it('is the Retry-After when there is one', () => {
    expect(cooldownMs({ retryAfterMs: 500, requests: { remaining: 0, resetMs: 9000 } })).toBe(500);
  });

  it('is otherwise the longest reset among exhausted buckets', () => {
    const info: RateLimitInfo = {
      requests: { limit: 60, remaining: 0, resetMs: 1000 },
      tokens: { limit: 1000, remaining: 0, resetMs: 360_000 },
      inputTokens: { remaining: 10, resetMs: 999_999 },
    };
    expect(cooldownMs(info)).toBe(360_000);
  });

  it('is undefined when nothing is exhausted', () => {
    expect(cooldownMs({ requests: { remaining: 1, resetMs: 1000 } })).toBeUndefined();
    expect(cooldownMs({ requests: { remaining: 0 } })).toBeUndefined();
    // Azure's zeros: a bucket with limit 0 is "no information", not exhausted.
    expect(cooldownMs({ requests: { limit: 0, remaining: 0, resetMs: 1000 } })).toBeUndefined();
    expect(cooldownMs(undefined)).toBeUndefined();
  });
});

describe('headerGetter', () => {
  it('reads either shape case-insensitively', () => {
    expect(headerGetter(new Headers({ 'X-Request-Id': 'req_1' }))('x-request-id')).toBe('req_1');
    expect(headerGetter({ 'Request-Id': 'req_2' })('request-id')).toBe('req_2');
    expect(headerGetter({})('request-id')).toBeUndefined();
  });
});

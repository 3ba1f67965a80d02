import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRateWindow } from './simulated-rate-window.js';

describe('createRateWindow', () => {
  it('admits up to the request limit per sliding minute and says when the next call fits', () => {
    const w = createRateWindow({ requestsPerMinute: 2 });
    expect(w.admit(0, 1)).toEqual({ ok: true, info: { requests: { limit: 2, remaining: 1, resetMs: 60_000 } } });
    expect(w.admit(15_000, 1)).toEqual({ ok: true, info: { requests: { limit: 2, remaining: 0, resetMs: 45_000 } } });
    expect(w.admit(20_000, 1)).toEqual({
      ok: false,
      bucket: 'requests',
      retryAfterMs: 40_000,
      tooLarge: false,
      info: { retryAfterMs: 40_000, requests: { limit: 2, remaining: 0, resetMs: 40_000 } },
    });
    expect(w.admit(59_999, 1).ok).toBe(false);
    expect(w.admit(60_000, 1).ok).toBe(true);
    w.clear();
    expect(w.admit(60_001, 1).ok).toBe(true);
  });

  it('frees enough tokens for the call, oldest first, and marks a call above the limit as too large', () => {
    const w = createRateWindow({ tokensPerMinute: 100 });
    w.admit(0, 40);
    w.admit(10_000, 40);
    w.admit(20_000, 20);
    // 50 tokens need the first two calls to leave: at 70 s.
    const r = w.admit(30_000, 50);
    expect(r).toMatchObject({ ok: false, bucket: 'tokens', retryAfterMs: 40_000, tooLarge: false });
    expect(w.admit(30_000, 101)).toMatchObject({ ok: false, tooLarge: true, bucket: 'tokens' });
    expect(w.admit(70_000, 50)).toMatchObject({ ok: true, info: { tokens: { limit: 100, remaining: 30 } } });
  });

  it('never admits more than the limits in any minute, and a call retried after retryAfterMs fits (not 1 ms before)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 10, max: 100 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 30_000 }), cost: fc.integer({ min: 1, max: 10 }) }), { maxLength: 60 }),
        (rpm, tpm, calls) => {
          const w = createRateWindow({ requestsPerMinute: rpm, tokensPerMinute: tpm });
          const admitted: Array<{ at: number; cost: number }> = [];
          let now = 0;
          for (const { gap, cost } of calls) {
            now += gap;
            const r = w.admit(now, cost);
            if (r.ok) {
              admitted.push({ at: now, cost });
              continue;
            }
            expect(r.retryAfterMs).toBeGreaterThan(0);
            // Probe on a copy of the history: 1 ms early fails, on time fits.
            const probe = createRateWindow({ requestsPerMinute: rpm, tokensPerMinute: tpm });
            for (const a of admitted) probe.admit(a.at, a.cost);
            if (r.retryAfterMs > 1) expect(probe.admit(now + r.retryAfterMs - 1, cost).ok).toBe(false);
            expect(probe.admit(now + r.retryAfterMs, cost).ok).toBe(true);
          }
          for (const a of admitted) {
            const inWindow = admitted.filter((b) => b.at <= a.at && b.at > a.at - 60_000);
            expect(inWindow.length).toBeLessThanOrEqual(rpm);
            expect(inWindow.reduce((sum, b) => sum + b.cost, 0)).toBeLessThanOrEqual(tpm);
          }
        },
      ),
    );
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => createRateWindow({ requestsPerMinute: 0 })).toThrow('rateLimit.requestsPerMinute');
    expect(() => createRateWindow({ tokensPerMinute: 1.5 })).toThrow('rateLimit.tokensPerMinute');
  });
});

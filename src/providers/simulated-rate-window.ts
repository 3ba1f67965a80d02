import type { RateLimitBucket, RateLimitInfo } from '../llm/rate-limit-headers.js';

/** A simulated provider's rate limits, per sliding minute on its clock. */
export interface RateLimitSpec {
  /** Calls admitted per minute. */
  requestsPerMinute?: number;
  /** Tokens (input + output of each admitted call) per minute. */
  tokensPerMinute?: number;
}

/** The answer of {@link RateWindow.admit}. */
export type RateWindowResult =
  | { ok: true; info: RateLimitInfo }
  | {
      ok: false;
      info: RateLimitInfo;
      /** Which limit turned the call away (`tokens` when both did and tokens free later). */
      bucket: 'requests' | 'tokens';
      /** Milliseconds until the call would fit (whole ms, rounded up). */
      retryAfterMs: number;
      /** The call alone needs more tokens than the per-minute limit: it can never fit. */
      tooLarge: boolean;
    };

/** A sliding-window limiter on a clock, reporting what a provider's rate-limit headers report. */
export interface RateWindow {
  /** Admits a call costing `tokens` at time `now` (and counts it), or says how long to wait. */
  admit(now: number, tokens: number): RateWindowResult;
  /** Forgets every admitted call. */
  clear(): void;
}

const WINDOW_MS = 60_000;

function checkLimit(value: number | undefined, what: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new TypeError(`${what}: expected an integer >= 1, got ${JSON.stringify(value)}`);
  }
}

/**
 * Creates a {@link RateWindow}. A call counts from its admission for one minute; turned-away calls
 * do not count. The reported `resetMs` of a bucket is the time until its oldest counted call
 * leaves the window (when the next unit frees), and `remaining` counts the call just admitted.
 */
export function createRateWindow(spec: RateLimitSpec, what = 'rateLimit', windowMs = WINDOW_MS): RateWindow {
  checkLimit(spec.requestsPerMinute, `${what}.requestsPerMinute`);
  checkLimit(spec.tokensPerMinute, `${what}.tokensPerMinute`);
  const rpm = spec.requestsPerMinute;
  const tpm = spec.tokensPerMinute;
  // Admission times and costs in arrival order; `head` skips the expired ones without shifting.
  let times: number[] = [];
  let costs: number[] = [];
  let head = 0;
  let used = 0;

  const prune = (now: number) => {
    while (head < times.length && times[head]! + windowMs <= now) used -= costs[head++]!;
    if (head > 1024 && head * 2 > times.length) {
      times = times.slice(head);
      costs = costs.slice(head);
      head = 0;
    }
  };

  const info = (now: number): RateLimitInfo => {
    const count = times.length - head;
    const resetMs = count === 0 ? 0 : times[head]! + windowMs - now;
    const out: RateLimitInfo = {};
    if (rpm !== undefined) out.requests = { limit: rpm, remaining: Math.max(0, rpm - count), resetMs } satisfies RateLimitBucket;
    if (tpm !== undefined) out.tokens = { limit: tpm, remaining: Math.max(0, tpm - used), resetMs } satisfies RateLimitBucket;
    return out;
  };

  return {
    admit(now, tokens) {
      prune(now);
      const count = times.length - head;
      let requestWait = 0;
      if (rpm !== undefined && count + 1 > rpm) requestWait = times[head + count - rpm]! + windowMs - now;
      let tokenWait = 0;
      const tooLarge = tpm !== undefined && tokens > tpm;
      if (tpm !== undefined && !tooLarge && used + tokens > tpm) {
        let freed = 0;
        let i = head;
        while (used - freed + tokens > tpm) freed += costs[i++]!;
        tokenWait = times[i - 1]! + windowMs - now;
      }
      if (requestWait <= 0 && tokenWait <= 0 && !tooLarge) {
        times.push(now);
        costs.push(tokens);
        used += tokens;
        return { ok: true, info: info(now) };
      }
      const retryAfterMs = Math.ceil(Math.max(requestWait, tokenWait));
      const rejected = info(now);
      if (!tooLarge) rejected.retryAfterMs = retryAfterMs;
      return {
        ok: false,
        info: rejected,
        bucket: tooLarge || tokenWait > requestWait ? 'tokens' : 'requests',
        retryAfterMs,
        tooLarge,
      };
    },
    clear() {
      times = [];
      costs = [];
      head = 0;
      used = 0;
    },
  };
}

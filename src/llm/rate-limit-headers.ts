/** One rate-limit bucket (requests, tokens, …) as reported by a provider's headers. */
export interface RateLimitBucket {
  /** The bucket's size. */
  limit?: number;
  /** What is left in the current window. */
  remaining?: number;
  /** Milliseconds from the response until the bucket refills. */
  resetMs?: number;
}

/** Rate-limit information read from a response's headers (all times relative to the response). */
export interface RateLimitInfo {
  /** From `retry-after-ms` or `retry-after` (seconds or HTTP date). */
  retryAfterMs?: number;
  requests?: RateLimitBucket;
  /** Total tokens (OpenAI's `*-tokens`, Anthropic's `anthropic-ratelimit-tokens-*`). */
  tokens?: RateLimitBucket;
  /** Anthropic's input-token bucket. */
  inputTokens?: RateLimitBucket;
  /** Anthropic's output-token bucket. */
  outputTokens?: RateLimitBucket;
}

/** Response headers: a fetch `Headers` (or any case-insensitive `get` / `has`), or a plain record such as Node's `IncomingHttpHeaders`. */
export type HeadersLike =
  | Headers
  | { get(name: string): string | null; has(name: string): boolean }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

const GO_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;

/**
 * Parses a Go `time.Duration` string (`6m0s`, `1h2m3s`, `20ms`, `1.5s`, `0`) into milliseconds.
 * A sign is accepted as Go does, but a negative result is returned as `undefined` (no wait is
 * negative). Returns `undefined` for anything that is not a whole Go duration; never throws.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  GO_PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  let match: RegExpExecArray | null;
  while ((match = GO_PART.exec(s)) !== null) {
    total += Number(match[1]) * GO_UNIT_MS[match[2]!]!;
    end = GO_PART.lastIndex;
  }
  if (end !== s.length || !Number.isFinite(total)) return undefined;
  if (sign < 0 && total > 0) return undefined;
  return total;
}

const PLAIN_NUMBER = /^\d+(?:\.\d+)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const HTTP_DATE = /^[A-Za-z]{3},? .*\d{2}:\d{2}:\d{2} GMT$/;

function parseNonNegative(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!PLAIN_NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function untilDate(text: string, now: number): number | undefined {
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * Parses `Retry-After`: delay-seconds (fractions accepted) or an HTTP date, as milliseconds from
 * `now`. A date in the past gives 0. Malformed or negative values give `undefined`.
 */
export function parseRetryAfter(value: string, now: number = Date.now()): number | undefined {
  const text = value.trim();
  const seconds = parseNonNegative(text);
  if (seconds !== undefined) return finiteOrUndefined(seconds * 1000);
  if (HTTP_DATE.test(text) || RFC3339.test(text)) return untilDate(text, now);
  return undefined;
}

/**
 * Parses a reset header into milliseconds from `now`: a Go duration (OpenAI: `6m0s`, `20ms`), an
 * RFC 3339 time (Anthropic: `2025-08-21T12:40:59Z`), or a bare number. Bare numbers are seconds,
 * except values of 10⁹ and above, which can only be Unix timestamps (in seconds, or in ms from
 * 10¹²; some OpenAI-compatible servers send those). Negative values (Azure's `-1`) and junk give
 * `undefined`.
 */
export function parseResetValue(value: string, now: number = Date.now()): number | undefined {
  const text = value.trim();
  const go = parseGoDuration(text);
  if (go !== undefined) return go;
  const n = parseNonNegative(text);
  if (n !== undefined) {
    if (n >= 1e12) return Math.max(0, n - now);
    if (n >= 1e9) return Math.max(0, n * 1000 - now);
    return n * 1000;
  }
  if (RFC3339.test(text) || HTTP_DATE.test(text)) return untilDate(text, now);
  return undefined;
}

function finiteOrUndefined(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A case-insensitive getter over either headers shape; for repeated headers in a plain record,
 * the first value.
 */
export function headerGetter(headers: HeadersLike): (name: string) => string | undefined {
  if (typeof (headers as Headers).get === 'function' && typeof (headers as Headers).has === 'function') {
    const h = headers as Headers;
    return (name) => h.get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [key, raw] of Object.entries(headers as Record<string, unknown>)) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value === 'string') lower.set(key.toLowerCase(), value);
  }
  return (name) => lower.get(name);
}

function bucket(
  get: (name: string) => string | undefined,
  names: { limit: string; remaining: string; reset: string },
  now: number,
): RateLimitBucket | undefined {
  const out: RateLimitBucket = {};
  const limit = parseNonNegative(get(names.limit));
  const remaining = parseNonNegative(get(names.remaining));
  const resetText = get(names.reset);
  const resetMs = resetText === undefined ? undefined : parseResetValue(resetText, now);
  if (limit !== undefined) out.limit = limit;
  if (remaining !== undefined) out.remaining = remaining;
  if (resetMs !== undefined) out.resetMs = resetMs;
  return limit === undefined && remaining === undefined && resetMs === undefined ? undefined : out;
}

const openaiNames = (suffix: string) => ({
  limit: `x-ratelimit-limit-${suffix}`,
  remaining: `x-ratelimit-remaining-${suffix}`,
  reset: `x-ratelimit-reset-${suffix}`,
});
const anthropicNames = (name: string) => ({
  limit: `anthropic-ratelimit-${name}-limit`,
  remaining: `anthropic-ratelimit-${name}-remaining`,
  reset: `anthropic-ratelimit-${name}-reset`,
});

/**
 * Reads rate-limit headers: `retry-after-ms`, `retry-after`, `x-ratelimit-{limit,remaining,reset}-
 * {requests,tokens}` (also the `tokens_usage_based` variant) and `anthropic-ratelimit-{requests,
 * tokens,input-tokens,output-tokens}-{limit,remaining,reset}`. `now` (epoch ms) anchors absolute
 * times. Malformed values are skipped; returns `undefined` when nothing usable was found. Never throws.
 */
export function parseRateLimitHeaders(headers: HeadersLike, now: number = Date.now()): RateLimitInfo | undefined {
  const get = headerGetter(headers);
  const info: RateLimitInfo = {};

  const retryAfterMsText = get('retry-after-ms');
  const retryAfterMs = parseNonNegative(retryAfterMsText);
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  else {
    const retryAfter = get('retry-after');
    const ms = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, now);
    if (ms !== undefined) info.retryAfterMs = ms;
  }

  const requests =
    bucket(get, openaiNames('requests'), now) ?? bucket(get, anthropicNames('requests'), now);
  const tokens =
    bucket(get, openaiNames('tokens'), now) ??
    bucket(get, openaiNames('tokens_usage_based'), now) ??
    bucket(get, anthropicNames('tokens'), now);
  const inputTokens = bucket(get, anthropicNames('input-tokens'), now);
  const outputTokens = bucket(get, anthropicNames('output-tokens'), now);
  if (requests) info.requests = requests;
  if (tokens) info.tokens = tokens;
  if (inputTokens) info.inputTokens = inputTokens;
  if (outputTokens) info.outputTokens = outputTokens;

  return Object.keys(info).length === 0 ? undefined : info;
}

/**
 * How long to stay away from a target, in ms: the Retry-After value when there is one, else the
 * longest reset among exhausted buckets (`remaining` 0). A bucket whose `limit` is 0 is treated
 * as "no information" rather than exhausted (Azure sends zeros). `undefined` when nothing says wait.
 */
export function cooldownMs(info: RateLimitInfo | undefined): number | undefined {
  if (!info) return undefined;
  if (info.retryAfterMs !== undefined) return info.retryAfterMs;
  let longest: number | undefined;
  for (const b of [info.requests, info.tokens, info.inputTokens, info.outputTokens]) {
    if (b && b.remaining === 0 && b.limit !== 0 && b.resetMs !== undefined) {
      longest = longest === undefined ? b.resetMs : Math.max(longest, b.resetMs);
    }
  }
  return longest;
}

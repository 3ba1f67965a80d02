/** A duration in milliseconds, or a string such as `'250ms'`, `'20s'`, `'1m30s'`, `'2h'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/**
 * Converts a {@link Duration} to milliseconds. Numbers pass through; strings are sums of
 * `<number><unit>` parts (units ms, s, m, h, d). Throws a `TypeError` naming the bad value.
 */
export function toMs(duration: Duration): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) && duration !== Infinity) throw new TypeError(`invalid duration: ${duration}`);
    if (duration < 0) throw new TypeError(`invalid duration: ${duration} (negative)`);
    return duration;
  }
  if (typeof duration !== 'string') {
    throw new TypeError(`invalid duration: ${String(duration)} (expected milliseconds or a string such as "20s")`);
  }
  const text = duration.trim();
  if (!WHOLE.test(text)) {
    throw new TypeError(`invalid duration: ${JSON.stringify(duration)} (expected e.g. "250ms", "20s", "1m30s")`);
  }
  let total = 0;
  for (const match of text.matchAll(PART)) total += Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
  return total;
}

/** Like {@link toMs}, but `undefined` stays `undefined`. */
export function toMsOptional(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : toMs(duration);
}

import { toMs } from '../policy/duration.js';
import type { GatewayConfig } from './config-schema.js';
import { DEFAULT_UPSTREAM_TIMEOUTS } from './undici-transport.js';
const MARGIN_MS = 60_000;

/**
 * The pooled transport's safety-net timers for a config: its defaults, or longer than the longest
 * timeout any route sets (plus a minute), so that they only ever catch what no route's own
 * timeouts would, and never cut a wait a route allows.
 */
export function upstreamTimeouts(config: GatewayConfig): { headersMs: number; bodyMs: number } {
  let longest = 0;
  for (const route of Object.values(config.routes)) {
    const t = route.timeouts ?? {};
    for (const value of [t.total, t.attempt, t.firstToken, t.idle]) if (value !== undefined) longest = Math.max(longest, toMs(value));
  }
  const floor = longest > 0 ? longest + MARGIN_MS : 0;
  return { headersMs: Math.max(DEFAULT_UPSTREAM_TIMEOUTS.headersMs, floor), bodyMs: Math.max(DEFAULT_UPSTREAM_TIMEOUTS.bodyMs, floor) };
}

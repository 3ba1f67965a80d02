import { describe, expect, it } from 'vitest';
import { validateConfig } from './config-load.js';
import type { GatewayConfigInput } from './config-schema.js';
import { DEFAULT_UPSTREAM_TIMEOUTS } from './undici-transport.js';
import { upstreamTimeouts } from './upstream-timeouts.js';

const config = (routes: GatewayConfigInput['routes']) => {
  const loaded = validateConfig({ providers: { p: { type: 'simulated' } }, routes });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.config;
};

describe('upstreamTimeouts', () => {
  it('keeps the defaults when no route asks for longer', () => {
    expect(upstreamTimeouts(config({ r: { targets: [{ provider: 'p', model: 'm' }], timeouts: { idle: '15s', total: '60s' } } }))).toEqual(DEFAULT_UPSTREAM_TIMEOUTS);
  });

  it('never cuts a wait a route allows: longer than its longest timeout, by a minute', () => {
    const limits = upstreamTimeouts(
      config({
        quick: { targets: [{ provider: 'p', model: 'm' }] },
        reasoning: { targets: [{ provider: 'p', model: 'm' }], timeouts: { attempt: '15m', idle: '8m' } },
      }),
    );
    expect(limits).toEqual({ headersMs: 16 * 60_000, bodyMs: 16 * 60_000 });
  });
});

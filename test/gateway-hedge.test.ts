// A hedged route behind the gateway, on a virtual clock: the hedge that wins is named in
// `x-ballast-target`, and the lane it beat is an attempt but no fallback.
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { createVirtualClock, type VirtualClock } from '../src/policy/virtual-clock.js';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(clock: VirtualClock): Promise<string> {
  const loaded = validateConfig({
    server: { port: 0 },
    providers: {
      slow: { type: 'simulated', latency: '5s', firstToken: '5s' },
      fast: { type: 'simulated', latency: '10ms', firstToken: '10ms' },
    },
    routes: {
      hedged: {
        targets: [
          { provider: 'slow', model: 'm' },
          { provider: 'fast', model: 'm' },
        ],
        hedge: { delay: '100ms' },
      },
    },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, clock, logger: createLogger({ level: 'silent', write: () => {} }) });
  return (await gateway.listen()).url;
}

/** Sends the request and moves virtual time on until its whole answer is in. */
async function send(clock: VirtualClock, url: string, stream: boolean): Promise<{ headers: Headers; text: string }> {
  const pending = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'hedged', stream, messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (response) => ({ headers: response.headers, text: await response.text() }));
  let result: { headers: Headers; text: string } | undefined;
  void pending.then((r) => (result = r));
  for (let i = 0; i < 200 && !result; i++) await clock.advance(25);
  expect(result).toBeDefined();
  return result!;
}

describe('gateway: hedged routes', () => {
  it.each([false, true])('the winning hedge is the target; the lane it beat counts as an attempt, not a fallback (stream: %s)', async (stream) => {
    const clock = createVirtualClock(0);
    const url = await start(clock);
    const { headers, text } = await send(clock, url, stream);
    expect(headers.get('x-ballast-target')).toBe('fast/m');
    expect(headers.get('x-ballast-attempts')).toBe('2');
    expect(headers.get('x-ballast-fallbacks')).toBe('0');
    expect(text).toContain(stream ? '[DONE]' : 'chat.completion');
  });
});

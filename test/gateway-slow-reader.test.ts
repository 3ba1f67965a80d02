// A client that stops reading a stream holds the upstream back (back-pressure), but not for ever:
// after the route's stream idle time (or at its total deadline) the gateway closes the connection
// and stops the upstream. On a virtual clock; the sockets are real.
import { createServer, request, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { createVirtualClock, type VirtualClock } from '../src/policy/virtual-clock.js';

const frame = (content: string) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const PIECE = 'y'.repeat(64 * 1024);

let upstream: Server | undefined;
let gateway: Gateway | undefined;
let client: ClientRequest | undefined;
afterEach(async () => {
  client?.destroy();
  await gateway?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  upstream = gateway = client = undefined;
});

/** An upstream that streams without end, as fast as it is read; `state` says whether it is held back and whether its client left. */
async function start(clock: VirtualClock, timeouts: Record<string, string>, hugeFrame = false) {
  const state = { waiting: false, closed: false, progress: 0 };
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.on('close', () => (state.closed = true));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (hugeFrame) {
        // One frame the gateway writes to its client in one piece; the rest a moment later, when
        // the gateway is waiting for that piece to drain.
        res.write(frame('z'.repeat(15 * 1024 * 1024)));
        setTimeout(() => res.end(`${frame('tail')}data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`), 20);
        return;
      }
      while (!res.destroyed) {
        state.progress++;
        if (!res.write(frame(PIECE))) {
          state.waiting = true;
          await new Promise((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
          state.waiting = false;
        }
      }
    });
  });
  await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const loaded = validateConfig({
    server: { port: 0 },
    providers: { up: { type: 'openai', baseURL: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`, apiKey: 'sk-test-key-000000' } },
    routes: { chat: { targets: [{ provider: 'up', model: 'm' }], timeouts } },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, clock, logger: createLogger({ level: 'silent', write: () => {} }) });
  return { state, url: (await gateway.listen()).url };
}

/** Resolves once the upstream has been held back for `turns` event-loop turns in a row. */
async function heldBack(state: { waiting: boolean; progress: number }, turns = 100): Promise<void> {
  let seen = state.progress;
  for (let quiet = 0; quiet < turns; ) {
    await new Promise((resolve) => setImmediate(resolve));
    if (state.waiting && state.progress === seen) quiet++;
    else [quiet, seen] = [0, state.progress];
  }
}

/** Opens a stream and reads nothing unless told: `readSome()` takes one piece of what has arrived. */
function stalledClient(url: string): { readSome(): string } {
  let response: IncomingMessage | undefined;
  client = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    res.pause();
    res.on('error', () => {});
    response = res;
  });
  client.on('error', () => {});
  client.end(JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  return {
    readSome() {
      const part = response?.read(64 * 1024) as Buffer | null | undefined;
      return part ? part.toString('latin1') : '';
    },
  };
}

/** Client connections the gateway holds open. (A client that reads nothing learns of the close only when it reads.) */
const connections = () => new Promise<number>((resolve) => gateway!.server.getConnections((_error, count) => resolve(count)));

/** Moves virtual time on by `ms` in small steps, letting real I/O run in between. */
async function advance(clock: VirtualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    await clock.advance(100);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('gateway: a client that stops reading a stream', () => {
  it('a client that reads a huge frame slowly gets all of it', async () => {
    const clock = createVirtualClock(0);
    const { url } = await start(clock, { idle: '2s' }, true);
    const reader = stalledClient(url);
    // About a megabyte a second of virtual time: the 15 MB frame takes far longer than the 2 s idle time.
    let text = '';
    // Virtual time stands still until the frame has crossed the upstream hop (the router's own
    // idle timer runs meanwhile) and the gateway has begun writing it.
    for (let turn = 0; turn < 100_000 && !text.includes('zzzz'); turn++) {
      text += reader.readSome();
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let second = 0; second < 60 && !text.endsWith('data: [DONE]\n\n'); second++) {
      for (let i = 0; i < 16; i++) {
        text += reader.readSome();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await advance(clock, 1000);
    }
    expect(text.length).toBeGreaterThan(15 * 1024 * 1024);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it.each([
    ['the stream idle time', { idle: '2s' }, 2000],
    ['the total deadline', { total: '3s', idle: '1h' }, 3000],
  ])('is cut after %s, and the upstream is stopped', async (_what, timeouts, limitMs) => {
    const clock = createVirtualClock(0);
    const { state, url } = await start(clock, timeouts);
    stalledClient(url);
    await heldBack(state);
    await advance(clock, limitMs - 500);
    expect([gateway!.inFlight, await connections(), state.closed]).toEqual([1, 1, false]);
    await advance(clock, 1000);
    await expect.poll(() => state.closed).toBe(true);
    await expect.poll(() => gateway!.inFlight).toBe(0);
    await expect.poll(connections).toBe(0);
  });
});

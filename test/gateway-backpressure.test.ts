// A client that stops reading must stop the gateway reading from the upstream (back-pressure all
// the way), and a slow client that fills the gateway's socket, which drains while the upstream is
// quiet, must still get the rest of the stream (no lost 'drain').
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';

const BIG = 'x'.repeat(4 * 1024 * 1024);
let upstream: Server;
let gateway: Gateway;
let url: string;
let sentBig: () => void;
const bigSent = new Promise<void>((resolve) => (sentBig = resolve));
let openGate: () => void;
const gate = new Promise<void>((resolve) => (openGate = resolve));

const frame = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

/** Far more than the socket buffers between upstream, gateway and client hold (about 8 MB here). */
const FLOOD_FRAMES = 400;
const PIECE = 'y'.repeat(64 * 1024);
/** What the flooding upstream has done: frames written, whether it waits for 'drain', how often it made progress. */
const flood = { frames: 0, waiting: false, progress: 0, done: false };

/** Writes FLOOD_FRAMES frames as fast as the gateway takes them, waiting for 'drain' whenever a write is refused. */
async function floodStream(res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(frame({ role: 'assistant', content: '' }));
  for (let i = 0; i < FLOOD_FRAMES; i++) {
    flood.frames++;
    flood.progress++;
    if (!res.write(frame({ content: PIECE }))) {
      flood.waiting = true;
      await new Promise((resolve) => res.once('drain', resolve));
      flood.waiting = false;
      flood.progress++;
    }
  }
  flood.done = true;
  res.end(`${frame({}, 'stop')}data: [DONE]\n\n`);
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (part: Buffer) => (body += part.toString()));
    req.on('end', () => {
      if (body.includes('flood')) return void floodStream(res);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame({ role: 'assistant', content: '' }));
      res.write(frame({ content: BIG }), () => sentBig());
      void gate.then(() => res.end(`${frame({ content: 'tail' })}${frame({}, 'stop')}data: [DONE]\n\n`));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const loaded = validateConfig({
    server: { port: 0 },
    providers: { up: { type: 'openai', baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test-key-000000' } },
    routes: { chat: { targets: [{ provider: 'up', model: 'm' }] } },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'silent' }) });
  url = (await gateway.listen()).url;
});

afterAll(async () => {
  openGate();
  await gateway?.close();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

it('a client that stalls and catches up while the upstream is quiet still gets the rest and [DONE]', async () => {
  const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.pause(); // the socket fills: the gateway's write of the big frame returns false
      const parts: Buffer[] = [];
      let received = 0;
      void bigSent.then(() => {
        res.on('data', (part: Buffer) => {
          parts.push(part);
          received += part.length;
          // Caught up with the big frame while the upstream waits: now let it finish.
          if (received > BIG.length) openGate();
        });
        res.resume();
      });
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  expect(text).toContain('"content":"tail"');
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
});

/** Resolves after `turns` turns of the event loop in a row in which the upstream made no progress. */
async function upstreamStuck(turns: number): Promise<void> {
  let seen = flood.progress;
  for (let quiet = 0; quiet < turns; ) {
    await new Promise((resolve) => setImmediate(resolve));
    if (flood.done) return;
    if (flood.waiting && flood.progress === seen) quiet++;
    else {
      quiet = 0;
      seen = flood.progress;
    }
  }
}

it('a client that reads nothing holds the upstream back; once it reads, it gets the whole stream', async () => {
  const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'flood' }] });
  let heldAt: { frames: number; done: boolean } | undefined;
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.pause(); // reads nothing: the gateway's socket fills, then the gateway must stop reading the upstream
      const parts: Buffer[] = [];
      // The upstream waits for a 'drain' that does not come, for turn after turn of the event loop
      // (a gateway that kept reading would let it write on every turn, and soon finish).
      void upstreamStuck(200).then(() => {
        heldAt = { frames: flood.frames, done: flood.done };
        res.on('data', (part: Buffer) => parts.push(part));
        res.resume();
      });
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  expect(heldAt).toBeDefined();
  expect(heldAt!.done).toBe(false);
  expect(heldAt!.frames).toBeLessThan(FLOOD_FRAMES / 2);
  // Then every frame arrives, in order and whole.
  expect(flood.done).toBe(true);
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  const contents = text
    .split('\n\n')
    .filter((f) => f.startsWith('data: {'))
    .map((f) => (JSON.parse(f.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '');
  expect(contents.filter((c) => c !== '')).toEqual(Array.from({ length: FLOOD_FRAMES }, () => PIECE));
});

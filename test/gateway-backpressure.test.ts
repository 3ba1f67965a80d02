// A slow client fills the gateway's socket; the socket drains while the upstream is quiet; the
// upstream then goes on. The rest of the stream must still reach the client (no lost 'drain').
import { createServer, request, type Server } from 'node:http';
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

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
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

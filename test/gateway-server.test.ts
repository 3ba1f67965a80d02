// The gateway's own endpoints and lifecycle: /status, /healthz, /v1/models/{id}, request ids, CORS,
// the seam for extra endpoints (dashboard, /metrics), and graceful shutdown.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import type { GatewayConfigInput } from '../src/gateway/config-schema.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../src/mock/openai-mock.js';

let gateway: Gateway | undefined;
let mock: OpenAiMock | undefined;
afterEach(async () => {
  await gateway?.close();
  await mock?.close();
  gateway = undefined;
  mock = undefined;
});

async function start(replies: OpenAiMockReply[], server: GatewayConfigInput['server'] = {}, routes?: GatewayConfigInput['routes']): Promise<string> {
  mock = await startOpenAiMock({ replies, whenExhausted: 'repeat-last' });
  const loaded = validateConfig({
    server: { port: 0, ...server },
    providers: { oai: { type: 'openai', baseURL: mock.url }, sim: { type: 'simulated' } },
    routes: routes ?? {
      chat: {
        targets: [
          { provider: 'oai', model: 'gpt-4o' },
          { provider: 'sim', model: 'backup' },
        ],
        retry: { attempts: 1 },
        breaker: { consecutive: 1, openFor: '1m' },
      },
    },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'silent' }) });
  return (await gateway.listen()).url;
}

const chat = (url: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });

describe('endpoints', () => {
  it('/status shows routes, targets, breaker states and cooldowns', async () => {
    const url = await start([{ type: 'error', kind: 'server' }]);
    const answer = await chat(url);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-ballast-target')).toBe('sim/backup');
    const status = (await (await fetch(`${url}/status`)).json()) as {
      demo: boolean;
      routes: Array<{ name: string; strategy: string; targets: Array<Record<string, unknown>> }>;
    };
    expect(status.demo).toBe(false);
    expect(status.routes.map((r) => [r.name, r.strategy])).toEqual([['chat', 'priority']]);
    const [openai, backup] = status.routes[0]!.targets;
    expect(openai).toMatchObject({ id: 'oai/gpt-4o', provider: 'oai', type: 'openai', model: 'gpt-4o', available: false, breaker: { state: 'open' } });
    expect(openai!.unavailable).toMatchObject({ reason: 'breaker_open' });
    expect(backup).toMatchObject({ id: 'sim/backup', type: 'simulated', available: true, breaker: { state: 'closed' }, cooldown: null });
  });

  it('/status lists a cooldown after a 429', async () => {
    const url = await start([{ type: 'error', kind: 'rate_limit', retryAfter: 40 }]);
    expect((await chat(url)).status).toBe(200);
    const status = (await (await fetch(`${url}/status`)).json()) as { routes: Array<{ targets: Array<{ cooldown: { reason: string; remainingMs: number } | null }> }> };
    const cooldown = status.routes[0]!.targets[0]!.cooldown!;
    expect(cooldown.reason).toBe('rate_limit');
    expect(cooldown.remainingMs).toBeGreaterThan(30_000);
  });

  it('/healthz, /v1/models/{id} and the request id', async () => {
    const url = await start([{ type: 'text', text: 'ok' }]);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${url}/v1/models/chat`)).json()).toMatchObject({ id: 'chat', object: 'model' });
    expect(await (await fetch(`${url}/v1/models/oai%2Fgpt-4o`)).json()).toMatchObject({ id: 'oai/gpt-4o' });
    expect((await fetch(`${url}/v1/models/nope`)).status).toBe(404);
    const answer = await chat(url, {}, { 'x-request-id': 'trace-123' });
    expect(answer.headers.get('x-request-id')).toBe('trace-123');
    const generated = await chat(url, {}, { 'x-request-id': 'bad id with spaces' });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('read-only endpoints take GET and HEAD only; the in-flight count is chat completions only', async () => {
    const url = await start([{ type: 'text', text: 'ok' }]);
    for (const path of ['/healthz', '/status', '/v1/models']) {
      const head = await fetch(`${url}${path}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const post = await fetch(`${url}${path}`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      expect(((await post.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
    expect((await fetch(`${url}/status`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${url}/metrics`, { method: 'HEAD' })).status).toBe(200);
    // The scrape itself is not a request in flight, nor is /status.
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^ballast_gateway_in_flight_requests 0$/m);
    expect(((await (await fetch(`${url}/status`)).json()) as { inFlight: number }).inFlight).toBe(0);
  });

  it('a bare model name served by exactly one provider reaches its target', async () => {
    const url = await start([{ type: 'text', text: 'from openai' }]);
    const answer = await chat(url, { model: 'backup' });
    expect(answer.headers.get('x-ballast-target')).toBe('sim/backup');
    const direct = await chat(url, { model: 'gpt-4o' });
    expect(direct.headers.get('x-ballast-target')).toBe('oai/gpt-4o');
  });

  it('CORS: preflight answered and headers exposed when configured; none otherwise', async () => {
    const url = await start([{ type: 'text', text: 'ok' }], { cors: { origins: ['https://app.example'] } });
    const preflight = await fetch(`${url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const answer = await chat(url, {}, { origin: 'https://app.example' });
    expect(answer.headers.get('access-control-expose-headers')).toContain('x-ballast-target');
    const stranger = await chat(url, {}, { origin: 'https://evil.example' });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('backpressure', () => {
  it('a slow reader gets the whole long stream (the gateway waits for the socket to drain)', async () => {
    // More than the kernel's socket buffers hold (net.ipv4.tcp_wmem tops out at 4 MB by default),
    // from an HTTP upstream, so the frames reach the gateway over many reads (a simulated provider
    // with no delays answers in one turn of the event loop, and the gateway writes that in one go).
    const reply = 'abcdefghij'.repeat(1_000_000);
    const url = await start([{ type: 'text', text: reply, chunks: 10_000 }]);
    // Watch the gateway's writes to this client. A write made while the previous ones are still
    // waiting for the socket (`writableNeedDrain`) is a write into a full socket; a gateway that
    // waits for 'drain' makes at most one (the frame it already held) before each drain.
    let intoFull = 0;
    let mostIntoFull = 0;
    let full!: () => void;
    const socketFull = new Promise<void>((resolve) => (full = resolve));
    gateway!.server.once('request', (_req: IncomingMessage, res: ServerResponse) => {
      const write = res.write.bind(res) as (chunk: string) => boolean;
      res.on('drain', () => (intoFull = 0));
      // Should the kernel ever take the whole stream, the test fails below instead of waiting for ever.
      res.on('finish', full);
      res.write = ((chunk: string) => {
        if (res.writableNeedDrain) {
          mostIntoFull = Math.max(mostIntoFull, ++intoFull);
          full();
        }
        return write(chunk);
      }) as ServerResponse['write'];
    });
    // A client that reads nothing (its socket paused) until the gateway has run into a full socket,
    // then a few turns of the event loop in which upstream data waits and nothing can drain.
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.pause();
        const parts: Buffer[] = [];
        void socketFull
          .then(async () => {
            for (let i = 0; i < 20; i++) await new Promise((next) => setImmediate(next));
            expect(mostIntoFull).toBe(1);
            res.on('data', (part: Buffer) => parts.push(part));
            res.resume();
          })
          .catch((error: unknown) => {
            req.destroy();
            reject(error);
          });
        res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    });
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    let text = '';
    for (const frame of body.split('\n\n')) {
      if (frame === '' || frame === 'data: [DONE]') continue;
      const chunk = JSON.parse(frame.slice(6)) as { choices: Array<{ delta: { content?: string } }> };
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text.length).toBe(reply.length);
    expect(text === reply).toBe(true);
    // Nor later: the gateway never pulled from the upstream while the client was behind.
    expect(mostIntoFull).toBe(1);
  });
});

describe('the seam for extra endpoints', () => {
  it('handle() adds exact endpoints, use() takes what nothing else did; both behind auth unless told', async () => {
    const url = await start([{ type: 'text', text: 'ok' }], { tokens: ['seam-token-123456'] });
    const g = gateway!;
    g.handle('GET', '/metrics', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`routes ${[...g.routers().keys()].join(',')}\n`);
    });
    g.use((req, res) => {
      if (req.url !== '/custom') return false;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<h1>dashboard</h1>');
      return true;
    }, { auth: false });
    const auth = { authorization: 'Bearer seam-token-123456' };
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect(await (await fetch(`${url}/metrics`, { headers: auth })).text()).toBe('routes chat\n');
    expect(await (await fetch(`${url}/custom`)).text()).toBe('<h1>dashboard</h1>');
    expect((await fetch(`${url}/elsewhere`)).status).toBe(404);
    expect(g.routers().get('chat')).toBe(g.route('chat')!.router);
  });

  it('on() sees router decisions and requests', async () => {
    const url = await start([{ type: 'error', kind: 'server' }]);
    const seen: string[] = [];
    gateway!.on((e) => seen.push(e.type === 'router' ? `router:${e.event.type}` : e.type));
    await chat(url);
    expect(seen).toEqual(expect.arrayContaining(['router:attempt', 'router:fallback', 'router:breaker', 'router:success', 'request']));
  });
});

describe('graceful shutdown', () => {
  it('stops accepting, lets an in-flight stream finish, then closes', async () => {
    const url = await start([{ type: 'text', text: 'one two three four five six seven eight', chunkDelayMs: 40 }], { shutdownGrace: '5s' });
    const response = await chat(url, { stream: true });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const closed = gateway!.close();
    // Read the rest while the gateway drains.
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await closed;
    expect(text).toContain('"content":"eight"');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    await expect(chat(url)).rejects.toThrow();
  });

  it('a probe still reaching it while it drains (pipelined behind a stream) hears draining from /healthz', async () => {
    const url = await start([{ type: 'text', text: 'one two three four five six', chunkDelayMs: 40 }], { shutdownGrace: '5s' });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (part: Buffer) => (received += part.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await expect.poll(() => received.includes('data: ')).toBe(true);
    const closed = gateway!.close();
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await closed;
    await ended;
    expect(received).toContain('data: [DONE]');
    expect(received).toMatch(/HTTP\/1\.1 503 Service Unavailable[\s\S]*\{"status":"draining"\}/);
  });

  it('after the grace period, stops what still runs: a stream ends with a shutting_down frame, a waiting call gets a 503, the upstream sees both go', async () => {
    const url = await start([{ type: 'stall-after', text: 'never ending' }], { shutdownGrace: '150ms' });
    const logs: string[] = [];
    gateway!.on((event) => {
      if (event.type === 'request') logs.push(`${event.status} ${event.error ?? ''}`);
    });
    const streamed = await chat(url, { stream: true });
    const reader = streamed.body!.getReader();
    await reader.read();
    const waiting = chat(url);
    await expect.poll(() => mock!.requests.length).toBe(2);
    await gateway!.close();
    await expect.poll(() => mock!.requests.every((r) => r.disconnected)).toBe(true);
    // The stream: an error frame the SDKs raise (not a silent cut, never [DONE]).
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain('"code":"shutting_down"');
    expect(rest).not.toContain('[DONE]');
    // The call still waiting for its upstream: a 503 it can retry elsewhere.
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
    // Logged as the gateway's doing, not as clients that went away.
    expect(logs.sort()).toEqual(['200 shutting_down', '503 shutting_down']);
  });
});

describe('structured logs', () => {
  it('access lines: info for answers, warn for a stream that broke after its 200, debug for the polled endpoints unless refused', async () => {
    mock = await startOpenAiMock({ replies: [{ type: 'text', text: 'fine' }, { type: 'cut-after', text: 'half of it' }] });
    const loaded = validateConfig({
      server: { port: 0, tokens: ['log-t0ken-123456'] },
      providers: { oai: { type: 'openai', baseURL: mock.url } },
      routes: { chat: { targets: [{ provider: 'oai', model: 'gpt-4o' }], retry: { attempts: 1 } } },
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const lines: string[] = [];
    gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) });
    const url = (await gateway.listen()).url;
    const auth = { authorization: 'Bearer log-t0ken-123456' };
    await (await chat(url, {}, auth)).text();
    await (await chat(url, { stream: true }, auth)).text();
    await (await fetch(`${url}/dashboard/data`, { headers: auth })).text();
    await (await fetch(`${url}/healthz`)).text();
    // Someone guessing tokens stays in sight.
    await (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer guess' } })).text();
    const access = lines
      .map((line) => JSON.parse(line) as { level: string; msg: string; path: string; status: number; error?: string })
      .filter((entry) => entry.msg === 'request')
      .map((entry) => `${entry.level} ${entry.path} ${entry.status}${entry.error ? ` ${entry.error}` : ''}`);
    expect(access).toEqual([
      'info /v1/chat/completions 200',
      'warn /v1/chat/completions 200 connection',
      'debug /dashboard/data 200',
      'debug /healthz 200',
      'info /metrics 401',
    ]);
  });

  it('one JSON object per line; known secrets and key-shaped strings masked', () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line), secrets: ['my-client-token-xyz', 'short'] });
    logger.info('request', { note: 'token my-client-token-xyz and key sk-proj-ABCDEFGHIJKLMNOP and "quoted\\"my-client-token-xyz"' });
    logger.debug('hidden at info');
    logger.warn('short words stay');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const first = JSON.parse(lines[0]!) as Record<string, string>;
    expect(first).toMatchObject({ level: 'info', msg: 'request' });
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(lines[0]).not.toContain('my-client-token-xyz');
    expect(lines[0]).not.toContain('ABCDEFGHIJKLMNOP');
    expect(JSON.parse(lines[1]!).msg).toBe('short words stay');
  });
});

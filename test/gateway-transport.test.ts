// The gateway's pooled undici transport: what providers rely on (aborts, cuts, reuse).
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { undiciTransport } from '../src/gateway/undici-transport.js';
import { classifyThrown } from '../src/llm/classify.js';
import { startMockServer, type MockReply, type MockServer } from '../src/mock/mock-server.js';
import { bodyText } from './support/provider-test.js';

let server: MockServer;
const pool = undiciTransport();

beforeAll(async () => {
  server = await startMockServer((request): MockReply => {
    if (request.path === '/stall') return { headers: { 'content-type': 'text/event-stream' }, frames: [{ write: 'data: 1\n\n' }, { stall: true }] };
    if (request.path === '/cut') return { headers: { 'content-type': 'text/event-stream' }, frames: [{ write: 'data: 1\n\n' }, { cut: true }] };
    if (request.path === '/slow') return { delayMs: 2000, json: { late: true } };
    return { status: 201, headers: { 'x-ratelimit-remaining-requests': '9' }, json: { echo: request.json, auth: request.headers.authorization } };
  });
});
afterAll(async () => {
  await pool.close();
  await server.close();
});

const send = (path: string, signal = new AbortController().signal) =>
  pool.transport({ url: `${server.url}${path}`, method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' }, body: '{"a":1}', signal });

describe('undiciTransport', () => {
  it('sends the body and headers, returns status, headers and text', async () => {
    const response = await send('/echo');
    expect(response.status).toBe(201);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(JSON.parse(await bodyText(response))).toEqual({ echo: { a: 1 }, auth: 'Bearer k' });
  });

  it('an abort before the headers rejects with the reason, and the server sees it', async () => {
    const controller = new AbortController();
    const pending = send('/slow', controller.signal);
    await expect.poll(() => server.requests.some((r) => r.path === '/slow')).toBe(true);
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const recorded = server.requests.find((r) => r.path === '/slow')!;
    await recorded.disconnect;
    expect(recorded.disconnected).toBe(true);
  });

  it('an abort mid-body ends the body with the reason and drops the connection', async () => {
    const controller = new AbortController();
    const response = await send('/stall', controller.signal);
    const reader = response.body[Symbol.asyncIterator]();
    expect(Buffer.from((await reader.next()).value as Uint8Array).toString()).toBe('data: 1\n\n');
    const next = reader.next();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    const recorded = server.requests.filter((r) => r.path === '/stall').at(-1)!;
    await recorded.disconnect;
  });

  it('a connection cut mid-body is an error, never a clean end', async () => {
    const response = await send('/cut');
    const read = (async () => {
      for await (const _chunk of response.body) void _chunk;
    })();
    await expect(read).rejects.toThrow();
  });

  it('a body can be read once only', async () => {
    const response = await send('/echo');
    await bodyText(response);
    await expect(bodyText(response)).rejects.toThrow(/already read/);
  });
});

describe('undiciTransport safety-net timers', () => {
  // Real timers of undici's own, so they are set short here; in use they are minutes long.
  const quick = undiciTransport({ headersTimeoutMs: 50, bodyTimeoutMs: 50 });
  afterAll(() => quick.close());
  const sendQuick = (path: string) =>
    quick.transport({ url: `${server.url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: new AbortController().signal });

  it('no response headers in time: an attempt timeout, so the router retries or falls back', async () => {
    const error = await sendQuick('/slow').then(() => undefined, (e: unknown) => e);
    const classified = classifyThrown(error, { provider: 'p', model: 'm' });
    expect(classified.kind).toBe('timeout');
    expect(classified.code).toBe('attempt_timeout');
  });

  it('setTimeouts changes the timers for the requests that follow (the gateway follows its routes)', async () => {
    const pool2 = undiciTransport();
    pool2.setTimeouts({ headersMs: 50, bodyMs: 50 });
    const error = await pool2
      .transport({ url: `${server.url}/slow`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: new AbortController().signal })
      .then(() => undefined, (e: unknown) => e);
    expect(classifyThrown(error, { provider: 'p', model: 'm' }).code).toBe('attempt_timeout');
    await pool2.close();
  });

  it('a body silent for too long: an idle timeout', async () => {
    const response = await sendQuick('/stall');
    const reader = response.body[Symbol.asyncIterator]();
    await reader.next();
    const error = await reader.next().then(() => undefined, (e: unknown) => e);
    const classified = classifyThrown(error, { provider: 'p', model: 'm' });
    expect(classified.kind).toBe('timeout');
    expect(classified.code).toBe('idle_timeout');
  });
});

describe('undiciTransport headers', () => {
  it('reads headers by any case, joins repeated ones, and says what is absent', async () => {
    const response = await send('/echo');
    await bodyText(response);
    expect(response.headers.get('X-RateLimit-Remaining-Requests')).toBe('9');
    expect(response.headers.has('x-ratelimit-remaining-requests')).toBe(true);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(response.headers.has('Retry-After')).toBe(false);
  });
});

describe('undiciTransport connection reuse and release', () => {
  it('a reader that stops at its terminal event keeps the connection, even after a long body', async () => {
    let connections = 0;
    const upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // 100 KB before the terminal event, then only the chunked terminator is left unread.
      res.end(`data: ${'y'.repeat(100_000)}\n\ndata: [DONE]\n\n`);
    });
    upstream.on('connection', () => connections++);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const own = undiciTransport({ connections: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await own.transport({ url: `http://127.0.0.1:${port}/s`, method: 'POST', headers: {}, body: '{}', signal: new AbortController().signal });
        let text = '';
        for await (const chunk of response.body) {
          text += Buffer.from(chunk).toString();
          if (text.includes('data: [DONE]')) break;
        }
      }
      expect(connections).toBe(1);
    } finally {
      await own.close();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });

  it('a body that never ends after the reader stopped does not pin the connection or hold up close()', async () => {
    const upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: [DONE]\n\n'); // and never the chunked terminator
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const own = undiciTransport({ connections: 1, drainMs: 20 });
    try {
      const ask = async () => {
        const response = await own.transport({ url: `http://127.0.0.1:${port}/s`, method: 'POST', headers: {}, body: '{}', signal: new AbortController().signal });
        for await (const chunk of response.body) if (Buffer.from(chunk).toString().includes('[DONE]')) break;
      };
      await ask();
      // With one connection, a second request gets through only if the first one's was let go.
      await ask();
    } finally {
      await own.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

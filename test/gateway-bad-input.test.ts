// Bad input from clients and from upstreams: each gets its clear answer, and the gateway keeps serving.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../src/mock/openai-mock.js';

const TOKEN = 'bad-input-suite-token-123';
const UPSTREAM_KEY = 'sk-bad-input-upstream-0123456789';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const hello = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

let mock: OpenAiMock;
let gateway: Gateway;
let base: string;
let replies: OpenAiMockReply[] = [];
const logs: string[] = [];

beforeAll(async () => {
  mock = await startOpenAiMock({ apiKey: UPSTREAM_KEY, replies: () => replies.shift() ?? { type: 'text', text: 'all good' } });
  const loaded = validateConfig({
    server: { port: 0, tokens: [TOKEN], bodyLimit: '64kb', timeouts: { headers: '300ms', request: '2s' }, shutdownGrace: '1s' },
    providers: { oai: { type: 'openai', apiKey: UPSTREAM_KEY, baseURL: mock.url } },
    routes: { chat: { targets: [{ provider: 'oai', model: 'gpt-4o' }], retry: { attempts: 1 }, breaker: false } },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, logger: createLogger({ write: (line) => logs.push(line) }) });
  base = (await gateway.listen()).url;
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

afterEach(async () => {
  // Whatever the test did, the next ordinary request is answered.
  replies = [];
  const response = await post(hello);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('all good');
});

function post(body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function errorOf(response: Response): Promise<ErrorBody['error']> {
  const body = (await response.json()) as ErrorBody;
  expect(Object.keys(body.error)).toEqual(expect.arrayContaining(['message', 'type', 'param', 'code']));
  return body.error;
}

/** Resolves with what `promise` gave, or `'timeout'` after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

describe('client input', () => {
  it('malformed JSON: 400 saying so', async () => {
    const response = await post('{"model": "chat", "messages": [');
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toMatch(/could not parse the JSON body/);
    expect(error.code).toBe('invalid_json');
  });

  it('wrong types: 400 naming the field', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...hello, temperature: 'hot' }, 'temperature', /expected a number, but got a string/],
      [{ ...hello, messages: [{ role: 'user', content: 42 }] }, 'messages[0].content', /expected a string or an array of content parts/],
      [{ ...hello, messages: 'hi' }, 'messages', /expected an array/],
      [{ ...hello, stream: 'yes' }, 'stream', /expected a boolean/],
      [{ ...hello, max_tokens: 1.5 }, 'max_tokens', /expected an integer/],
      [{ ...hello, tools: [{ type: 'function', function: { name: 'f', parameters: 'none' } }] }, 'tools[0].function.parameters', /JSON Schema/],
      [{ ...hello, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', /one of 'system'/],
      [{ messages: hello.messages }, 'model', /Missing required parameter: 'model'/],
      [{ ...hello, temperature: 5 }, 'temperature', /from 0 to 2/],
    ];
    const upstreamBefore = mock.requests.length;
    for (const [body, param, message] of cases) {
      const response = await post(body);
      expect(response.status, param).toBe(400);
      const error = await errorOf(response);
      expect(error.param).toBe(param);
      expect(error.message).toContain(`'${param}'`);
      expect(error.message).toMatch(message);
    }
    expect(mock.requests.length).toBe(upstreamBefore);
  });

  it('empty messages: 400 on messages', async () => {
    const response = await post({ model: 'chat', messages: [] });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ param: 'messages', code: 'empty_array' });
  });

  it('unknown model: 404 listing the available ones', async () => {
    const response = await post({ ...hello, model: 'nope' });
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error).toMatchObject({ param: 'model', code: 'model_not_found' });
    expect(error.message).toContain("'nope'");
    expect(error.message).toContain('Available models: chat');
  });

  it('missing or bad token: 401, nothing sent upstream', async () => {
    const before = mock.requests.length;
    const missing = await post(hello, { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect((await errorOf(missing)).code).toBe('invalid_api_key');
    const wrong = await post(hello, { ...auth, authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
    const shorter = await post(hello, { ...auth, authorization: 'Bearer b' });
    expect(shorter.status).toBe(401);
    const models = await fetch(`${base}/v1/models`);
    expect(models.status).toBe(401);
    expect(mock.requests.length).toBe(before);
    // The health check needs no token.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('unknown path 404 and wrong method 405, in OpenAI error shape', async () => {
    const unknown = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: auth, body: '{}' });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).message).toContain('/v1/embeddings');
    const wrong = await fetch(`${base}/v1/chat/completions`, { headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    await wrong.body?.cancel();
  });

  it('huge body with a declared length: 413 before reading it', async () => {
    const big = JSON.stringify({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(200_000) }] });
    const response = await rawPost(big, { 'content-length': String(Buffer.byteLength(big)) });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.code).toBe('request_too_large');
  });

  it('huge chunked body: 413, the rest is not read', async () => {
    const response = await rawPost(['{"model":"chat","messages":[{"role":"user","content":"', 'y'.repeat(300_000), '"}]}']);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.message).toContain('65536 bytes');
  });

  it('slow-loris: a connection that sends its headers slowly is closed by the server', async () => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    // A trickle of header bytes does not keep it open: the deadline is for the whole header block.
    const trickle = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 100);
    const outcome = await within(closed, 4000);
    clearInterval(trickle);
    socket.destroy();
    expect(outcome).not.toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(received.split('\r\n\r\n')[1]!)).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_timeout' } });
  });

  it('malformed HTTP gets a 400 with an OpenAI-shaped body, then the connection closes', async () => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    expect(await within(closed, 4000)).not.toBe('timeout');
    expect(received).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(JSON.parse(received.split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'malformed_http' } });
  });
});

describe('client abort and upstream garbage', () => {
  it('a client that disconnects mid-stream aborts the upstream request at once', async () => {
    replies = [{ type: 'text', text: Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '), chunkDelayMs: 50 }];
    const upstreamCount = mock.requests.length;
    const gotFirstData = new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/chat/completions`, { method: 'POST', headers: auth }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.setTimeout(5000, () => reject(new Error('no data')));
      req.end(JSON.stringify({ ...hello, stream: true }));
    });
    await gotFirstData;
    const upstream = mock.requests[upstreamCount]!;
    expect(upstream).toBeDefined();
    expect(await within(upstream.disconnect, 2000)).not.toBe('timeout');
    expect(upstream.disconnected).toBe(true);
    // The access log says the client left.
    await expect.poll(() => logs.some((l) => l.includes('"status":499') && l.includes('"error":"aborted"'))).toBe(true);
  });

  it('a client that gives up on a non-streamed answer aborts the upstream request too', async () => {
    replies = [{ type: 'text', text: 'too late', delayMs: 3000 }];
    const upstreamCount = mock.requests.length;
    const controller = new AbortController();
    const request = fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify(hello), signal: controller.signal }).catch(() => 'aborted');
    await expect.poll(() => mock.requests.length).toBe(upstreamCount + 1);
    controller.abort();
    expect(await request).toBe('aborted');
    const upstream = mock.requests[upstreamCount]!;
    expect(await within(upstream.disconnect, 2000)).not.toBe('timeout');
  });

  it('an upstream answering garbage (non-JSON 200) is a 502, not a crash', async () => {
    replies = [{ type: 'malformed-frame' }];
    const response = await post(hello);
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(error.message).toMatch(/not JSON/);
    expect(response.headers.get('x-ballast-attempts')).toBe('1');
  });

  it('an upstream sending an HTML error page is a 502', async () => {
    replies = [{ type: 'error', kind: 'bad_gateway_html' }];
    const response = await post(hello);
    expect(response.status).toBe(502);
    expect((await errorOf(response)).message).toContain('oai/gpt-4o');
  });

  it('a garbage frame mid-stream ends the stream with an error frame and no [DONE]', async () => {
    replies = [{ type: 'malformed-frame', text: 'some words first' }];
    const response = await post({ ...hello, stream: true });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"content":"some "');
    const frames = text.trim().split('\n\n');
    const last = JSON.parse(frames.at(-1)!.replace(/^data: /, '')) as ErrorBody;
    expect(last.error.type).toBe('upstream_error');
    expect(text).not.toContain('[DONE]');
  });

  it('a stream cut by the upstream after the first token ends with an error frame', async () => {
    replies = [{ type: 'cut-after', text: 'half of it' }];
    const response = await post({ ...hello, stream: true });
    const text = await response.text();
    expect(text).toContain('data: {"error":');
    expect(text).not.toContain('[DONE]');
  });

  it('never logs the upstream key or the client token', () => {
    const all = logs.join('');
    expect(all).toContain('"msg":"request"');
    expect(all).not.toContain(UPSTREAM_KEY);
    expect(all).not.toContain(TOKEN);
  });
});

/** POSTs with node:http (so the body can be chunked or larger than the server reads), tolerating a reset after the answer. */
function rawPost(body: string | string[], headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/v1/chat/completions`, { method: 'POST', headers: { ...auth, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (error) => reject(error));
    for (const part of Array.isArray(body) ? body : [body]) req.write(part);
    req.end();
  });
}

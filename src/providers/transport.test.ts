import { afterEach, describe, expect, it } from 'vitest';
import { startMockServer, type MockServer } from '../mock/mock-server.js';
import { fetchTransport } from './transport.js';
import { bodyText } from '../../test/support/provider-test.js';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const post = (url: string, signal = new AbortController().signal) =>
  fetchTransport({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}', signal });

describe('fetchTransport', () => {
  it('sends the request and returns status, headers and text', async () => {
    server = await startMockServer(() => ({ status: 429, headers: { 'retry-after': '3' }, json: { error: 'x' } }));
    const res = await post(server.url);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await bodyText(res)).toBe('{"error":"x"}');
    expect(server.requests[0]!.json).toEqual({ a: 1 });
  });

  it('streams the body chunk by chunk', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'a' }, { write: 'b', delayMs: 5 }] }));
    const res = await post(server.url);
    let text = '';
    for await (const chunk of res.body) text += new TextDecoder().decode(chunk);
    expect(text).toBe('ab');
  });

  it('passes an abort during the body to the server', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'a' }, { stall: true }] }));
    const controller = new AbortController();
    const res = await post(server.url, controller.signal);
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort(new Error('stop'));
    await expect(iterator.next()).rejects.toThrow();
    await server.requests[0]!.disconnect;
    expect(server.requests[0]!.disconnected).toBe(true);
  });

  it('releases the connection when the reader stops early', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'a' }, { stall: true }] }));
    const res = await post(server.url);
    for await (const _chunk of res.body) break;
    await server.requests[0]!.disconnect;
    expect(server.requests[0]!.disconnected).toBe(true);
  });

  it('rejects with the abort reason before the response', async () => {
    server = await startMockServer(() => ({ delayMs: 10_000, json: {} }));
    const controller = new AbortController();
    const pending = post(server.url, controller.signal);
    const reason = new Error('caller gone');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('rejects when nothing listens', async () => {
    await expect(post('http://127.0.0.1:1/')).rejects.toThrow(/fetch failed/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { startMockServer, type MockServer } from './mock-server.js';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('startMockServer', () => {
  it('listens on loopback and records what it received', async () => {
    server = await startMockServer(() => ({ status: 201, headers: { 'x-a': '1' }, json: { ok: true } }));
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/v1/x?y=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-a')).toBe('1');
    expect(await res.json()).toEqual({ ok: true });
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/v1/x?y=1');
    expect(req?.headers.authorization).toBe('Bearer t');
    expect(req?.json).toEqual({ a: 1 });
    expect(req?.disconnected).toBe(false);
  });

  it('streams frames in order', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'data: 1\n\n' }, { write: 'data: 2\n\n' }] }));
    const res = await fetch(server.url);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe('data: 1\n\ndata: 2\n\n');
  });

  it('sees a client abort during a stall', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'data: 1\n\n' }, { stall: true }] }));
    const controller = new AbortController();
    const res = await fetch(server.url, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await server.requests[0]!.disconnect;
    expect(server.requests[0]!.disconnected).toBe(true);
  });

  it('cuts the connection mid-stream', async () => {
    server = await startMockServer(() => ({ frames: [{ write: 'data: 1\n\n' }, { cut: true }] }));
    const res = await fetch(server.url);
    await expect(res.text()).rejects.toThrow();
  });

  it('answers non-JSON text bodies as given', async () => {
    server = await startMockServer(() => ({ status: 502, headers: { 'content-type': 'text/html' }, text: '<html>bad gateway</html>' }));
    const res = await fetch(server.url);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('<html>bad gateway</html>');
    expect(server.requests[0]!.json).toBeUndefined();
  });
});

// The CORS policy: preflights from the official openai SDK in a browser pass.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from './config-schema.js';
import { corsPolicy } from './cors.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A server answering `ok` behind the policy of `config`; its base URL. */
async function start(config: ServerConfig['cors']): Promise<string> {
  const policy = corsPolicy(config);
  server = createServer((req, res) => {
    if (policy?.apply(req, res)) return;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The headers the openai SDK (v6) sends from a browser, as a preflight lists them. */
const SDK_HEADERS =
  'authorization,content-type,openai-beta,openai-organization,openai-project,x-stainless-arch,x-stainless-helper-method,x-stainless-lang,x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,x-stainless-runtime-version,x-stainless-timeout';

const preflight = (url: string, headers: Record<string, string>) =>
  fetch(`${url}/v1/chat/completions`, { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST', ...headers } });

describe('corsPolicy', () => {
  it('allows every header the preflight asks for, from an allowed origin', async () => {
    const url = await start({ origins: ['https://app.example'] });
    const answer = await preflight(url, { origin: 'https://app.example', 'access-control-request-headers': SDK_HEADERS });
    expect(answer.status).toBe(204);
    const allowed = answer.headers.get('access-control-allow-headers')!.split(/,\s*/);
    for (const name of SDK_HEADERS.split(',')) expect(allowed).toContain(name);
    expect(answer.headers.get('vary')).toBe('origin, access-control-request-headers');
  });

  it('echoes the requested headers with origins "*" too, lower-cased and trimmed', async () => {
    const url = await start(true);
    const answer = await preflight(url, { origin: 'https://any.example', 'access-control-request-headers': ' X-Stainless-Timeout ,\tAuthorization' });
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('access-control-allow-headers')).toBe('x-stainless-timeout, authorization');
    expect(answer.headers.get('vary')).toBe('access-control-request-headers');
  });

  it('falls back to the fixed list, which has the SDK headers, for a malformed or oversized list', async () => {
    const url = await start({ origins: ['https://app.example'] });
    for (const requested of ['bad header, authorization', 'a'.repeat(5000), 'x-a;b', ', ,']) {
      const answer = await preflight(url, { origin: 'https://app.example', 'access-control-request-headers': requested });
      expect(answer.status).toBe(204);
      const allowed = answer.headers.get('access-control-allow-headers')!.split(', ');
      expect(allowed).not.toContain('bad header');
      for (const name of SDK_HEADERS.split(',')) expect(allowed).toContain(name);
    }
    const none = await preflight(url, { origin: 'https://app.example' });
    expect(none.headers.get('access-control-allow-headers')).toContain('x-stainless-retry-count');
  });

  it("refuses a stranger origin's preflight with a 403 that says why, and plain requests get no allow-headers", async () => {
    const url = await start({ origins: ['https://app.example'] });
    const stranger = await preflight(url, { origin: 'https://evil.example', 'access-control-request-headers': 'authorization' });
    expect(stranger.status).toBe(403);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    expect(stranger.headers.get('access-control-allow-headers')).toBeNull();
    expect(await stranger.json()).toMatchObject({ error: { code: 'cors_origin_not_allowed', message: expect.stringContaining('https://evil.example') } });
    // A stranger's plain request goes on to the handler (a browser just will not show it the answer).
    const strangerPlain = await fetch(url, { headers: { origin: 'https://evil.example' } });
    expect(await strangerPlain.text()).toBe('ok');
    expect(strangerPlain.headers.get('access-control-allow-origin')).toBeNull();
    const plain = await fetch(url, { headers: { origin: 'https://app.example' } });
    expect(plain.headers.get('access-control-allow-headers')).toBeNull();
    expect(plain.headers.get('vary')).toBe('origin');
  });

  it('is off when configured off', () => {
    expect(corsPolicy(false)).toBeUndefined();
  });
});

// The running gateway serves /metrics (Prometheus text) and the dashboard (page and data),
// fed by real traffic, and asks for the client token when tokens are configured.
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { startOpenAiMock, type OpenAiMock } from '../src/mock/openai-mock.js';

let gateway: Gateway | undefined;
let mock: OpenAiMock | undefined;
afterEach(async () => {
  await gateway?.close();
  await mock?.close();
  gateway = undefined;
  mock = undefined;
});

async function start(tokens: string[] = []): Promise<string> {
  mock = await startOpenAiMock({ replies: [{ type: 'error', kind: 'overloaded' }, { type: 'text', text: 'hello' }], whenExhausted: 'repeat-last' });
  const loaded = validateConfig({
    server: { port: 0, tokens },
    providers: { oai: { type: 'openai', baseURL: mock.url, apiKey: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789' }, sim: { type: 'simulated' } },
    routes: { chat: { targets: [{ provider: 'oai', model: 'gpt-4o' }, { provider: 'sim', model: 'backup' }], retry: { attempts: 1 } } },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'silent' }) });
  return (await gateway.listen()).url;
}

const chat = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('gateway observability', () => {
  it('/metrics shows the traffic, the fallback and the failure kind, without secrets', async () => {
    const url = await start();
    expect((await chat(url)).headers.get('x-ballast-fallbacks')).toBe('1');
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^ballast_requests_total\{route="chat"\} 1$/m);
    expect(text).toMatch(/^ballast_target_failures_total\{route="chat",target="oai\/gpt-4o",kind="overloaded"\} 1$/m);
    expect(text).toMatch(/^ballast_fallbacks_total\{route="chat",from="oai\/gpt-4o",to="sim\/backup"\} 1$/m);
    expect(text).not.toContain('sk-proj-');
  });

  it('serves the dashboard page and its live data', async () => {
    const url = await start();
    await chat(url);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('Ballast');
    const data = (await (await fetch(`${url}/dashboard/data`)).json()) as { routes: Array<{ name: string }>; events: unknown[] };
    expect(data.routes.map((r) => r.name)).toEqual(['chat']);
    expect(JSON.stringify(data)).toContain('fallback');
    expect(JSON.stringify(data)).not.toContain('sk-proj-');
  });

  it('asks for the client token when tokens are configured', async () => {
    const url = await start(['t0ken-for-tests']);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/dashboard/data`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer t0ken-for-tests' } })).status).toBe(200);
    expect((await fetch(`${url}/dashboard/data`, { headers: { authorization: 'Bearer t0ken-for-tests' } })).status).toBe(200);
    // The page holds no data and a browser cannot send a bearer token with a page load: it opens
    // without one and asks for the token itself.
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form id="auth" hidden>');
  });
});

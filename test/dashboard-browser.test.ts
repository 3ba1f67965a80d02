import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/gateway/config-load.js';
import { createDashboardHandler } from '../src/gateway/dashboard-api.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway } from '../src/gateway/server.js';
import { simulated, type SimulatedProvider } from '../src/providers/simulated.js';
import { createRouter, type Router } from '../src/router/router.js';

// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, against real
// routers on the real clock (tiny simulated latencies), with a fault injected while it watches.

const CHROMIUM = process.env.BALLAST_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
// `BALLAST_SCREENSHOT=1 npx vitest run test/dashboard-browser` refreshes the README's screenshot;
// otherwise it goes to the temp folder, so a test run never changes tracked files.
const SCREENSHOT = process.env.BALLAST_SCREENSHOT
  ? join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'dashboard.png')
  : join(tmpdir(), 'ballast-dashboard.png');
const WAIT = { timeout: 10_000 };

if (!hasChromium && !process.env.CI) {
  console.warn(`dashboard-browser: skipped, no Chromium at ${CHROMIUM} (set BALLAST_CHROMIUM; in CI this test fails instead)`);
}

const ask = { messages: [{ role: 'user' as const, content: 'Summarise the incident report in one line.' }] };

/** A simulated provider with small, slightly varied latencies. */
const provider = (name: string, medianMs: number): SimulatedProvider =>
  simulated({
    name,
    seed: medianMs,
    firstToken: { dist: 'lognormal', median: Math.max(1, Math.round(medianMs / 3)), p99: medianMs },
    chunkInterval: { dist: 'uniform', min: 0, max: 2 },
    latency: { dist: 'lognormal', median: medianMs, p99: medianMs * 3 },
  });

const routeOptions = {
  retry: { attempts: 2, wait: 5 },
  breaker: { window: '5s', failureRate: 0.5, minCalls: 4, openFor: '20s' },
  // One-second slots, so the charts move within the test; a 10 s "recent" window.
  metrics: { slotMs: 1000, recentMs: 10_000, minCalls: 3 },
} as const;

describe.skipIf(!hasChromium && !process.env.CI)('dashboard in headless Chromium', () => {
  const providers = {
    openai: provider('openai', 18),
    anthropic: provider('anthropic', 30),
    gemini: provider('gemini', 24),
    ollama: provider('ollama', 9),
    mini: provider('openai-mini', 14),
  };
  const routers = new Map<string, Router>([
    [
      'chat',
      createRouter({
        route: 'chat',
        targets: [
          { provider: providers.openai, model: 'gpt-4o', id: 'openai/gpt-4o' },
          { provider: providers.anthropic, model: 'claude-sonnet-4-5', id: 'anthropic/claude-sonnet-4-5' },
          { provider: providers.gemini, model: 'gemini-2.5-flash', id: 'gemini/gemini-2.5-flash' },
        ],
        ...routeOptions,
      }),
    ],
    [
      'fast',
      createRouter({
        route: 'fast',
        targets: [
          { provider: providers.ollama, model: 'llama3.1:8b', id: 'ollama/llama3.1' },
          { provider: providers.mini, model: 'gpt-4o-mini', id: 'openai/gpt-4o-mini' },
        ],
        ...routeOptions,
      }),
    ],
  ]);

  let server: Server;
  let url: string;
  let userDataDir: string;
  let context: BrowserContext | undefined;
  let page: Page;
  let stopTraffic = false;
  let traffic: Promise<void> = Promise.resolve();

  /** Keeps every route busy (a chat and a stream at a time) until stopped. */
  const sendTraffic = async (router: Router) => {
    while (!stopTraffic) {
      await Promise.all([
        router.chat(ask).catch(() => undefined),
        (async () => {
          for await (const _ of router.stream(ask)) void _;
        })().catch(() => undefined),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`Chromium is required in CI and missing at ${CHROMIUM}`);
    const dashboard = createDashboardHandler(() => routers, { demo: true });
    server = createServer((req, res) => {
      if (!dashboard(req, res)) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    traffic = Promise.all([...routers.values()].map(sendTraffic)).then(() => undefined);

    userDataDir = mkdtempSync(join(tmpdir(), 'ballast-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1,
      timeout: 20_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Any request off the loopback server would be a bug (the page must be self-contained).
    await page.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
  }, 30_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await context?.close();
    for (const router of routers.values()) router.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('renders the routes and targets, then shows an injected fault: degraded target, fallbacks and breaker events', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });

    const response = await page.goto(url, WAIT);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expect.poll(() => page.locator('#demo').isVisible()).toBe(true);
    expect(await page.locator('#demo').textContent()).toContain('SIMULATED');

    // Every route and target renders, healthy, with numbers and charts.
    const primary = page.locator('[data-route="chat"] [data-target="openai/gpt-4o"]');
    await primary.and(page.locator('[data-health="healthy"]')).waitFor(WAIT);
    await page.locator('article[data-route] [data-target]').nth(4).waitFor(WAIT);
    expect(await page.locator('article[data-route] [data-target]').count()).toBe(5);
    expect(await page.locator('article[data-route]').evaluateAll((els) => els.map((e) => e.getAttribute('data-route')))).toEqual(['chat', 'fast']);
    expect(await primary.textContent()).toContain('gpt-4o');
    await primary.locator('svg.spark path.p50').first().waitFor(WAIT);
    expect(await page.locator('#conn').getAttribute('data-live')).toBe('yes');

    // Fault: the chat route's primary is overloaded, the fast route's primary rate-limits with a long Retry-After.
    providers.openai.control.injectOutage('overloaded', '1m');
    providers.ollama.control.injectOutage('rate_limit', '1m', { retryAfter: '45s' });

    await primary.and(page.locator('[data-health="unavailable"][data-breaker="open"]')).waitFor(WAIT);
    await page.locator('#feed li[data-type="fallback"][data-route="chat"]').first().waitFor(WAIT);
    await page.locator('#feed li[data-type="breaker"][data-route="chat"]').first().waitFor(WAIT);
    expect(await page.locator('#feed li[data-type="breaker"]').first().textContent()).toContain('closed → open');
    expect(await page.locator('#feed li[data-type="fallback"][data-route="chat"]').first().textContent()).toContain('openai/gpt-4o → anthropic/claude-sonnet-4-5');
    await page.locator('[data-route="chat"][data-health="degraded"]').waitFor(WAIT);
    const ollama = page.locator('[data-route="fast"] [data-target="ollama/llama3.1"]');
    await ollama.locator('[data-cooldown]').waitFor(WAIT);
    expect(await ollama.getAttribute('data-health')).toBe('unavailable');
    expect(await page.locator('#feed li[data-type="cooldown"]').first().textContent()).toContain('rate limit');

    // Let the charts show a second or two of failover, then take the README's screenshot.
    await page.waitForTimeout(1500);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  }, 40_000);

  it('shows a route added later, and escapes hostile names and error messages', async () => {
    const broken = simulated({ name: 'x' });
    broken.control.injectOutage('server', '1m', { message: '<img src=y onerror="window.__pwned=3"> key sk-proj-abcdefghijklmnopqrstuvwxyz' });
    const hostile = createRouter({
      route: 'evil',
      targets: [
        { provider: broken, model: '<img src=x onerror="window.__pwned=1">', id: '<script>window.__pwned=2</script>' },
        { provider: simulated({ name: 'y' }), model: 'ok', id: 'ok' },
      ],
      retry: { attempts: 1 },
    });
    routers.set('<b>evil</b>', hostile);
    try {
      await hostile.chat(ask);
      const card = page.locator('article[data-route="<b>evil</b>"]');
      await card.waitFor(WAIT);
      const text = await card.textContent();
      expect(text).toContain('<b>evil</b>');
      expect(text).toContain('<img src=x onerror="window.__pwned=1">');
      expect(text).toContain('<script>window.__pwned=2</script>');
      const fallback = page.locator('#feed li[data-type="fallback"][data-route="<b>evil</b>"]');
      await fallback.waitFor(WAIT);
      expect(await fallback.textContent()).toContain('<img src=y onerror="window.__pwned=3"> key sk-proj-***');
      // Nothing ran, nothing became an element.
      expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
      expect(await page.locator('main img, main script').count()).toBe(0);
      expect(await page.locator('main b', { hasText: /^evil$/ }).count()).toBe(0);
    } finally {
      routers.delete('<b>evil</b>');
      hostile.close();
    }
  }, 20_000);

  it.each([
    ['', false],
    [' (with site storage blocked)', true],
  ])('behind client tokens: the page opens, asks for the token, and shows the routes once given it%s', async (_blocked, blockStorage) => {
    const loaded = validateConfig({
      server: { port: 0, tokens: ['dashboard-t0ken'] },
      providers: { sim: { type: 'simulated' } },
      routes: { guarded: { targets: [{ provider: 'sim', model: 'm' }] } },
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'silent', write: () => {} }) });
    const { url: base } = await gateway.listen();
    const tab = await context!.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    // Privacy settings that block site data make every use of sessionStorage throw.
    if (blockStorage) {
      await tab.addInitScript(() =>
        Object.defineProperty(globalThis, 'sessionStorage', {
          get() {
            throw new DOMException('Access is denied for this document.', 'SecurityError');
          },
        }),
      );
    }
    try {
      await tab.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
      expect((await tab.goto(`${base}/`, WAIT))?.status()).toBe(200);
      await tab.locator('#auth').waitFor({ state: 'visible', ...WAIT });
      expect(await tab.locator('#conn').textContent()).toContain('asks for a client token');
      await tab.fill('#token', 'wrong');
      await tab.click('#auth button');
      await expect.poll(() => tab.locator('#conn').textContent(), WAIT).toContain('that token was refused');
      await tab.fill('#token', 'dashboard-t0ken');
      await tab.click('#auth button');
      await tab.locator('article[data-route="guarded"]').waitFor(WAIT);
      expect(await tab.locator('#auth').isHidden()).toBe(true);
      expect(await tab.locator('#conn').getAttribute('data-live')).toBe('yes');
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
      await gateway.close();
    }
  }, 20_000);
});

// Two gateway replicas sharing breaker states and cooldowns through Redis (the `store` section of
// the config), in front of one OpenAI mock; and a gateway whose Redis is unreachable, which must
// go on answering without ever showing the password of its Redis URL.
//
// Needs Redis on 127.0.0.1:6379: without it these tests fail (they are not skipped).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServe } from '../src/cli/serve.js';
import { validateConfig } from '../src/gateway/config-load.js';
import { formatProblem } from '../src/gateway/config-problems.js';
import type { GatewayConfig, GatewayConfigInput } from '../src/gateway/config-schema.js';
import { createLogger } from '../src/gateway/logger.js';
import { createGateway, type Gateway } from '../src/gateway/server.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../src/mock/openai-mock.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
// Every key this run writes is under it, so parallel runs never meet and cleanup is exact.
const PREFIX = `ballast-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}:`;
const PASSWORD = 's3cret-pass';
// Redis here has no password: a URL with one points at a closed port instead.
const UNREACHABLE_URL = `redis://:${PASSWORD}@127.0.0.1:1`;
const UPSTREAM_KEY = 'sk-upstream-redis-test-0123456789';
const TARGET = 'shared-target';

type Replica = 'a' | 'b' | 'broken';

let redis: Redis;
/** Why Redis cannot be used: every test that needs it fails with this (they must fail, not skip). */
let redisDown: string | undefined;
let mock: OpenAiMock;
let replies: OpenAiMockReply[] = [];
const gateways: Gateway[] = [];
const logs: Record<Replica, string[]> = { a: [], b: [], broken: [] };
const urls: Partial<Record<Replica, string>> = {};

interface StatusTarget {
  id: string;
  cooldown: { reason: string; remainingMs: number } | null;
}
interface Status {
  store: { type: string; url?: string; connected?: boolean; lastError?: string };
  routes: Array<{ name: string; targets: StatusTarget[] }>;
}

function configFor(replica: Replica, store: GatewayConfigInput['store']): GatewayConfig {
  const result = validateConfig({
    server: { port: 0, shutdownGrace: '1s' },
    providers: {
      // The header tells the mock which replica called it.
      oai: { type: 'openai', apiKey: UPSTREAM_KEY, baseURL: mock.url, headers: { 'x-replica': `replica-${replica}` } },
    },
    routes: { chat: { targets: [{ provider: 'oai', model: 'gpt-4o-mini', id: TARGET }], retry: { attempts: 1 } } },
    store,
  });
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

async function start(replica: Replica, store: GatewayConfigInput['store']): Promise<Gateway> {
  const gateway = createGateway({ config: configFor(replica, store), logger: createLogger({ write: (line) => logs[replica].push(line) }) });
  gateways.push(gateway);
  urls[replica] = (await gateway.listen()).url;
  return gateway;
}

const ask = (replica: Replica) =>
  fetch(`${urls[replica]}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
const statusOf = async (replica: Replica) => {
  const response = await fetch(`${urls[replica]}/status`);
  return { text: await response.clone().text(), json: (await response.json()) as Status };
};
const cooldownOf = (status: Status) => status.routes.find((r) => r.name === 'chat')!.targets.find((t) => t.id === TARGET)!.cooldown;
/** Chat requests the mock received from a replica. */
const upstreamFrom = (replica: Replica) => mock.requests.filter((r) => r.headers['x-replica'] === `replica-${replica}`).length;

async function keysOfThisRun(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redisDown = `these tests need Redis at ${REDIS_URL}: ${(error as Error).message}`;
  }
  mock = await startOpenAiMock({ apiKey: UPSTREAM_KEY, replies: () => replies.shift() ?? { type: 'text', text: 'shared answer' } });
  await start('a', { type: 'redis', url: REDIS_URL, prefix: PREFIX });
  await start('b', { type: 'redis', url: REDIS_URL, prefix: PREFIX });
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await mock?.close();
  if (redis?.status === 'ready') {
    const keys = await keysOfThisRun();
    if (keys.length > 0) await redis.del(...keys);
  }
  redis?.disconnect();
});

describe('gateway replicas sharing a Redis store', () => {
  beforeEach(() => {
    if (redisDown) throw new Error(redisDown);
  });

  it('both say in /status that the store is connected', async () => {
    for (const replica of ['a', 'b'] as const) {
      const { json } = await statusOf(replica);
      expect(json.store).toMatchObject({ type: 'redis', url: REDIS_URL, connected: true });
      expect(await (await fetch(`${urls[replica]}/metrics`)).text()).toMatch(/^ballast_store_connected 1$/m);
    }
  });

  it('a cooldown one replica learns from a 429 keeps the other replica away from the target at once', async () => {
    replies = [{ type: 'error', kind: 'rate_limit', retryAfter: 30 }];
    const first = await ask('a');
    expect(first.status).toBe(429);
    expect(upstreamFrom('a')).toBe(1);

    // Pub/sub is asynchronous: B hears of the cooldown shortly after A wrote it.
    await expect.poll(async () => cooldownOf((await statusOf('b')).json), { timeout: 5000, interval: 20 }).toMatchObject({ reason: 'rate_limit' });
    const second = await ask('b');
    expect(second.status).toBe(429);
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(25);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(second.headers.get('x-ballast-attempts')).toBe('0');
    expect(((await second.json()) as { error: { message: string } }).error.message).toContain(`${TARGET} skipped (cooldown`);
    expect(upstreamFrom('b')).toBe(0);

    // It lives in Redis under the configured prefix (a replica started later loads it from there).
    expect(await keysOfThisRun()).toContain(`${PREFIX}chat:cooldown:${TARGET}`);
    expect(Number(await redis.pttl(`${PREFIX}chat:cooldown:${TARGET}`))).toBeGreaterThan(20_000);
  });

  it('a reload keeps the running store (and the cooldown it holds); a new store section takes effect on restart', async () => {
    const a = gateways[0]!;
    const store = a.store;
    const result = a.reload(configFor('a', { type: 'redis', url: REDIS_URL, prefix: `${PREFIX}other:` }));
    expect(result.ok).toBe(true);
    expect(a.store).toBe(store);
    expect(a.config.store).toEqual({ type: 'redis', url: REDIS_URL, prefix: PREFIX });
    expect(logs.a.some((l) => l.includes('"level":"warn"') && l.includes('store changes take effect on restart'))).toBe(true);
    const { json } = await statusOf('a');
    expect(json.store.connected).toBe(true);
    expect(cooldownOf(json)).toMatchObject({ reason: 'rate_limit' });
    const answer = await ask('a');
    expect(answer.status).toBe(429);
    expect(answer.headers.get('x-ballast-attempts')).toBe('0');
    expect(upstreamFrom('a')).toBe(1);
  });

  it('ballast serve names the store it uses, and that it is connected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-redis-'));
    const file = join(dir, 'serve.yaml');
    await writeFile(
      file,
      [
        'server: { port: 0 }',
        'providers:',
        `  oai: { type: openai, apiKey: ${UPSTREAM_KEY}, baseURL: "${mock.url}" }`,
        'routes:',
        '  served: { targets: [{ provider: oai, model: gpt-4o-mini }] }',
        'store:',
        '  type: redis',
        '  url: ${REDIS_URL}',
        `  prefix: "${PREFIX}"`,
      ].join('\n'),
    );
    let err = '';
    const serving = await startServe(['--config', file, '--log-level', 'silent'], {
      out: () => {},
      err: (text) => void (err += text),
      env: { REDIS_URL },
      cwd: dir,
    });
    try {
      expect(err).toContain(`\nstore: redis ${REDIS_URL} (connected)\n`);
      const status = (await (await fetch(`${serving!.address.url}/status`)).json()) as Status;
      expect(status.store).toMatchObject({ type: 'redis', connected: true });
    } finally {
      await serving?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a gateway whose Redis is unreachable', () => {
  it('answers chat requests all the same, says connected: false, and never shows the password', async () => {
    const gateway = await start('broken', { type: 'redis', url: UNREACHABLE_URL, prefix: PREFIX });
    const response = await ask('broken');
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('shared answer');
    expect(upstreamFrom('broken')).toBe(1);

    const { json, text } = await statusOf('broken');
    expect(json.store).toMatchObject({ type: 'redis', url: 'redis://127.0.0.1:1', connected: false });
    expect(json.store.lastError).toEqual(expect.any(String));
    expect(text).not.toContain(PASSWORD);
    expect(JSON.stringify(gateway.status())).not.toContain(PASSWORD);
    const metrics = await (await fetch(`${urls.broken}/metrics`)).text();
    expect(metrics).toMatch(/^ballast_store_connected 0$/m);
    expect(metrics).not.toContain(PASSWORD);

    const warning = logs.broken.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('state store not connected'));
    expect(warning).toMatchObject({ level: 'warn', store: 'redis', url: 'redis://127.0.0.1:1', error: expect.any(String) });
    expect(logs.broken.some((l) => l.includes('"msg":"request"'))).toBe(true);
    await gateway.close();
    expect([...logs.broken, ...logs.a, ...logs.b].join('')).not.toContain(PASSWORD);
  });
});

// Config loading and validation, ENV references, the default and demo configs, and reload.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveEnvRefs } from '../src/gateway/config-env.js';
import { checkConfig, loadConfigFile, parseConfigText, validateConfig, type ConfigResult } from '../src/gateway/config-load.js';
import { formatProblem } from '../src/gateway/config-problems.js';
import type { GatewayConfig } from '../src/gateway/config-schema.js';
import { defaultConfig } from '../src/gateway/default-config.js';
import { DEMO_CONFIG } from '../src/gateway/demo-config.js';
import { createLogger } from '../src/gateway/logger.js';
import { buildRouteTable, RouteTableError } from '../src/gateway/route-table.js';
import { createGateway, type Gateway, type GatewayEvent } from '../src/gateway/server.js';
import { createMemoryStore } from '../src/policy/memory-store.js';
import { realClock } from '../src/policy/clock.js';
import { createVirtualClock } from '../src/policy/virtual-clock.js';
import { startOpenAiMock, type OpenAiMock } from '../src/mock/openai-mock.js';

const lines = (result: ConfigResult): string[] => (result.ok ? [] : result.problems.map(formatProblem));
const valid = (result: ConfigResult): GatewayConfig => {
  if (!result.ok) throw new Error(lines(result).join('\n'));
  return result.config;
};

const MINIMAL = {
  providers: { sim: { type: 'simulated' } },
  routes: { chat: { targets: [{ provider: 'sim', model: 'm1' }] } },
};

describe('validation messages: path, expected, got', () => {
  it('reports every problem, one line each, with its path', () => {
    const result = parseConfigText(
      [
        'server:',
        '  port: 70000',
        '  cors: maybe',
        'providers:',
        '  openai:',
        '    type: openai',
        '    baseURL: not a url',
        '  anth:',
        '    type: anthropc',
        '  sim:',
        '    type: simulated',
        '    faults:',
        '      - kind: slowly',
        '        probability: 2',
        'routes:',
        '  chat:',
        '    strategy: fastest',
        '    retyr: {}',
        '    targets:',
        '      - provider: openai',
        '        model: gpt-4o',
        '      - provider: opnai',
        '        model: 3',
        '  empty:',
        '    targets: []',
        'store:',
        '  type: redis',
        '  url: http://:hunter2-secret@cache.internal:6379',
      ].join('\n'),
    );
    expect(result.ok).toBe(false);
    expect(lines(result)).toEqual(
      expect.arrayContaining([
        'server.port: expected a number <= 65535, got number 70000',
        'server.cors: expected true or false or an object, got "maybe"',
        'providers.openai.baseURL: expected a URL such as https://api.example.com/v1, got "not a url"',
        'providers.anth.type: expected one of "openai", "anthropic", "gemini", "ollama", "simulated", got "anthropc"',
        'providers.sim.faults[0].probability: expected a number <= 1, got number 2',
        'routes.chat.strategy: expected one of "priority", "round-robin", "weighted", "least-latency", "least-cost", "least-busy" or an object, got "fastest"',
        'routes.chat.targets[1].model: expected a string, got number 3',
        'routes.chat.targets[1].provider: expected the name of a configured provider (openai, anth, sim), got "opnai"',
        'routes.empty.targets: expected a non-empty list, got an empty list',
        'store.url: expected a Redis URL such as redis://127.0.0.1:6379 or "${REDIS_URL}", got "http://***@cache.internal:6379"',
      ]),
    );
    expect(lines(result).find((l) => l.startsWith('providers.sim.faults[0].kind:'))).toMatch(/expected one of "rate_limit", .*"cut", .*got "slowly"/);
    expect(lines(result).find((l) => l.startsWith('routes.chat.retyr:'))).toBe(
      'routes.chat.retyr: expected one of the keys strategy, targets, rules, retry, breaker, timeouts, hedge, resume, errors, cooldowns, healthCheck (did you mean "retry"?), got an unknown key',
    );
    expect(lines(result).length).toBe(12);
    expect(lines(result).join('\n')).not.toContain('hunter2');
  });

  it('says what is missing', () => {
    expect(lines(validateConfig({}))).toEqual(['providers: expected an object, got nothing', 'routes: expected an object, got nothing']);
    expect(lines(validateConfig({ providers: {}, routes: {} }))).toEqual(['routes: expected at least one route, got none']);
    expect(lines(validateConfig({ ...MINIMAL, routes: { chat: { targets: [{ provider: 'sim' }] } } }))).toEqual([
      'routes.chat.targets[0].model: expected a string, got nothing',
    ]);
  });

  it('checks durations, duplicate targets, rule ids and breaker shapes', () => {
    const result = validateConfig({
      providers: { sim: { type: 'simulated', latency: 'soon' } },
      routes: {
        chat: {
          targets: [
            { provider: 'sim', model: 'a' },
            { provider: 'sim', model: 'a' },
          ],
          timeouts: { total: '2 hours', idle: 0 },
          breaker: 'on',
          rules: [{ if: { hasTools: true }, use: { ids: ['sim/b'] } }],
        },
      },
    });
    expect(lines(result)).toEqual(
      expect.arrayContaining([
        'providers.sim.latency: expected a duration such as "300ms" or a distribution such as { dist: lognormal, median: 300ms, p99: 2s }, got "soon"',
        'routes.chat.timeouts.total: expected a duration above 0 such as "30s", got "2 hours"',
        'routes.chat.timeouts.idle: expected a duration above 0 such as "30s", got number 0',
        'routes.chat.breaker: expected false or an object, got "on"',
        'routes.chat.targets[1].model: expected a target id unique in the route (set `id` to tell two targets of one provider and model apart), got a second "sim/a"',
        'routes.chat.rules[0].use.ids[0]: expected the id of a target of this route (sim/a), got "sim/b"',
      ]),
    );
  });

  it('refuses strategy options the named strategy would ignore, saying which strategy takes each', () => {
    const result = validateConfig({
      ...MINIMAL,
      routes: {
        rr: { strategy: { name: 'round-robin', ties: 'shuffle', metric: 'ttft', defaultOutputTokens: 5 }, targets: [{ provider: 'sim', model: 'a' }] },
        cheap: { strategy: { name: 'least-cost', ties: 'order' }, targets: [{ provider: 'sim', model: 'a' }] },
      },
    });
    expect(lines(result)).toEqual([
      'routes.rr.strategy.ties: expected no ties with strategy round-robin (only priority takes ties), got "shuffle"',
      'routes.rr.strategy.metric: expected no metric with strategy round-robin (only least-latency takes metric), got "ttft"',
      'routes.rr.strategy.defaultOutputTokens: expected no defaultOutputTokens with strategy round-robin (only least-cost takes defaultOutputTokens), got number 5',
      'routes.cheap.strategy.ties: expected no ties with strategy least-cost (only priority takes ties), got "order"',
    ]);
    // Each option next to the strategy that reads it is fine.
    for (const strategy of [{ name: 'priority', ties: 'shuffle' }, { name: 'least-latency', metric: 'ttft' }, { name: 'least-cost', defaultOutputTokens: 5 }]) {
      expect(lines(validateConfig({ ...MINIMAL, routes: { chat: { strategy, targets: [{ provider: 'sim', model: 'a' }] } } }))).toEqual([]);
    }
  });

  it('refuses a breaker that mixes consecutive with the failure-rate fields (one of them would be ignored)', () => {
    const breaker = (b: Record<string, unknown>) => validateConfig({ ...MINIMAL, routes: { chat: { breaker: b, targets: [{ provider: 'sim', model: 'a' }] } } });
    const why = '(a breaker takes consecutive, or failureRate, minCalls and window, not both)';
    expect(lines(breaker({ consecutive: 3, failureRate: 0.9, minCalls: 50, window: '5m', openFor: '10s' }))).toEqual([
      `routes.chat.breaker.failureRate: expected no failureRate next to consecutive ${why}, got number 0.9`,
      `routes.chat.breaker.minCalls: expected no minCalls next to consecutive ${why}, got number 50`,
      `routes.chat.breaker.window: expected no window next to consecutive ${why}, got "5m"`,
    ]);
    expect(lines(breaker({ consecutive: 3, openFor: '10s', halfOpenProbes: 2 }))).toEqual([]);
    expect(lines(breaker({ failureRate: 0.5, minCalls: 10, window: '30s', openFor: '10s' }))).toEqual([]);
  });

  it('reports what only the provider can check (a fault window that ends before it starts) under its path', () => {
    const config = valid(validateConfig({ ...MINIMAL, providers: { sim: { type: 'simulated', faults: [{ kind: 'server', between: ['2h', '10m'] }] } } }));
    let error: unknown;
    try {
      buildRouteTable(config, { clock: realClock, store: createMemoryStore() }).close();
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(RouteTableError);
    expect((error as RouteTableError).problems.map(formatProblem)).toEqual(['providers.sim.faults[0].between: expected a value the provider accepts, got ends before it starts']);
  });

  it('never prints a secret that ended up in the wrong field', () => {
    const result = validateConfig({ ...MINIMAL, providers: { sim: { type: 'simulated', reply: 1 }, o: { type: 'openai', headers: 'Bearer sk-proj-abcdefghijklmnop1234' } } });
    const text = lines(result).join('\n');
    expect(text).toContain('providers.o.headers: expected an object');
    expect(text).not.toContain('abcdefghijklmnop1234');
  });

  it('refuses credentials inside a provider baseURL (they would never be sent), without printing them', () => {
    const result = validateConfig({
      ...MINIMAL,
      providers: { sim: { type: 'simulated' }, o: { type: 'openai', baseURL: 'https://user:pw-in-url-secret@llm.internal/v1' } },
    });
    const text = lines(result).join('\n');
    expect(text).toContain('providers.o.baseURL: expected a URL without user:password in it (put credentials in apiKey or headers)');
    expect(text).not.toContain('pw-in-url-secret');
    expect(validateConfig({ ...MINIMAL, providers: { sim: { type: 'simulated' }, o: { type: 'openai', baseURL: 'https://llm.internal/v1' } } }).ok).toBe(true);
  });

  it('reports YAML syntax errors with their line, and JSON files as JSON', async () => {
    const yaml = parseConfigText('providers:\n  a: [1, 2\nroutes: {}\n');
    expect(yaml.ok).toBe(false);
    expect(lines(yaml)[0]).toMatch(/^line \d+, column \d+: expected valid YAML, got /);
    const dir = await mkdtemp(join(tmpdir(), 'ballast-config-'));
    try {
      await writeFile(join(dir, 'ok.json'), JSON.stringify(MINIMAL));
      expect(valid(await loadConfigFile(join(dir, 'ok.json'))).routes.chat!.targets[0]!.model).toBe('m1');
      await writeFile(join(dir, 'bad.json'), '{"providers": ');
      // (The wording after "got" is Node's own.)
      expect(lines(await loadConfigFile(join(dir, 'bad.json')))).toEqual([expect.stringMatching(/^line 1, column 15: expected valid JSON, got \S/)]);
      // Where Node gives no position, the YAML parser finds the line.
      expect(lines(parseConfigText('{\n "x": [1,,2]\n}', 'json'))).toEqual([expect.stringMatching(/^line 2, column 10: expected valid JSON, got \S/)]);
      // Where YAML reads on, the excerpt Node quotes gives the spot; the excerpt itself (here a key) is not repeated.
      const secret = '{\n  "providers": {\n    "x": { "type": "openai", "apiKey": sk-proj-123456789 }\n  }\n}';
      const problem = lines(parseConfigText(secret, 'json'));
      expect(problem).toEqual([expect.stringMatching(/^line 3, column 40: expected valid JSON, got \S/)]);
      expect(problem[0]).not.toContain('sk-proj');
      expect(lines(parseConfigText('{"a": "True?", "b": True}', 'json'))).toEqual([expect.stringMatching(/^line 1, column 21: /)]);
      expect(lines(await loadConfigFile(join(dir, 'missing.yaml')))).toEqual([`${join(dir, 'missing.yaml')}: expected a readable config file, got no such file`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fills in defaults: loopback, port 4000, 1mb body limit, memory store', () => {
    const config = valid(validateConfig(MINIMAL));
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4000, tokens: [], bodyLimit: '1mb', cors: false });
    expect(config.store).toEqual({ type: 'memory' });
  });

  it('the redis store: defaults, ${REDIS_URL}, and problems that name the path without the password', () => {
    expect(valid(validateConfig({ ...MINIMAL, store: { type: 'redis' } })).store).toEqual({ type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'ballast:' });
    const env = { REDIS_URL: 'rediss://:s3cret-pass@cache.internal:6380/2' };
    expect(valid(validateConfig({ ...MINIMAL, store: { type: 'redis', url: '${REDIS_URL}', prefix: 'app1:' } }, { env })).store).toEqual({
      type: 'redis',
      url: 'rediss://:s3cret-pass@cache.internal:6380/2',
      prefix: 'app1:',
    });
    const problems = lines(
      validateConfig({ ...MINIMAL, store: { type: 'redis', url: 'https://:s3cret-pass@cache.internal/with/a/long/path/so/that/the/value/is/cut', prefix: '', db: 1 } }),
    );
    expect(problems).toEqual([
      'store.url: expected a Redis URL such as redis://127.0.0.1:6379 or "${REDIS_URL}", got "https://***@cache.internal/with/a/long/path/so/that/the/v..."',
      'store.prefix: expected a non-empty string, got ""',
      'store.db: expected one of the keys type, url, prefix, got an unknown key',
    ]);
    expect(lines(validateConfig({ ...MINIMAL, store: { type: 'mongo' } }))).toEqual(['store.type: expected one of "memory", "redis", got "mongo"']);
    expect(lines(validateConfig({ ...MINIMAL, store: { type: 'redis', url: '${REDIS_URL_NOT_SET}' } }, { env }))).toEqual([
      'store.url: expected the environment variable REDIS_URL_NOT_SET to be set (or a default: ${REDIS_URL_NOT_SET:-value}), got REDIS_URL_NOT_SET unset',
    ]);
    expect(lines(validateConfig({ ...MINIMAL, store: { type: 'memory', url: 'redis://127.0.0.1:6379' } }))).toEqual([
      'store.url: expected one of the keys type, got an unknown key',
    ]);
  });
});

describe('names JavaScript reserves (__proto__, constructor, prototype)', () => {
  const reserved = (name: string) => `expected a name other than __proto__, constructor or prototype, got "${name}"`;
  const target = '{ "targets": [{ "provider": "sim", "model": "m1" }] }';

  it('are refused as route names, in YAML and in JSON (where JSON.parse makes an own __proto__ key)', () => {
    const yaml = [
      'providers:',
      '  sim: { type: simulated }',
      'routes:',
      '  chat: { targets: [{ provider: sim, model: m1 }] }',
      '  __proto__: { targets: [{ provider: sim, model: m1 }] }',
      '  constructor: { targets: [{ provider: sim, model: m1 }] }',
      '  prototype: { targets: [{ provider: sim, model: m1 }] }',
    ].join('\n');
    expect(lines(parseConfigText(yaml))).toEqual([`routes.__proto__: ${reserved('__proto__')}`, `routes.constructor: ${reserved('constructor')}`, `routes.prototype: ${reserved('prototype')}`]);
    const json = `{ "providers": { "sim": { "type": "simulated" } }, "routes": { "chat": ${target}, "__proto__": ${target} } }`;
    expect(lines(parseConfigText(json, 'json'))).toEqual([`routes.__proto__: ${reserved('__proto__')}`]);
    // Reload checks a parsed object as it is, without resolving ${ENV} references.
    expect(lines(checkConfig(JSON.parse(json)))).toEqual([`routes.__proto__: ${reserved('__proto__')}`]);
  });

  it('are refused as provider names, in YAML and in JSON', () => {
    const yaml = ['providers:', '  sim: { type: simulated }', '  __proto__: { type: simulated }', 'routes:', '  chat: { targets: [{ provider: sim, model: m1 }] }'].join('\n');
    expect(lines(parseConfigText(yaml))).toEqual([`providers.__proto__: ${reserved('__proto__')}`]);
    const json = `{ "providers": { "sim": { "type": "simulated" }, "constructor": { "type": "simulated" } }, "routes": { "chat": ${target} } }`;
    expect(lines(parseConfigText(json, 'json'))).toEqual([`providers.constructor: ${reserved('constructor')}`]);
  });

  it('are refused as header names and rule metadata keys', () => {
    const config = (headers: string) => `{ "providers": { "sim": { "type": "simulated" }, "oa": { "type": "openai", "headers": { "x-team": "a", ${headers} } } },
      "routes": { "chat": { "targets": [{ "provider": "sim", "model": "m1" }], "rules": [{ "if": { "metadata": { "constructor": "x" } }, "use": { "ids": ["sim/m1"] } }] } } }`;
    // Header values may be secrets: the problem gives the type and length only.
    const header = (name: string) => `providers.oa.headers.${name}: expected a name other than __proto__, constructor or prototype, got a string of ${name.length} characters`;
    expect(lines(parseConfigText(config('"constructor": "b"'), 'json'))).toEqual([header('constructor'), `routes.chat.rules[0].if.metadata.constructor: ${reserved('constructor')}`]);
    expect(lines(checkConfig(JSON.parse(config('"__proto__": "b"'))))).toEqual([header('__proto__'), `routes.chat.rules[0].if.metadata.constructor: ${reserved('constructor')}`]);
    // Through the loader too: resolving ${ENV} references keeps an own __proto__ key a key.
    expect(lines(parseConfigText(config('"__proto__": "b"'), 'json'))).toEqual([header('__proto__'), `routes.chat.rules[0].if.metadata.constructor: ${reserved('constructor')}`]);
  });

  it('names that merely look like them are fine', () => {
    const config = valid(parseConfigText('providers:\n  proto: { type: simulated }\nroutes:\n  __proto: { targets: [{ provider: proto, model: m1 }] }\n  Constructor: { targets: [{ provider: proto, model: m1 }] }\n'));
    expect(Object.keys(config.routes)).toEqual(['__proto', 'Constructor']);
  });
});

describe('${ENV} references', () => {
  const env = { KEY: 'sk-from-env-123', PORT: '8080', EMPTY: '' };

  it('resolves ${X} and ${X:-default}, keeps $${X} literal', () => {
    const { value, problems } = resolveEnvRefs({ a: '${KEY}', b: 'x-${KEY}-y', c: '${NOPE:-fallback}', d: '${EMPTY:-was empty}', e: '$${KEY}', f: ['${PORT}'] }, env);
    expect(problems).toEqual([]);
    expect(value).toEqual({ a: 'sk-from-env-123', b: 'x-sk-from-env-123-y', c: 'fallback', d: 'was empty', e: '${KEY}', f: ['8080'] });
  });

  it('a missing variable is an error naming the path and the variable', () => {
    const result = validateConfig({ ...MINIMAL, providers: { o: { type: 'openai', apiKey: '${OPENAI_KEY_NOT_SET}' }, sim: { type: 'simulated' } } }, { env });
    expect(lines(result)).toEqual([
      'providers.o.apiKey: expected the environment variable OPENAI_KEY_NOT_SET to be set (or a default: ${OPENAI_KEY_NOT_SET:-value}), got OPENAI_KEY_NOT_SET unset',
    ]);
  });

  it('a malformed reference is an error', () => {
    const result = validateConfig({ ...MINIMAL, server: { host: '${1BAD}' } }, { env });
    expect(lines(result)).toEqual(['server.host: expected an environment reference such as ${OPENAI_API_KEY} or ${PORT:-4000}, got "${1BAD}"']);
  });

  it('a port from the environment becomes a number', () => {
    const config = valid(parseConfigText('server:\n  port: ${PORT:-4000}\nproviders:\n  sim: { type: simulated }\nroutes:\n  chat:\n    targets: [{ provider: sim, model: m }]\n', 'yaml', { env }));
    expect(config.server.port).toBe(8080);
  });
});

describe('the default config: provider keys or demo mode', () => {
  it('demo mode when no provider key is set', () => {
    const chosen = defaultConfig({ PATH: '/bin', OPENAI_API_KEY: '  ' });
    expect(chosen.demo).toBe(true);
    expect(chosen.config).toBe(DEMO_CONFIG);
    const config = valid(validateConfig(chosen.config, { env: {} }));
    expect(Object.values(config.providers).every((p) => p.type === 'simulated')).toBe(true);
    expect(Object.keys(config.routes)).toContain('demo');
  });

  it('one route per provider key plus a default route across all, keys kept as references', () => {
    const env = { OPENAI_API_KEY: 'sk-real-openai-key-1234', ANTHROPIC_API_KEY: 'sk-ant-real-1234567890', GEMINI_API_KEY: 'AIzaSyExample123456', OLLAMA_HOST: '127.0.0.1:11434', BALLAST_OPENAI_MODEL: 'gpt-4.1' };
    const chosen = defaultConfig(env);
    expect(chosen.demo).toBe(false);
    expect(chosen.sources).toEqual(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'OLLAMA_HOST']);
    expect(JSON.stringify(chosen.config)).not.toContain('sk-real-openai-key-1234');
    const config = valid(validateConfig(chosen.config, { env }));
    expect(Object.keys(config.routes)).toEqual(['openai', 'anthropic', 'gemini', 'ollama', 'default']);
    expect(config.routes.default!.targets.map((t) => `${t.provider}/${t.model}`)).toEqual([
      'openai/gpt-4.1',
      'anthropic/claude-sonnet-4-5',
      'gemini/gemini-2.5-flash',
      'ollama/llama3.2',
    ]);
    expect(config.providers.openai).toMatchObject({ type: 'openai', apiKey: 'sk-real-openai-key-1234' });
  });

  it('only the providers whose keys are set', () => {
    const chosen = defaultConfig({ ANTHROPIC_API_KEY: 'sk-ant-x' });
    expect(Object.keys(chosen.config.routes ?? {})).toEqual(['anthropic', 'default']);
  });

  it('REDIS_URL makes replicas without a config file share their state through Redis (the URL stays a reference)', () => {
    const env = { OPENAI_API_KEY: 'sk-x', REDIS_URL: 'redis://:pw-secret@cache:6379' };
    const chosen = defaultConfig(env);
    expect(chosen.config.store).toEqual({ type: 'redis', url: '${REDIS_URL}' });
    expect(chosen.sources).toContain('REDIS_URL');
    expect(JSON.stringify(chosen.config)).not.toContain('pw-secret');
    expect(valid(validateConfig(chosen.config, { env })).store).toMatchObject({ type: 'redis', url: env.REDIS_URL, prefix: 'ballast:' });
    expect(defaultConfig({ OPENAI_API_KEY: 'sk-x' }).config.store).toBeUndefined();
  });
});

describe('demo mode', () => {
  let gateway: Gateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('labels every answer as simulated: header and text', async () => {
    const clock = createVirtualClock(Date.now());
    gateway = createGateway({ config: { ...valid(validateConfig(DEMO_CONFIG)), server: { ...valid(validateConfig(DEMO_CONFIG)).server, port: 0 } }, demo: true, clock, logger: createLogger({ level: 'silent' }) });
    const { url } = await gateway.listen();
    const pending = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello demo' }] }),
    });
    let response: Response | undefined;
    void pending.then((r) => (response = r));
    for (let i = 0; i < 600 && !response; i++) await clock.advance(50);
    expect(response).toBeDefined();
    expect(response!.status).toBe(200);
    expect(response!.headers.get('x-ballast-demo')).toBe('simulated');
    const body = (await response!.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]!.message.content).toMatch(/^\[simulated\] .*no real model was called.*hello demo/);
    const health = await fetch(`${url}/healthz`);
    expect(health.headers.get('x-ballast-demo')).toBe('simulated');
  });

  it('a minute of traffic shows retries, fallbacks, cooldowns and a breaker opening', async () => {
    const clock = createVirtualClock(0);
    gateway = createGateway({ config: valid(validateConfig(DEMO_CONFIG)), demo: true, clock, logger: createLogger({ level: 'silent' }) });
    const seen = new Map<string, number>();
    gateway.on((event: GatewayEvent) => {
      if (event.type !== 'router') return;
      const key = event.event.type === 'breaker' ? `breaker:${event.event.to}` : event.event.type;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    });
    const router = gateway.route('demo')!.router;
    const calls: Array<Promise<unknown>> = [];
    let failures = 0;
    // Two requests a second for a minute, half of them streamed.
    for (let t = 0; t < 60_000; t += 500) {
      const request = { messages: [{ role: 'user' as const, content: `request at ${t}` }] };
      const call =
        t % 1000 === 0
          ? router.chat(request)
          : (async () => {
              for await (const _event of router.stream(request)) void _event;
            })();
      calls.push(call.catch(() => failures++));
      await clock.advance(500);
    }
    await clock.advance(30_000);
    await Promise.all(calls);
    expect(seen.get('retry')).toBeGreaterThan(0);
    expect(seen.get('fallback')).toBeGreaterThan(0);
    expect(seen.get('cooldown')).toBeGreaterThan(0);
    expect(seen.get('breaker:open')).toBeGreaterThan(0);
    expect(seen.get('success')).toBeGreaterThan(100);
    expect(failures).toBeLessThan(12);
  });
});

describe('reload', () => {
  let mock: OpenAiMock;
  let gateway: Gateway;
  let url: string;
  const logs: string[] = [];

  const configFor = (route: string, extra: Record<string, unknown> = {}) =>
    valid(
      validateConfig({
        server: { port: 0, shutdownGrace: '2s' },
        providers: { oai: { type: 'openai', apiKey: 'sk-reload-key-1234567', baseURL: mock.url } },
        routes: { [route]: { targets: [{ provider: 'oai', model: 'gpt-4o' }], retry: { attempts: 1 }, ...extra } },
      }),
    );
  const ask = (model: string) =>
    fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });

  beforeAll(async () => {
    mock = await startOpenAiMock({
      replies: (request) => {
        const text = JSON.stringify(request.body);
        return text.includes('slow please') ? { type: 'text', text: 'slow answer', delayMs: 300 } : { type: 'text', text: 'fast answer' };
      },
    });
    gateway = createGateway({ config: configFor('first'), logger: createLogger({ write: (line) => logs.push(line) }) });
    url = (await gateway.listen()).url;
  });
  afterAll(async () => {
    await gateway?.close();
    await mock?.close();
  });

  it('keeps the old config when the new one is invalid, and says why', async () => {
    const result = gateway.reload({ providers: { oai: { type: 'openai' } }, routes: { broken: { targets: [{ provider: 'nope', model: 'x' }] } } });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual(['routes.broken.targets[0].provider: expected the name of a configured provider (oai), got "nope"']);
    expect((await ask('first')).status).toBe(200);
    expect((await ask('broken')).status).toBe(404);
    expect(logs.some((l) => l.includes('reload rejected'))).toBe(true);
  });

  it('keeps the old config when a provider refuses the new one', async () => {
    const config = configFor('second');
    const result = gateway.reload({ ...config, providers: { ...config.providers, sim: { type: 'simulated', faults: [{ kind: 'server', between: ['1h', '1m'] }] } } });
    expect(result.ok).toBe(false);
    expect((await ask('first')).status).toBe(200);
  });

  it('swaps routes without dropping a request in flight', async () => {
    const events: GatewayEvent[] = [];
    const dispose = gateway.on((e) => events.push(e));
    const oldRouter = gateway.route('first')!.router;
    const inFlight = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'first', messages: [{ role: 'user', content: 'slow please' }] }),
    });
    await expect.poll(() => gateway.inFlight).toBe(1);
    const result = gateway.reload(configFor('second'));
    expect(result.ok).toBe(true);
    expect(gateway.route('second')).toBeDefined();
    expect(gateway.route('first')).toBeUndefined();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('slow answer');
    expect((await ask('second')).status).toBe(200);
    expect((await ask('first')).status).toBe(404);
    expect(events.some((e) => e.type === 'reload' && e.routes.join() === 'second')).toBe(true);
    // The old router finished its request and was retired: its events no longer reach the gateway.
    const fromOld = () => events.filter((e) => e.type === 'router' && e.route === 'first').length;
    expect(fromOld()).toBeGreaterThan(0);
    const before = fromOld();
    await oldRouter.chat({ messages: [{ role: 'user', content: 'direct' }] });
    expect(fromOld()).toBe(before);
    dispose();
  });

  it('keeps the running store when the store section changes, and says it takes effect on restart', async () => {
    const store = gateway.store;
    const next = valid(validateConfig({ ...configFor('second'), store: { type: 'redis', url: 'redis://:s3cret-pass@127.0.0.1:1' } }));
    const result = gateway.reload(next);
    expect(result.ok).toBe(true);
    expect(gateway.store).toBe(store);
    expect(gateway.config.store).toEqual({ type: 'memory' });
    expect(gateway.status().store).toEqual({ type: 'memory' });
    const warning = logs.find((l) => l.includes('store changes take effect on restart'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', running: 'memory', configured: 'redis redis://127.0.0.1:1 (prefix ballast:)' });
    expect(logs.join('')).not.toContain('s3cret-pass');
    expect((await ask('second')).status).toBe(200);
  });
});

describe('reload: server.timeouts', () => {
  const configWith = (timeouts: Record<string, string>) => valid(validateConfig({ ...MINIMAL, server: { port: 0, timeouts } }));

  /** Sends half a request's headers, then the rest after `pauseMs`; resolves with the status line the server sent. */
  const slowHeaders = (url: string, pauseMs: number) =>
    new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname, () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        const timer = setTimeout(() => socket.write('Connection: close\r\n\r\n'), pauseMs);
        socket.once('close', () => clearTimeout(timer));
      });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''));
    });

  it('apply to the running server, as gateway.config shows them', async () => {
    const logs: string[] = [];
    const gateway = createGateway({ config: configWith({ headers: '100ms', request: '60s', keepAlive: '5s' }), logger: createLogger({ write: (line) => logs.push(line) }) });
    try {
      const { url } = await gateway.listen();
      expect(await slowHeaders(url, 400)).toBe('HTTP/1.1 408 Request Timeout');

      expect(gateway.reload(configWith({ headers: '30s', request: '45s', keepAlive: '2s' })).ok).toBe(true);
      // The same slow client now gets its answer: the 100 ms headers timeout is gone.
      expect(await slowHeaders(url, 400)).toBe('HTTP/1.1 200 OK');
      expect(gateway.config.server.timeouts).toEqual({ headers: '30s', request: '45s', keepAlive: '2s' });
      expect([gateway.server.headersTimeout, gateway.server.requestTimeout, gateway.server.keepAliveTimeout]).toEqual([30_000, 45_000, 2_000]);
      // Nothing to warn about: the server checks often enough for a 30 s headers timeout.
      expect(logs.filter((l) => l.includes('server.timeouts'))).toEqual([]);
    } finally {
      await gateway.close();
    }
  });

  it('say when a shorter headers timeout is checked less often than it wants until restart', async () => {
    const logs: string[] = [];
    const gateway = createGateway({ config: configWith({ headers: '10s', request: '60s', keepAlive: '5s' }), logger: createLogger({ write: (line) => logs.push(line) }) });
    try {
      expect(gateway.reload(configWith({ headers: '1s', request: '2s', keepAlive: '1s' })).ok).toBe(true);
      expect([gateway.server.headersTimeout, gateway.server.requestTimeout, gateway.server.keepAliveTimeout]).toEqual([1_000, 2_000, 1_000]);
      const warning = logs.find((l) => l.includes('server.timeouts.headers'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', connectionsCheckingInterval: 1000, wanted: 500 });
    } finally {
      await gateway.close();
    }
  });
});

describe('per-target retry in the config', () => {
  it('reaches the target, over the route\'s retry', async () => {
    const { createGateway } = await import('../src/gateway/server.js');
    const { createLogger } = await import('../src/gateway/logger.js');
    const loaded = validateConfig({
      providers: { sim: { type: 'simulated' } },
      routes: { chat: { retry: { attempts: 1 }, targets: [{ provider: 'sim', model: 'a', retry: { attempts: 4, wait: '100ms' } }, { provider: 'sim', model: 'b' }] } },
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const gateway = createGateway({ config: loaded.config, logger: createLogger({ level: 'silent' }) });
    const [a, b] = gateway.routers().get('chat')!.targets();
    expect(a!.retry).toEqual({ attempts: 4, wait: '100ms' });
    expect(b!.retry).toBeUndefined();
    await gateway.close();
  });
});

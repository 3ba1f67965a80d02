// The `ballast` CLI: check, serve (in process and as a real process), help and errors.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { capturedIo, tempDirForTests } from './support/cli-io.js';
import { startServe } from '../src/cli/serve.js';

const tmp = tempDirForTests('ballast-cli-');
const captured = (env: Record<string, string> = {}) => capturedIo(tmp.path, env);

const GOOD = `
server:
  port: 0
providers:
  sim:
    type: simulated
    reply: "hello from {model}"
routes:
  chat:
    targets:
      - provider: sim
        model: m1
`;

describe('ballast check', () => {
  it('a valid file: exit 0 and a summary', async () => {
    await writeFile(join(tmp.path, 'good.yaml'), GOOD);
    const io = captured();
    expect(await main(['check', 'good.yaml'], io)).toBe(0);
    expect(io.stdout()).toContain('good.yaml is valid: 1 provider (sim), 1 route (chat)');
    expect(io.stdout()).toContain('chat  priority: sim/m1 (simulated)');
  });

  it('an invalid file: every problem on its own line, exit 1', async () => {
    await writeFile(join(tmp.path, 'bad.yaml'), 'providers:\n  sim: { type: simulated, seed: x }\nroutes:\n  chat:\n    targets: [{ provider: sin, model: m }]\n');
    const io = captured();
    expect(await main(['check', 'bad.yaml'], io)).toBe(1);
    expect(io.stdout().trim().split('\n')).toEqual([
      'providers.sim.seed: expected a number, got "x"',
      'routes.chat.targets[0].provider: expected the name of a configured provider (sim), got "sin"',
    ]);
    expect(io.stderr()).toBe('bad.yaml: 2 problems\n');
  });

  it('without a file: the config serve would build from the environment', async () => {
    const demo = captured();
    expect(await main(['check'], demo)).toBe(0);
    expect(demo.stdout()).toContain('the demo config (no config file, no provider keys set) is valid');
    const keys = captured({ OPENAI_API_KEY: 'sk-test-cli-123456789' });
    expect(await main(['check'], keys)).toBe(0);
    expect(keys.stdout()).toContain('the config from OPENAI_API_KEY (no config file) is valid');
    expect(keys.stdout()).not.toContain('sk-test-cli-123456789');
  });

  it('the redis store: valid with ${REDIS_URL}, shown without its password; its problems name the path', async () => {
    await writeFile(join(tmp.path, 'redis.yaml'), `${GOOD}store:\n  type: redis\n  url: \${REDIS_URL}\n  prefix: "app1:"\n`);
    const io = captured({ REDIS_URL: 'redis://:s3cret-pass@cache.internal:6380/1' });
    expect(await main(['check', 'redis.yaml'], io)).toBe(0);
    expect(io.stdout()).toContain('redis.yaml is valid: 1 provider (sim), 1 route (chat)');
    expect(io.stdout()).toContain('store: redis redis://cache.internal:6380/1 (prefix app1:)');
    expect(io.stdout() + io.stderr()).not.toContain('s3cret-pass');

    await writeFile(join(tmp.path, 'memory.yaml'), GOOD);
    const memory = captured();
    expect(await main(['check', 'memory.yaml'], memory)).toBe(0);
    expect(memory.stdout()).toContain('\nstore: memory\n');

    await writeFile(join(tmp.path, 'bad-redis.yaml'), `${GOOD}store:\n  type: redis\n  url: \${REDIS_URL}\n  prefix: ""\n  channel: x\n`);
    const bad = captured({ REDIS_URL: 'tcp://:s3cret-pass@cache.internal:6380' });
    expect(await main(['check', 'bad-redis.yaml'], bad)).toBe(1);
    expect(bad.stdout().trim().split('\n')).toEqual([
      'store.url: expected a Redis URL such as redis://127.0.0.1:6379 or "${REDIS_URL}", got the value of ${REDIS_URL} (hidden)',
      'store.prefix: expected a non-empty string, got ""',
      'store.channel: expected one of the keys type, url, prefix, got an unknown key',
    ]);
    expect(bad.stdout() + bad.stderr()).not.toContain('s3cret-pass');

    const unset = captured({});
    expect(await main(['check', 'redis.yaml'], unset)).toBe(1);
    expect(unset.stdout()).toContain('store.url: expected the environment variable REDIS_URL to be set');
  });

  it('a missing file is one clear line', async () => {
    const io = captured();
    expect(await main(['check', 'nope.yaml'], io)).toBe(1);
    expect(io.stdout()).toMatch(/nope\.yaml: expected a readable config file, got no such file\n$/);
  });
});

describe('help and usage errors', () => {
  it('--help on every command', async () => {
    const serveHelp = captured();
    await main(['serve', '--help'], serveHelp);
    // `ballast help <command>` is that command's --help.
    const viaHelp = captured();
    expect(await main(['help', 'serve'], viaHelp)).toBe(0);
    expect(viaHelp.stdout()).toBe(serveHelp.stdout());
    for (const args of [['--help'], ['serve', '--help'], ['check', '-h'], ['simulate', '--help']]) {
      const io = captured();
      expect(await main(args, io)).toBe(0);
      expect(io.stdout()).toMatch(/Usage: ballast/);
    }
  });

  it('errors are one line with a pointer to --help, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /^ballast: unknown command "frobnicate" \(see ballast --help\)\n$/],
      [['serve', '--port', 'eighty'], /^ballast: --port expects a port number from 0 to 65535, got "eighty" \(see ballast serve --help\)\n$/],
      [['serve', '--bogus'], /^ballast: unknown option --bogus \(see ballast serve --help\)\n$/],
      [['check', '--foo'], /^ballast: unknown option --foo \(see ballast check --help\)\n$/],
      [['simulate', '--duration', 'soon'], /^ballast: --duration expects a duration such as 30m, 1h or 1h30m, got "soon" \(see ballast simulate --help\)\n$/],
      [['simulate', '--rps', '-1'], /^ballast: --rps needs a value; for one starting with a dash write --rps=<value> \(see ballast simulate --help\)\n$/],
      [['serve', '--port'], /^ballast: Option '-p, --port <value>' argument missing \(see ballast serve --help\)\n$/],
    ];
    for (const [args, message] of cases) {
      const io = captured();
      expect(await main(args, io)).toBe(2);
      expect(io.stderr()).toMatch(message);
    }
  });

  it('serve with an invalid config prints its problems and exits 1', async () => {
    await writeFile(join(tmp.path, 'broken.json'), JSON.stringify({ providers: {}, routes: { a: { targets: [] } } }));
    const io = captured();
    expect(await main(['serve', '--config', 'broken.json'], io)).toBe(1);
    expect(io.stderr()).toBe('broken.json is invalid:\nroutes.a.targets: expected a non-empty list, got an empty list\n');
  });
});

describe('ballast serve', () => {
  it('demo mode without config or keys: banner, labelled answers, clean stop', async () => {
    const io = captured({});
    const serving = await startServe(['--port', '0', '--log-level', 'silent'], io);
    try {
      expect(serving!.gateway.demo).toBe(true);
      expect(io.stderr()).toContain(`ballast gateway listening on ${serving!.address.url}`);
      expect(io.stderr()).toContain('mode: DEMO');
      expect(io.stderr()).toContain('\nstore: memory\n');
      expect(io.stderr()).toMatch(/demo +priority, resumes streams: primary\/sim-large \(simulated\) -> backup\/sim-medium/);
      const health = await fetch(`${serving!.address.url}/healthz`);
      expect(health.headers.get('x-ballast-demo')).toBe('simulated');
    } finally {
      await serving?.stop();
    }
  });

  it('reloads its file, and keeps the old config when the new one is invalid', async () => {
    const file = join(tmp.path, 'live.yaml');
    await writeFile(file, GOOD);
    const io = captured();
    const serving = (await startServe(['--config', file, '--host', '127.0.0.1', '--log-level', 'silent'], io))!;
    const ask = (model: string) =>
      fetch(`${serving.address.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) });
    try {
      expect(io.stderr()).toContain(`config: ${file}`);
      expect((await ask('chat')).status).toBe(200);
      await writeFile(file, GOOD.replace('chat:', 'renamed:'));
      expect(await serving.reload()).toBe(true);
      expect(io.stderr()).toContain('config reloaded');
      expect((await ask('renamed')).status).toBe(200);
      await writeFile(file, 'providers: {}\nroutes: {}\n');
      expect(await serving.reload()).toBe(false);
      expect(io.stderr()).toContain('config reload rejected, the old config stays in force:\n  routes: expected at least one route, got none');
      expect((await ask('renamed')).status).toBe(200);
      // A file change is picked up by itself (polled every 500 ms)...
      await writeFile(file, GOOD.replace('chat:', 'watched:'));
      await expect.poll(async () => (await ask('watched')).status, { timeout: 5000, interval: 100 }).toBe(200);
      // ...and SIGHUP reloads too.
      await writeFile(file, GOOD.replace('chat:', 'hupped:'));
      process.emit('SIGHUP');
      await expect.poll(async () => (await ask('hupped')).status, { timeout: 5000, interval: 50 }).toBe(200);
    } finally {
      await serving.stop();
    }
  });

  it('a redis store that cannot connect: it says so at start, without the password, and serves all the same', async () => {
    const file = join(tmp.path, 'unreachable-redis.yaml');
    await writeFile(file, `${GOOD}store:\n  type: redis\n  url: \${REDIS_URL}\n`);
    const io = captured({ REDIS_URL: 'redis://:s3cret-pass@127.0.0.1:1' });
    const serving = (await startServe(['--config', file], io))!;
    try {
      expect(io.stderr()).toMatch(/\nstore: redis redis:\/\/127\.0\.0\.1:1 \(NOT connected: .+\)\n/);
      const response = await fetch(`${serving.address.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
      expect(response.status).toBe(200);
      expect(io.stdout()).toContain('"msg":"state store not connected');
    } finally {
      await serving.stop();
    }
    expect(io.stdout() + io.stderr()).not.toContain('s3cret-pass');
  });

  it('runs as a real process: `node --import tsx src/cli/main.ts serve`, answers, stops on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0'], {
      cwd: join(import.meta.dirname, '..'),
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => /listening on (http:\/\/\S+) /.exec(stderr)?.[1], { timeout: 15_000, interval: 50 }).toBeDefined();
      const url = /listening on (http:\/\/\S+) /.exec(stderr)![1]!;
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(['demo', 'demo-hedged']);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('"msg":"request"');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('bin/ballast.js runs without a build step', async () => {
    const child = spawn(process.execPath, ['bin/ballast.js', '--version'], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

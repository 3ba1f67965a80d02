// `ballast simulate`: the text and JSON reports, config files, help and usage errors (in process, with a captured io).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { capturedIo, tempDirForTests } from './support/cli-io.js';
import type { SimulationReport } from '../src/gateway/simulate.js';

const tmp = tempDirForTests('ballast-simulate-');
const captured = (env: Record<string, string> = {}) => capturedIo(tmp.path, env);

const OUTAGE = `
providers:
  main:
    type: simulated
    latency: 200ms
    faults: [{ kind: overloaded, status: 503, between: [10m, 40m] }]
  spare: { type: simulated, latency: 300ms }
routes:
  chat:
    targets:
      - { provider: main, model: m1 }
      - { provider: spare, model: s1 }
`;

describe('ballast simulate', () => {
  it('the demo config by default: a text report per route with its success rate', async () => {
    const io = captured();
    expect(await main(['simulate', '--duration', '10m'], io)).toBe(0);
    const out = io.stdout();
    expect(out).toMatch(/^ballast simulate: the demo config, 10m of virtual time, 2 requests\/s per route, not streamed, seed 1\n/);
    expect(out).toContain('\nroute demo (priority: primary/sim-large -> backup/sim-medium -> local/sim-small)\n');
    expect(out).toContain('\nroute demo-hedged (priority: primary/sim-large -> backup/sim-medium -> local/sim-small)\n');
    expect(out).toMatch(/ {2}requests {3}1200: \d+ answered \((100|\d{1,2}\.\d)%\), \d+ failed\n/);
    expect(out).toMatch(/\n {2}timeline +requests +success +fallbacks +answered most\n {2}0s-50s /);
    expect(io.stderr()).toMatch(/^simulated 2400 requests over 10m of virtual time in [\d.]+ s\n$/);
  });

  it('without --config it reads BALLAST_CONFIG, as serve and check do', async () => {
    await writeFile(join(tmp.path, 'outage.yaml'), OUTAGE);
    const io = captured({ BALLAST_CONFIG: 'outage.yaml' });
    expect(await main(['simulate', '--json', '--duration', '10m', '--rps', '1'], io)).toBe(0);
    expect((JSON.parse(io.stdout()) as SimulationReport).routes.map((r) => r.route)).toEqual(['chat']);
  });

  it('--json prints the report; the same seed prints the same bytes', async () => {
    await writeFile(join(tmp.path, 'outage.yaml'), OUTAGE);
    const args = ['simulate', '--config', 'outage.yaml', '--json', '--duration', '1h', '--rps', '1', '--seed', '5'];
    const io = captured();
    expect(await main(args, io)).toBe(0);
    const report = JSON.parse(io.stdout()) as SimulationReport;
    expect(report).toMatchObject({ seed: 5, durationMs: 3_600_000, rps: 1, requestsPerRoute: 3600 });
    expect(report.routes[0]).toMatchObject({ route: 'chat', requests: 3600, successes: 3600, successRate: 1 });
    const again = captured();
    expect(await main(args, again)).toBe(0);
    expect(again.stdout()).toBe(io.stdout());
  });

  it('--route picks routes; --stream streams', async () => {
    const io = captured();
    expect(await main(['simulate', '--route', 'demo', '--stream', '-d', '2m', '--rps', '0.5'], io)).toBe(0);
    expect(io.stdout()).toMatch(/^ballast simulate: the demo config, 2m of virtual time, 0.5 requests\/s per route, streamed, seed 1\n/);
    expect(io.stdout()).toContain('route demo ');
    expect(io.stdout()).not.toContain('route demo-hedged');
    expect(io.stdout()).toContain('  requests   60: ');
  });

  it('a network provider is replaced, even when its key is not set', async () => {
    await writeFile(
      join(tmp.path, 'openai.yaml'),
      'providers:\n  openai: { type: openai, apiKey: "${OPENAI_API_KEY}", baseURL: "http://127.0.0.1:1/v1" }\nroutes:\n  chat: { targets: [{ provider: openai, model: gpt-4o }] }\n',
    );
    const io = captured();
    expect(await main(['simulate', '-c', 'openai.yaml', '-d', '5m'], io)).toBe(0);
    expect(io.stdout()).toContain('\nnote: openai: not simulated in the config; replaced by a healthy simulated provider\n');
    expect(io.stdout()).toContain('  requests   600: 600 answered (100%), 0 failed\n');
    expect(io.stderr()).toContain('note: OPENAI_API_KEY is not set; not needed here, the providers using it are not called\n');
  });

  it('--help exits 0', async () => {
    const io = captured();
    expect(await main(['simulate', '--help'], io)).toBe(0);
    expect(io.stdout()).toMatch(/^Usage: ballast simulate /);
  });

  it('usage errors are one line, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['simulate', '--duration', 'forever'], 'ballast: --duration expects a duration such as 30m, 1h or 1h30m, got "forever" (see ballast simulate --help)\n'],
      [['simulate', '--duration', '0s'], 'ballast: --duration expects a duration such as 30m, 1h or 1h30m, got "0s" (see ballast simulate --help)\n'],
      [['simulate', '--rps', 'lots'], 'ballast: --rps expects a number of requests per second > 0, got "lots" (see ballast simulate --help)\n'],
      [['simulate', '--seed', '1.5'], 'ballast: --seed expects an integer, got "1.5" (see ballast simulate --help)\n'],
      [['simulate', '--route', 'nope'], 'ballast: no route named "nope" in the config (routes: demo, demo-hedged) (see ballast simulate --help)\n'],
      [
        ['simulate', '--duration', '24h'],
        'ballast: the simulation would send 345600 requests (172800 on each of 2 routes), more than the limit of 200000: shorten --duration, lower --rps or pick routes with --route (see ballast simulate --help)\n',
      ],
    ];
    for (const [args, message] of cases) {
      const io = captured();
      expect(await main(args, io), args.join(' ')).toBe(2);
      expect(io.stderr()).toBe(message);
      expect(io.stdout()).toBe('');
    }
  });

  it('an invalid config prints its problems and exits 1', async () => {
    await writeFile(join(tmp.path, 'bad.yaml'), 'providers: {}\nroutes:\n  chat: { targets: [{ provider: gone, model: m }] }\n');
    const io = captured();
    expect(await main(['simulate', '--config', 'bad.yaml'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^bad\.yaml is invalid:\nroutes\.chat\.targets\[0\]\.provider: expected .*\n$/);
    const missing = captured();
    expect(await main(['simulate', '--config', 'missing.yaml'], missing)).toBe(1);
    expect(missing.stderr()).toMatch(/^missing\.yaml is invalid:\n.*missing\.yaml: expected a readable config file, got no such file\n$/);
  });
});

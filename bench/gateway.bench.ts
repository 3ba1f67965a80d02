/**
 * Gateway overhead, in one run: a minimal OpenAI-compatible upstream answering at once
 * (bench/gateway-upstream.ts), the same upstream through Ballast (`node dist/cli/main.js serve`,
 * the built CLI, one route with its default retry / breaker / timeouts) and through the Portkey
 * gateway (npm @portkey-ai/gateway 1.15.2, installed into the ignored `.bench/portkey` and forced
 * onto 127.0.0.1, see bench/gateway-portkey.ts). Each runs in its own process; the load comes from
 * this process (bench/gateway-load.ts): N requests per case, non-streaming and streaming (the whole
 * SSE body read), at 1 and at 50 keep-alive connections; req/s, p50 and p99 per case, rounds
 * interleaved so drift hits every target alike (req/s: median of rounds; latencies: all rounds).
 * `CPU µs/req` is the CPU time (from /proc) the serving process spent per request — the upstream's
 * own for direct, the proxy's for the others: a gateway's cost without the noise of three
 * processes sharing the cores.
 *
 * A fourth target, `bare-proxy` (bench/gateway-bare-proxy.ts), forwards with nothing else in it:
 * the ceiling any proxy process reaches on the machine, printed beside the goals.
 *
 * `npm run bench:gateway` (add `-- --quick` for a short run, `-- --cpu-prof` to profile the Ballast
 * process into .bench/profiles and print where its time goes, `-- --no-portkey` to skip Portkey,
 * `-- --no-bare` to skip the bare proxy).
 * Everything listens on 127.0.0.1; the children are stopped by PID at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { quantile, requestBody, runLoad, type LoadResult, type LoadTarget } from './gateway-load.js';
import { isLoopback, listeningAddresses, PORTKEY_VERSION, preparePortkey } from './gateway-portkey.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const cpuProf = argv.includes('--cpu-prof');
const skipPortkey = argv.includes('--no-portkey');
const skipBare = argv.includes('--no-bare');
const numberFlag = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? Number(argv[i + 1]) : undefined;
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORK = join(ROOT, '.bench');
const PROFILES = join(WORK, 'profiles');
const HOST = '127.0.0.1';
const MODEL = 'gpt-4o-mini';
const API_KEY = 'sk-bench-not-a-real-key';

const ROUNDS = numberFlag('--rounds') ?? (quick ? 1 : 3);
const REQUESTS = { 1: numberFlag('--requests-1') ?? (quick ? 500 : 1000), 50: numberFlag('--requests-50') ?? (quick ? 3000 : 6000) } as const;
const WARMUP = quick ? 1000 : 4000;
const RUN_DEADLINE_MS = 90_000;
const START_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Child processes: started here, stopped by PID (SIGTERM, then SIGKILL after a grace period).

interface Child {
  name: string;
  process: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}
const children: Child[] = [];

function startChild(name: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const entry: Child = {
    name,
    process: child,
    output: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  const keep = (chunk: Buffer) => {
    entry.output = (entry.output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  children.push(entry);
  return entry;
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await child.exited;
  clearTimeout(timer);
}

// Last resort if the bench dies: kill the children it started, by PID.
process.on('exit', () => {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the children`);
    process.exit(130);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time (user + system, µs) a process has used so far, from /proc; undefined where there is none. */
function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

/** Polls `ready` until it resolves true; fails when the child exits or the time is up. */
async function waitReady(child: Child, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited (${child.process.exitCode ?? child.process.signalCode}): ${lastLines(child.output)}`);
    }
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${child.name} did not become ready within ${START_TIMEOUT_MS / 1000} s: ${lastLines(child.output)}`);
}

const lastLines = (text: string) =>
  stripVTControlCharacters(text)
    .trim()
    .split('\n')
    .slice(-3)
    .join(' | ') || '(no output)';

// ---------------------------------------------------------------------------------------------
// The three targets.

async function startUpstream(): Promise<string> {
  const port = await freePort();
  const child = startChild('upstream', ['--import', 'tsx', join(ROOT, 'bench/gateway-upstream.ts'), '--port', String(port)]);
  await waitReady(child, async () => child.output.includes('listening '));
  return `http://${HOST}:${port}/v1`;
}

/** The ceiling: a forwarding proxy with nothing else in it (bench/gateway-bare-proxy.ts). */
async function startBareProxy(upstream: string): Promise<LoadTarget> {
  const port = await freePort();
  const child = startChild('bare-proxy', ['--import', 'tsx', join(ROOT, 'bench/gateway-bare-proxy.ts'), '--port', String(port), '--upstream', upstream, '--model', MODEL]);
  await waitReady(child, async () => child.output.includes('listening '));
  return { name: 'bare-proxy', url: `http://${HOST}:${port}/v1/chat/completions`, headers: {}, model: 'bench' };
}

async function startBallast(upstream: string): Promise<{ target: LoadTarget; child: Child }> {
  const port = await freePort();
  const config = {
    server: { host: HOST, port },
    providers: { upstream: { type: 'openai', baseURL: upstream, apiKey: API_KEY } },
    routes: { bench: { targets: [{ provider: 'upstream', model: MODEL }] } },
  };
  mkdirSync(WORK, { recursive: true });
  const file = join(WORK, 'gateway-bench-ballast.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  const profile = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', PROFILES] : [];
  if (cpuProf) mkdirSync(PROFILES, { recursive: true });
  const child = startChild('ballast', [...profile, join(ROOT, 'dist/cli/main.js'), 'serve', '--config', file, '--host', HOST, '--port', String(port), '--log-level', 'warn']);
  const base = `http://${HOST}:${port}`;
  await waitReady(child, async () => (await fetch(`${base}/healthz`)).ok);
  return { child, target: { name: 'ballast', url: `${base}/v1/chat/completions`, headers: {}, model: 'bench' } };
}

async function startPortkey(upstream: string): Promise<LoadTarget> {
  const start = await preparePortkey(join(WORK, 'portkey'), (line) => console.log(line));
  const port = await freePort();
  // --headless and NODE_ENV=production: no log-viewer UI, no console spinner.
  const child = startChild('portkey', [start, `--port=${port}`, '--headless'], { NODE_ENV: 'production' });
  const base = `http://${HOST}:${port}`;
  await waitReady(child, async () => (await fetch(`${base}/`)).ok);
  const addresses = listeningAddresses(port);
  if (addresses && (!addresses.length || !addresses.every(isLoopback))) {
    await stopChild(child);
    throw new Error(`Portkey listened on ${addresses.join(', ') || 'nothing visible'}, not only loopback; stopped it`);
  }
  return {
    name: 'portkey',
    url: `${base}/v1/chat/completions`,
    headers: { authorization: `Bearer ${API_KEY}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream },
    model: MODEL,
  };
}

/** One request of each kind through `target`, checked like the load checks them; throws the reason. */
async function smokeTest(target: LoadTarget): Promise<void> {
  for (const stream of [false, true]) {
    const result = await runLoad(target, { requests: 2, connections: 1, stream, deadlineMs: 10_000 });
    if (result.errors) throw new Error(`${target.name} ${stream ? 'streaming' : 'non-streaming'}: ${result.firstError}`);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profile summary: self time by function and by origin.

function summarizeProfile(dir: string): void {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  } catch {
    files = [];
  }
  if (!files.length) return console.log(`\n--cpu-prof: no profile found in ${dir}`);
  interface Node {
    id: number;
    hitCount?: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  const profile = JSON.parse(readFileSync(files[0]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const file = frame.url.replace(`file://${ROOT}`, '').replace(/^file:\/\//, '');
    const origin = frame.url.includes('/dist/')
      ? `ballast ${file}`
      : frame.url.startsWith('node:')
        ? frame.url.replace(/^node:internal\//, 'node internal ').replace(/\/.*$/, '')
        : frame.url
          ? file
          : frame.functionName;
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  console.log(`\nBallast CPU profile (${files[0]}), ${(busy / 1e6).toFixed(1)} s busy, self time:`);
  console.log(`by origin:\n${top(byOrigin, 12)}`);
  console.log(`by function:\n${top(byFunction, 20)}`);
}

// ---------------------------------------------------------------------------------------------
// The run.

interface Case {
  stream: boolean;
  connections: 1 | 50;
}
const CASES: Case[] = [
  { stream: false, connections: 1 },
  { stream: false, connections: 50 },
  { stream: true, connections: 1 },
  { stream: true, connections: 50 },
];
const caseName = (c: Case) => `${c.stream ? 'stream' : 'json'}, ${c.connections} conn`;

interface Figures {
  reqPerSec: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  firstError?: string;
}

function figures(results: LoadResult[]): Figures {
  const rates = results.map((r) => ((r.requests - r.errors) / r.wallMs) * 1000).sort((a, b) => a - b);
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const firstError = results.find((r) => r.firstError)?.firstError;
  return {
    reqPerSec: rates[Math.floor(rates.length / 2)]!,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    ...(firstError ? { firstError } : {}),
  };
}

async function main(): Promise<number> {
  console.log(
    `bench:gateway  node ${process.version}  ${cpus().length} CPU (${cpus()[0]?.model.trim() ?? '?'})  ${ROUNDS} round(s) × ${REQUESTS[1]} requests at 1 conn / ${REQUESTS[50]} at 50 conn per target and case${quick ? '  (--quick)' : ''}`,
  );
  console.log('client (this process), upstream, Ballast and Portkey each run in their own process, all on 127.0.0.1.\n');

  const upstream = await startUpstream();
  const targets: LoadTarget[] = [{ name: 'direct', url: `${upstream}/chat/completions`, headers: { authorization: `Bearer ${API_KEY}` }, model: MODEL }];
  const ballast = await startBallast(upstream);
  targets.push(ballast.target);
  if (!skipBare) targets.push(await startBareProxy(upstream));
  let portkeyNote: string;
  if (skipPortkey) portkeyNote = 'Portkey: skipped (--no-portkey)';
  else {
    try {
      const portkey = await startPortkey(upstream);
      await smokeTest(portkey);
      targets.push(portkey);
      portkeyNote = `Portkey: @portkey-ai/gateway ${PORTKEY_VERSION} (@hono/node-server 1.13.5, hono 4.9.7), listening on ${HOST} only`;
    } catch (error) {
      portkeyNote = `Portkey: UNAVAILABLE — ${(error as Error).message}`;
      const child = children.find((c) => c.name === 'portkey');
      if (child) await stopChild(child);
    }
  }
  for (const target of targets) await smokeTest(target);
  console.log(`upstream: ${upstream} (fixed reply; JSON, or SSE with ${'role + 10 text + finish + usage chunks + [DONE]'})`);
  console.log(`Ballast: node dist/cli/main.js serve, one route, default retry/breaker/timeouts, --log-level warn (no per-request access log)`);
  if (!skipBare) console.log('bare-proxy: the ceiling — body in, model set, forwarded over undici, answer copied back; nothing else (bench/gateway-bare-proxy.ts)');
  console.log(`${portkeyNote}\n`);

  // Warm-up: JIT every path in every process before measuring.
  for (const target of targets) {
    for (const stream of [false, true]) await runLoad(target, { requests: WARMUP, connections: 50, stream, deadlineMs: RUN_DEADLINE_MS });
  }

  // TCP connections the upstream accepted during each target's runs. The stats request goes on a
  // connection of its own (agent: false), counted before it is answered: hence the "- 1" below.
  const upstreamConnections = () =>
    new Promise<number>((resolve, reject) => {
      const req = httpGet(`${upstream.replace(/\/v1$/, '')}/bench/connections`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (part: Buffer) => (text += part.toString('utf8')));
        res.on('end', () => resolve((JSON.parse(text) as { connections: number }).connections));
      });
      req.on('error', reject);
    });
  const opened = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const requestsSent = new Map<string, number>(targets.map((t) => [t.name, 0]));

  const results = new Map<string, LoadResult[]>();
  // CPU the serving process spent per request (the upstream's own for direct): the gateway's cost
  // without the noise of three processes sharing the cores.
  const cpu = new Map<string, { micros: number; requests: number }>();
  const key = (c: Case, t: LoadTarget) => `${caseName(c)}|${t.name}`;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CASES) {
      // Rotate the order each round so no target always runs first.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const target of order) {
        const before = await upstreamConnections();
        const serving = children.find((child) => child.name === (target.name === 'direct' ? 'upstream' : target.name))?.process.pid;
        const cpuBefore = cpuMicros(serving);
        const result = await runLoad(target, { requests: REQUESTS[c.connections], connections: c.connections, stream: c.stream, deadlineMs: RUN_DEADLINE_MS });
        const cpuAfter = cpuMicros(serving);
        if (cpuBefore !== undefined && cpuAfter !== undefined) {
          const k = key(c, target);
          cpu.set(k, { micros: (cpu.get(k)?.micros ?? 0) + cpuAfter - cpuBefore, requests: (cpu.get(k)?.requests ?? 0) + result.requests });
        }
        opened.set(target.name, opened.get(target.name)! + (await upstreamConnections()) - before - 1);
        requestsSent.set(target.name, requestsSent.get(target.name)! + result.requests);
        const list = results.get(key(c, target)) ?? [];
        list.push(result);
        results.set(key(c, target), list);
      }
    }
    if (ROUNDS > 1) console.log(`round ${round + 1}/${ROUNDS} done`);
  }

  // Table.
  const rows: string[][] = [['case', 'target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'requests', 'errors']];
  const table = new Map<string, Figures>();
  for (const c of CASES) {
    for (const target of targets) {
      const f = figures(results.get(key(c, target))!);
      table.set(key(c, target), f);
      const used = cpu.get(key(c, target));
      const perRequest = used && used.requests ? String(Math.round(used.micros / used.requests)) : 'n/a';
      rows.push([caseName(c), target.name, Math.round(f.reqPerSec).toLocaleString('en-US'), f.p50.toFixed(3), f.p99.toFixed(3), perRequest, String(f.requests), String(f.errors)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, j) => (j < 2 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const errored = [...table].filter(([, f]) => f.errors);
  for (const [k, f] of errored) console.log(`errors in ${k.replace('|', ' → ')}: ${f.errors}, first: ${f.firstError}`);

  console.log(
    `\nupstream TCP connections opened during the measured runs: ${targets.map((t) => `${t.name} ${opened.get(t.name)} for ${requestsSent.get(t.name)} requests`).join(', ')}`,
  );

  // Ratios and goals.
  const hasPortkey = targets.some((t) => t.name === 'portkey');
  const get = (c: Case, name: string) => table.get(`${caseName(c)}|${name}`);
  const mark = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  console.log('\nratios');
  const goals: Array<[string, boolean | undefined]> = [];
  for (const c of CASES) {
    const direct = get(c, 'direct')!;
    const b = get(c, 'ballast')!;
    const p = get(c, 'portkey');
    const toDirect = b.reqPerSec / direct.reqPerSec;
    const toPortkey = p ? b.reqPerSec / p.reqPerSec : undefined;
    const bare = get(c, 'bare-proxy');
    const ceiling = bare ? `   bare-proxy/direct ${(100 * (bare.reqPerSec / direct.reqPerSec)).toFixed(1).padStart(5)} %   Ballast/bare-proxy ${(100 * (b.reqPerSec / bare.reqPerSec)).toFixed(1).padStart(5)} %` : '';
    console.log(
      `  ${caseName(c).padEnd(17)} Ballast/direct throughput ${(100 * toDirect).toFixed(1).padStart(5)} %   Ballast/Portkey throughput ${toPortkey === undefined ? 'n/a (Portkey unavailable)' : `${toPortkey.toFixed(2)}×`}${ceiling}`,
    );
    goals.push([`Ballast >= 50 % of direct throughput (${caseName(c)}): ${(100 * toDirect).toFixed(1)} %`, toDirect >= 0.5]);
    goals.push([`Ballast >= 8× Portkey's throughput (${caseName(c)}): ${toPortkey === undefined ? 'n/a' : `${toPortkey.toFixed(2)}×`}`, toPortkey === undefined ? undefined : toPortkey >= 8]);
  }
  for (const c of CASES.filter((x) => x.connections === 1)) {
    const added = get(c, 'ballast')!.p50 - get(c, 'direct')!.p50;
    console.log(`  added p50 latency at 1 connection, ${c.stream ? 'streaming' : 'non-streaming'}: ${added.toFixed(3)} ms (Ballast ${get(c, 'ballast')!.p50.toFixed(3)} − direct ${get(c, 'direct')!.p50.toFixed(3)})`);
    if (hasPortkey) console.log(`    (Portkey adds ${(get(c, 'portkey')!.p50 - get(c, 'direct')!.p50).toFixed(3)} ms)`);
    if (get(c, 'bare-proxy')) console.log(`    (the bare proxy adds ${(get(c, 'bare-proxy')!.p50 - get(c, 'direct')!.p50).toFixed(3)} ms)`);
    goals.push([`added p50 at 1 connection < 0.5 ms (${c.stream ? 'streaming' : 'non-streaming'}): ${added.toFixed(3)} ms`, added < 0.5]);
  }
  console.log('\ngoals (issue 5)');
  for (const [label, ok] of goals) console.log(`  ${(ok === undefined ? 'UNKNOWN' : mark(ok)).padEnd(8)} ${label}`);
  if (!hasPortkey) console.log(`  the Portkey comparison could not be made: ${portkeyNote}`);
  if (errored.length) console.log('  WARNING: some requests failed (see above); their targets are measured on the successful ones only');
  console.log(`\nrequest body: ${requestBody(MODEL, true).length} bytes (streaming), ${requestBody(MODEL, false).length} bytes (non-streaming)`);

  // Stop everything (Ballast first, so its CPU profile is written on a clean exit).
  await stopChild(ballast.child);
  for (const child of children) await stopChild(child);
  if (cpuProf) summarizeProfile(PROFILES);
  return errored.length ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench:gateway failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await stopChild(child);
}

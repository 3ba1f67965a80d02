import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { UnsetReference } from '../gateway/config-env.js';
import { loadConfigFile, validateConfig, type ConfigResult } from '../gateway/config-load.js';
import { formatPath, formatProblem } from '../gateway/config-problems.js';
import { DEMO_CONFIG } from '../gateway/demo-config.js';
import {
  simulateTraffic,
  SimulationConfigError,
  SimulationOptionsError,
  type SimulatedRouteReport,
  type SimulationReport,
} from '../gateway/simulate.js';
import { toMs } from '../policy/duration.js';
import { SIMULATE_HELP } from './help.js';
import { UsageError, type CliIo } from './io.js';
import { ConfigError } from './serve.js';

/** `ballast simulate`: replays traffic through a config's routes on a virtual clock and prints the report. */
export async function simulateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      route: { type: 'string', short: 'r', multiple: true },
      duration: { type: 'string', short: 'd' },
      rps: { type: 'string' },
      stream: { type: 'boolean' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(SIMULATE_HELP);
    return 0;
  }
  const duration = values.duration ?? '1h';
  if (!isDuration(duration)) throw new UsageError(`--duration expects a duration such as 30m, 1h or 1h30m, got ${JSON.stringify(duration)}`);
  const rps = values.rps === undefined ? 2 : Number(values.rps);
  if (!(rps > 0 && Number.isFinite(rps)) || values.rps?.trim() === '') throw new UsageError(`--rps expects a number of requests per second > 0, got ${JSON.stringify(values.rps)}`);
  const seed = values.seed === undefined ? 1 : /^-?\d+$/.test(values.seed) ? Number(values.seed) : NaN;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed expects an integer, got ${JSON.stringify(values.seed)}`);

  const file = values.config ?? (io.env.BALLAST_CONFIG?.trim() || undefined);
  const label = file ?? 'the demo config';
  const { result, standIns } = file ? await loadForSimulation(resolve(io.cwd, file), io.env) : { result: validateConfig(DEMO_CONFIG, { env: {} }), standIns: [] };
  if (!result.ok) throw new ConfigError([`${label} is invalid:`, ...result.problems.map(formatProblem)]);

  const startedAt = performance.now();
  let report: SimulationReport;
  try {
    report = await simulateTraffic(result.config, { duration, rps, seed, stream: values.stream ?? false, routes: values.route });
  } catch (error) {
    if (error instanceof SimulationConfigError) throw new ConfigError([`${label} is invalid:`, ...error.problems.map(formatProblem)]);
    if (error instanceof SimulationOptionsError) throw new UsageError(flagWords(error.message));
    throw error;
  }
  const seconds = (performance.now() - startedAt) / 1000;

  if (standIns.length > 0) io.err(unsetNote(standIns));
  io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, label));
  const requests = report.routes.reduce((sum, r) => sum + r.requests, 0);
  io.err(`simulated ${requests} requests over ${formatDuration(report.durationMs)} of virtual time in ${seconds.toFixed(1)} s\n`);
  return 0;
}

function isDuration(text: string): boolean {
  try {
    const ms = toMs(text);
    return ms > 0 && Number.isFinite(ms);
  } catch {
    return false;
  }
}

/** The engine's option names as the flags that set them. */
function flagWords(message: string): string {
  return message
    .replace(/^duration: /, '--duration: ')
    .replace(/^rps: /, '--rps: ')
    .replace('shorten the duration, lower the rate or pick fewer routes', 'shorten --duration, lower --rps or pick routes with --route');
}

// A `${VAR}` that is not set only matters where the simulation reads it. The server and store
// settings are ignored and providers other than `simulated` replaced, so an unset variable there
// gets a stand-in that fits the field instead of failing the run; anywhere else (routes,
// simulated providers) it is still a problem.
const STAND_INS: Readonly<Record<string, string>> = {
  'server.port': '4000',
  'server.bodyLimit': '1mb',
  'server.shutdownGrace': '10s',
  'server.timeouts.headers': '10s',
  'server.timeouts.request': '10s',
  'server.timeouts.keepAlive': '10s',
  'server.cors.maxAge': '10s',
  'store.url': 'redis://unused-by-ballast-simulate.invalid:6379',
};
const URL_STAND_IN = 'http://unused-by-ballast-simulate.invalid';
const TEXT_STAND_IN = 'unset';

/** Loads a config file; unset variables in parts the simulation never uses get stand-ins, returned. */
async function loadForSimulation(path: string, env: CliIo['env']): Promise<{ result: ConfigResult; standIns: UnsetReference[] }> {
  const standIns: UnsetReference[] = [];
  const result = await loadConfigFile(path, {
    env,
    standIn: (reference) => {
      const value = standInFor(reference);
      if (value !== undefined) standIns.push(reference);
      return value;
    },
  });
  return { result, standIns: result.ok ? standIns : [] };
}

/** A value the schema accepts in place of an unset variable, or `undefined` where the simulation needs the real one. */
function standInFor(reference: UnsetReference): string | undefined {
  const { path, name, text, document } = reference;
  const section = unusedSection(path, document);
  if (!section) return undefined;
  if (text.trim() !== `\${${name}}`) return TEXT_STAND_IN; // part of a longer string, e.g. a host name in a URL
  if (section === 'providers') return path[path.length - 1] === 'baseURL' ? URL_STAND_IN : TEXT_STAND_IN;
  return STAND_INS[formatPath(path)] ?? TEXT_STAND_IN;
}

/** The section of `path` when the simulation never reads it: `server`, `store`, or the `providers` it replaces. */
function unusedSection(path: readonly PropertyKey[], document: unknown): 'server' | 'store' | 'providers' | undefined {
  const [section, name] = path;
  if (section === 'server' || section === 'store') return section;
  if (section !== 'providers' || typeof name !== 'string' || path.length < 3 || path[2] === 'type') return undefined;
  const providers = isRecord(document) ? document.providers : undefined;
  const type = isRecord(providers) && isRecord(providers[name]) ? providers[name].type : undefined;
  return typeof type === 'string' && type !== 'simulated' && !type.includes('${') ? 'providers' : undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `note: A, B are not set; not needed here, …`: which variables got stand-ins, and why that is harmless. */
function unsetNote(standIns: readonly UnsetReference[]): string {
  const names = [...new Set(standIns.map((s) => s.name))];
  const one = names.length === 1;
  const why: string[] = [];
  if (standIns.some((s) => s.path[0] !== 'providers')) why.push('the simulation ignores the server and store settings');
  if (standIns.some((s) => s.path[0] === 'providers')) why.push(`the providers using ${one ? 'it' : 'them'} are not called`);
  return `note: ${names.join(', ')} ${one ? 'is' : 'are'} not set; not needed here, ${why.join(' and ')}\n`;
}

// ---------------------------------------------------------------------------------------------
// The text report

/** The report as text: a header, then each route's counts, targets and timeline. */
export function formatReport(report: SimulationReport, label: string): string {
  const lines = [
    `ballast simulate: ${label}, ${formatDuration(report.durationMs)} of virtual time, ${report.rps} request${report.rps === 1 ? '' : 's'}/s per route, ${report.stream ? 'streamed' : 'not streamed'}, seed ${report.seed}`,
  ];
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const route of report.routes) lines.push('', ...formatRoute(route));
  return `${lines.join('\n')}\n`;
}

function formatRoute(r: SimulatedRouteReport): string[] {
  const lines = [`route ${r.route} (${r.strategy}: ${r.targets.join(' -> ')})`];
  const unfinished = r.unfinished > 0 ? `, ${r.unfinished} still running at the end (aborted)` : '';
  lines.push(`  requests   ${r.requests}: ${r.successes} answered (${percent(r.successes, r.requests)}), ${r.failures} failed${unfinished}`);
  lines.push(`  attempts   ${r.meanAttempts.toFixed(2)} per request (${r.attempts}); ${count(r.retries, 'retry', 'retries')}, ${count(r.fallbacks, 'fallback')}, ${count(r.hedges, 'hedge')}`);
  lines.push(`  latency    ${r.latencyMs ? `p50 ${ms(r.latencyMs.p50)}, p99 ${ms(r.latencyMs.p99)} (answered requests, end to end)` : 'no answered requests'}`);
  const kinds = Object.entries(r.failuresByKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  lines.push(`  failures   ${kinds.length > 0 ? kinds.map(([kind, n]) => `${kind} ${n}`).join(', ') : 'none'}`);
  if (r.fallbackPaths.length > 0) {
    const width = String(r.fallbackPaths[0]!.count).length;
    r.fallbackPaths.forEach((p, i) => lines.push(`  ${i === 0 ? 'fallbacks' : '         '}  ${String(p.count).padStart(width)}  ${p.from} -> ${p.to}`));
  }
  lines.push('');
  lines.push(
    ...table(
      ['target', 'attempts', 'answered', 'failed', 'breaker open/half-open/closed', 'cooldowns'],
      r.perTarget.map((t) => [t.id, t.attempts, t.served, t.failures, `${t.breaker.open}/${t.breaker.half_open}/${t.breaker.closed}`, t.cooldowns]),
    ),
  );
  lines.push('');
  lines.push(
    ...table(
      ['timeline', 'requests', 'success', 'fallbacks', 'answered most'],
      r.timeline.map((b) => [
        `${formatDuration(b.fromMs)}-${formatDuration(b.toMs)}`,
        b.requests,
        b.requests > 0 ? percent(b.successes, b.requests) : '-',
        b.fallbacks,
        (b.topTarget === null ? '-' : `${b.topTarget} (${share(b.topShare!)})`) +
          (b.breakersOpened.length > 0 ? `  breaker opened: ${b.breakersOpened.join(', ')}` : ''),
      ]),
    ),
  );
  return lines;
}

/** Columns: text left-aligned, numbers right-aligned; the last column is not padded. */
function table(header: string[], rows: Array<Array<string | number>>): string[] {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || /^[\d./%-]+$/.test(String(row[i]))));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    `  ${row
      .map((cell, i) => (i === row.length - 1 ? (numeric[i] ? cell.padStart(widths[i]!) : cell) : numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')}`.trimEnd(),
  );
}

/** `99.9%`, one decimal; never `100%` unless all, never `0%` unless none. */
function percent(part: number, whole: number): string {
  if (whole === 0) return '-';
  if (part === whole) return '100%';
  if (part === 0) return '0%';
  return `${Math.min(99.9, Math.max(0.1, Math.round((part / whole) * 1000) / 10)).toFixed(1)}%`;
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `58%`, `100%` only when all. */
function share(fraction: number): string {
  return fraction === 1 ? '100%' : `${Math.min(99, Math.max(1, Math.round(fraction * 100)))}%`;
}

function ms(value: number): string {
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(2)} s`;
}

/** `1h`, `1h30m`, `7m30s`, `0s`, `250ms`. */
export function formatDuration(totalMs: number): string {
  const rounded = Math.round(totalMs);
  if (rounded === 0) return '0s';
  const parts: string[] = [];
  const units: Array<[string, number]> = [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let left = rounded;
  for (const [unit, size] of units) {
    const n = Math.floor(left / size);
    if (n > 0) parts.push(`${n}${unit}`);
    left -= n * size;
  }
  return parts.join('');
}

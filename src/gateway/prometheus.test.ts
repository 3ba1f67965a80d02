import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { simulated } from '../providers/simulated.js';
import { createRouter, type Router } from '../router/router.js';
import { createMetricsHandler, PROMETHEUS_CONTENT_TYPE, renderPrometheus, snapshotsOf } from './prometheus.js';

/** One sample line, parsed. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * A strict parser of the text exposition format 0.0.4: every line is a HELP, a TYPE, a blank or a
 * valid sample; HELP and TYPE come once per family, before its samples; no series repeats.
 * Throws with the line number on anything else.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: '', type: '', samples: [] }));
    return f;
  };
  const familyOf = (name: string): Family => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, name.length - suffix.length);
      const f = families.get(base);
      if (f && (suffix === '' || f.type === 'histogram' || f.type === 'summary')) return f;
    }
    throw new Error(`sample ${name} has no HELP/TYPE before it`);
  };
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) throw new Error(`bad comment, ${where}`);
      const [, keyword, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const f = family(name);
      if (keyword === 'HELP') {
        if (f.help) throw new Error(`second HELP, ${where}`);
        // Only \\ and \n may be escaped in HELP text.
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP, ${where}`);
        f.help = rest;
      } else {
        if (f.type) throw new Error(`second TYPE, ${where}`);
        if (f.samples.length) throw new Error(`TYPE after samples, ${where}`);
        if (!TYPES.has(rest)) throw new Error(`bad type, ${where}`);
        f.type = rest;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample, ${where}`);
    const name = m[1]!;
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest.length) {
      const lm = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!lm) throw new Error(`bad labels, ${where}`);
      const labelName = lm[1]!;
      if (!LABEL_NAME.test(labelName) || labelName in labels) throw new Error(`bad or repeated label ${labelName}, ${where}`);
      labels[labelName] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
    }
    // Values are what Go's ParseFloat reads: decimals, and NaN / ±Inf in any case (prom-client writes `Nan`).
    const raw = m[4]!;
    const special = /^(?:([-+]?)inf(?:inity)?|nan)$/i.exec(raw);
    if (!special && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value, ${where}`);
    const value = special ? (/nan/i.test(raw) ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(raw);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`repeated series, ${where}`);
    seen.add(key);
    familyOf(name).samples.push({ name, labels, value });
  });
  for (const [name, f] of families) {
    if (!f.help || !f.type) throw new Error(`${name} lacks HELP or TYPE`);
  }
  return families;
}

/** Histogram invariants: per series, `le` ascending, counts cumulative, `+Inf` = `_count`, `_sum` there. */
function checkHistogram(name: string, f: Family): number {
  const bySeries = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    bySeries.set(key, [...(bySeries.get(key) ?? []), s]);
  }
  for (const [key, samples] of bySeries) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const count = samples.find((s) => s.name === `${name}_count`);
    const sum = samples.find((s) => s.name === `${name}_sum`);
    expect(count, `${name}${key} _count`).toBeDefined();
    expect(sum, `${name}${key} _sum`).toBeDefined();
    expect(buckets.length).toBeGreaterThan(1);
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    for (let i = 1; i < buckets.length; i++) {
      expect(les[i]!).toBeGreaterThan(les[i - 1]!);
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    }
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(count!.value);
    expect(sum!.value).toBeGreaterThanOrEqual(0);
  }
  return bySeries.size;
}

const routers: Router[] = [];
afterEach(() => {
  for (const r of routers.splice(0)) r.close();
});

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };
const SECRET = 'sk-proj-SECRETabcdefghijklmnopqrstuvwxyz0123';

/** A route whose primary fails (an upstream error quoting an API key) and falls back to the backup, on a virtual clock. */
async function trafficWithFailover(route: string) {
  const clock = createVirtualClock();
  const primary = simulated({ name: 'primary', latency: 1, firstToken: 1, clock });
  const backup = simulated({ name: 'backup', latency: 2, firstToken: 1, clock });
  const router = createRouter({
    clock,
    route,
    targets: [
      { provider: primary, model: 'gpt-4o', id: 'primary/gpt-4o', cost: { input: 2.5, output: 10 } },
      { provider: backup, model: 'claude "sonnet"\\4\n', id: 'backup' },
    ],
    retry: { attempts: 2, wait: 0 },
    breaker: { window: '10s', failureRate: 0.5, minCalls: 3, openFor: '30s' },
  });
  routers.push(router);
  await clock.run(async () => {
    for (let i = 0; i < 3; i++) await router.chat(ask);
    for await (const _ of router.stream(ask)) void _;
    primary.control.injectOutage('overloaded', '1m', { message: `upstream rejected key ${SECRET}` });
    for (let i = 0; i < 4; i++) await router.chat(ask);
  });
  return router;
}

describe('renderPrometheus', () => {
  it('emits valid exposition text: HELP/TYPE for every family, real histograms, the expected series', async () => {
    const router = await trafficWithFailover('chat');
    const snapshot = router.metrics();
    const text = await renderPrometheus([snapshot], { gateway: { inFlight: 3, demo: true } });
    const families = parseExposition(text);

    for (const [name, f] of families) {
      if (!name.startsWith('ballast_')) continue;
      if (f.type === 'counter') expect(name, 'counters end in _total').toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      if (f.type === 'histogram') expect(name).toMatch(/_seconds$/);
    }
    for (const name of ['ballast_request_duration_seconds', 'ballast_request_ttft_seconds', 'ballast_target_latency_seconds', 'ballast_target_ttft_seconds']) {
      expect(families.get(name)?.type).toBe('histogram');
      expect(checkHistogram(name, families.get(name)!)).toBeGreaterThan(0);
    }

    const value = (name: string, labels: Record<string, string>) =>
      families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const primary = { route: 'chat', target: 'primary/gpt-4o' };
    const t0 = snapshot.targets[0]!;
    expect(value('ballast_requests_total', { route: 'chat' })).toBe(snapshot.totals.requests);
    expect(value('ballast_target_requests_total', primary)).toBe(t0.requests);
    expect(value('ballast_target_failures_total', { ...primary, kind: 'overloaded' })).toBe(t0.failuresByKind.overloaded);
    expect(t0.failuresByKind.overloaded).toBeGreaterThan(0);
    expect(value('ballast_target_retries_total', primary)).toBe(t0.retries);
    expect(value('ballast_fallbacks_total', { route: 'chat', from: 'primary/gpt-4o', to: 'backup' })).toBeGreaterThan(0);
    expect(value('ballast_target_tokens_total', { ...primary, direction: 'output' })).toBe(t0.tokens.output);
    expect(value('ballast_target_cost_usd_total', primary)).toBeCloseTo(t0.costUsd, 12);
    expect(t0.costUsd).toBeGreaterThan(0);
    expect(value('ballast_target_in_flight', primary)).toBe(0);
    expect(value('ballast_gateway_in_flight_requests', {})).toBe(3);
    expect(value('ballast_demo_mode', {})).toBe(1);

    // Breaker and health: exactly one state series set to 1 per target.
    expect(t0.breaker?.state).toBe('open');
    for (const [name, key] of [['ballast_target_breaker_state', 'state'], ['ballast_target_health', 'status']] as const) {
      const series = families.get(name)!.samples.filter((s) => s.labels.target === 'primary/gpt-4o');
      expect(series.filter((s) => s.value === 1).map((s) => s.labels[key])).toEqual([name.endsWith('state') ? 'open' : 'unavailable']);
      expect(series.every((s) => s.value === 0 || s.value === 1)).toBe(true);
    }
    expect(value('ballast_target_breaker_transitions_total', { ...primary, state: 'open' })).toBe(1);

    // Seconds, not milliseconds: the first bucket is 5 ms and holds what the snapshot says.
    const bucket = families.get('ballast_target_latency_seconds')!.samples.find((s) => s.labels.target === 'backup' && s.name.endsWith('_bucket'))!;
    expect(bucket.labels.le).toBe(String(snapshot.histogramBoundsMs[0]! / 1000));
    expect(bucket.value).toBe(snapshot.targets[1]!.latencyMs.buckets[0]);
    const sum = families.get('ballast_target_latency_seconds')!.samples.find((s) => s.labels.target === 'backup' && s.name.endsWith('_sum'))!;
    expect(sum.value).toBeCloseTo(snapshot.targets[1]!.latencyMs.sum / 1000, 9);
    // On the virtual clock every backup call took exactly its 2 ms.
    expect(snapshot.targets[1]!.latencyMs.sum).toBe(2 * snapshot.targets[1]!.latencyMs.count);

    // A model name with a quote, a backslash and a newline survives the escaping.
    expect(families.get('ballast_target_info')!.samples.find((s) => s.labels.target === 'backup')!.labels.model).toBe('claude "sonnet"\\4\n');

    // Process metrics from prom-client.
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.has('nodejs_heap_size_used_bytes')).toBe(true);

    // The upstream error quoted a key: it is nowhere (no message ever becomes a label).
    expect(t0.lastError?.message).toContain('upstream rejected key sk-');
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/sk-proj-/);
  });

  it('names the route from the map, not from the router, and renders several routes', async () => {
    const a = await trafficWithFailover('ignored-name');
    const clock = createVirtualClock();
    const b = createRouter({ clock, targets: [{ provider: simulated({ name: 'local', clock }), model: 'llama3', id: 'local' }], breaker: false });
    routers.push(b);
    await clock.run(b.chat(ask));
    const snapshots = snapshotsOf(new Map([['chat', a], ['fast', b]]));
    expect(snapshots.map((s) => s.route)).toEqual(['chat', 'fast']);
    expect(snapshots[0]!.totals.series).toEqual([]);
    const families = parseExposition(await renderPrometheus(snapshots, { processMetrics: false }));
    expect(families.get('ballast_requests_total')!.samples.map((s) => [s.labels.route, s.value])).toEqual([['chat', 8], ['fast', 1]]);
    expect([...families.keys()].every((n) => n.startsWith('ballast_'))).toBe(true);
    // A target without a breaker has no breaker-state series.
    expect(families.get('ballast_target_breaker_state')!.samples.some((s) => s.labels.route === 'fast')).toBe(false);
    expect(checkHistogram('ballast_target_latency_seconds', families.get('ballast_target_latency_seconds')!)).toBe(3);
  });

  it('renders no routes as HELP/TYPE only, and appends extra registries', async () => {
    const mine = new Registry();
    new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests.', registers: [mine] }).inc(2);
    const text = await renderPrometheus([], { processMetrics: false, registries: [mine] });
    const families = parseExposition(text);
    expect(families.get('ballast_requests_total')!.samples).toEqual([]);
    expect(families.get('gateway_http_requests_total')!.samples[0]!.value).toBe(2);
  });
});

describe('createMetricsHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('serves the exposition with its content type, per scrape', async () => {
    const router = await trafficWithFailover('chat');
    let inFlight = 0;
    const handler = createMetricsHandler(() => new Map([['chat', router]]), () => ({ gateway: { inFlight: ++inFlight } }));
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(first.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(await first.text());
    expect(families.get('ballast_gateway_in_flight_requests')!.samples[0]!.value).toBe(1);
    const second = parseExposition(await (await fetch(url)).text());
    expect(second.get('ballast_gateway_in_flight_requests')!.samples[0]!.value).toBe(2);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});

describe('the test parser itself', () => {
  it('rejects malformed exposition', () => {
    expect(() => parseExposition('x 1\n')).toThrow(/no HELP/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="b} 1\n')).toThrow(/bad labels/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="b"} one\n')).toThrow(/bad value/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1\nx 2\n')).toThrow(/repeated/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1\n# TYPE x gauge\n')).toThrow(/second TYPE/);
    expect(() => parseExposition('# HELP x h\n# TYPE x thing\n')).toThrow(/bad type/);
  });
});

/**
 * Fuzz test of the router (issue 4, "Proof"): random fault scripts on 1–4 simulated targets,
 * random latencies and router options, and random mixes of chat and stream calls, some aborted
 * by their caller, all on one virtual clock. Every call is checked against DESIGN.md §2:
 *
 * - no call outlives its total deadline, and none hangs (the clock would report a deadlock);
 * - a committed stream neither repeats nor loses text: one `start`, a prefix of the answering
 *   target's reply (all of it on success), and a failure is a thrown `LlmError`, never a clean end;
 * - upstream attempts never exceed the configured bound (`retry.attempts` per target, hedges
 *   included; once more per resume), and no upstream call runs on after its call settled;
 * - a failure lists one attempt per upstream call (so does an answer), and every target is
 *   attempted or skipped with a reason;
 * - a caller's abort ends the call as `aborted` at the same virtual instant and aborts the running
 *   upstream calls; an already aborted request never goes upstream.
 *
 * Calls run one at a time (so provider logs map to calls), a few at once (deadlines and stream
 * text only), and as streams that resume on another target after the commit point.
 *
 * Failures print fast-check's seed and path. Reproduce with
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run test/router-fuzz
 * `FUZZ_RUNS=<n>` changes the number of runs; `FUZZ_SEED=random` explores new cases;
 * `FUZZ_STATS=1` prints what the runs covered (outcomes by kind, skips, resumes, hedges).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ERROR_KINDS,
  createRouter,
  createVirtualClock,
  isAllTargetsFailedError,
  isLlmError,
  simulated,
  type AttemptRecord,
  type ChatRequest,
  type CircuitBreakerOptions,
  type FaultKind,
  type FaultRule,
  type LatencySpec,
  type ReplySpec,
  type RoutedResponse,
  type Router,
  type SimulatedProvider,
  type StreamEvent,
  type VirtualClock,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Reproducibility

const envSeed = process.env.FUZZ_SEED;
const SEED = envSeed === 'random' ? Date.now() : envSeed !== undefined ? Number(envSeed) : 20_251_104;
const PATH = process.env.FUZZ_PATH;
const runs = (fallback: number) => (process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : fallback);
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs(numRuns), ...(PATH ? { path: PATH } : {}) });
/** Vitest's limit for a property: generous, and growing with `FUZZ_RUNS` (a run takes ~20 ms). */
const timeoutFor = (numRuns: number) => Math.max(60_000, runs(numRuns) * 200);

// ---------------------------------------------------------------------------------------------
// Scenarios

const FAULT_KINDS: readonly FaultKind[] = [...ERROR_KINDS, 'stall', 'cut', 'slow', 'filtered'];
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'] as const;

const latencyArb: fc.Arbitrary<LatencySpec> = fc.oneof(
  fc.integer({ min: 0, max: 1500 }),
  fc.record({ dist: fc.constant('uniform' as const), min: fc.integer({ min: 0, max: 300 }), max: fc.integer({ min: 300, max: 2000 }) }),
);

const faultArb: fc.Arbitrary<FaultRule> = fc.record(
  {
    kind: fc.constantFrom(...FAULT_KINDS),
    probability: fc.constantFrom(0.2, 0.5, 0.8, 1),
    between: fc
      .tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 30_000 }))
      .map(([from, length]) => [from, from + length] as const),
    every: fc.integer({ min: 1, max: 3 }),
    times: fc.integer({ min: 1, max: 5 }),
    when: fc.constantFrom('before_first_token' as const, 'mid_stream' as const),
    afterChunks: fc.integer({ min: 0, max: 4 }),
    delay: fc.integer({ min: 0, max: 3000 }),
    retryAfter: fc.constantFrom(0, 100, 1000, 5000, 30_000),
    stallFor: fc.integer({ min: 100, max: 8000 }),
    slowBy: fc.integer({ min: 0, max: 3000 }),
    factor: fc.constantFrom(1, 2, 3),
  },
  { requiredKeys: ['kind'] },
);

const targetArb = fc.record({
  seed: fc.nat({ max: 1_000_000 }),
  latency: fc.option(latencyArb, { nil: undefined }),
  firstToken: fc.option(latencyArb, { nil: undefined }),
  chunkInterval: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
  contextWindow: fc.constantFrom(undefined, 1000, 100_000),
  faults: fc.array(faultArb, { minLength: 0, maxLength: 3 }),
});

const routerArb = fc.record({
  attempts: fc.integer({ min: 1, max: 4 }),
  wait: fc.integer({ min: 0, max: 300 }),
  maxRetryAfter: fc.constantFrom(undefined, 0, 500, 2000, 20_000),
  breaker: fc.oneof(
    fc.constant(false as const),
    fc.constant(undefined),
    fc.record({ consecutive: fc.integer({ min: 1, max: 5 }), openFor: fc.integer({ min: 500, max: 30_000 }) }),
  ),
  total: fc.option(fc.integer({ min: 500, max: 20_000 }), { nil: undefined, freq: 5 }),
  attempt: fc.option(fc.integer({ min: 100, max: 5000 }), { nil: undefined }),
  firstToken: fc.option(fc.integer({ min: 100, max: 3000 }), { nil: undefined }),
  idle: fc.option(fc.integer({ min: 50, max: 3000 }), { nil: undefined }),
  hedge: fc.option(fc.record({ delay: fc.integer({ min: 0, max: 2000 }), maxAttempts: fc.integer({ min: 2, max: 4 }) }), {
    nil: undefined,
  }),
  budget: fc.boolean(),
  fallbackOnContentFilter: fc.boolean(),
  seed: fc.nat(),
});

const callArb = fc.record({
  stream: fc.boolean(),
  words: fc.integer({ min: 1, max: WORDS.length }),
  /** The caller aborts this long after the call started (-1: before it starts). */
  abortAt: fc.option(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 6000 })), { nil: undefined, freq: 4 }),
  /** Abort with `new Error(...)` rather than the default `AbortError`. */
  abortWithError: fc.boolean(),
  /** Sequential runs: idle time before the call. Concurrent runs: the call starts at `offset % 3000`. */
  offset: fc.integer({ min: 0, max: 10_000 }),
});

type TargetSpec = (typeof targetArb extends fc.Arbitrary<infer T> ? T : never);
type RouterSpec = (typeof routerArb extends fc.Arbitrary<infer T> ? T : never);
type CallSpec = (typeof callArb extends fc.Arbitrary<infer T> ? T : never);

interface Scenario {
  targets: TargetSpec[];
  router: RouterSpec;
  calls: CallSpec[];
  /** Streams resume on another target after the commit point, this many times at most. */
  resume?: number;
}

const scenarioArb = (calls: { min: number; max: number }): fc.Arbitrary<Scenario> =>
  fc.record({
    targets: fc.array(targetArb, { minLength: 1, maxLength: 4 }),
    router: routerArb,
    calls: fc.array(callArb, { minLength: calls.min, maxLength: calls.max }),
  });

/** Mostly failures after the first token, of kinds worth resuming after. */
const midStreamFaultArb: fc.Arbitrary<FaultRule> = fc.record(
  {
    kind: fc.constantFrom<FaultKind>('cut', 'server', 'overloaded', 'rate_limit', 'timeout', 'stall', 'connection', 'auth', 'invalid_request'),
    probability: fc.constantFrom(0.5, 1),
    times: fc.integer({ min: 1, max: 3 }),
    when: fc.constantFrom('mid_stream' as const, 'mid_stream' as const, 'before_first_token' as const),
    afterChunks: fc.integer({ min: 1, max: 6 }),
    stallFor: fc.integer({ min: 100, max: 8000 }),
  },
  { requiredKeys: ['kind', 'when'] },
);

/** Streams only, resuming after the commit point, on 2–4 targets that all give the same answer. */
const resumeScenarioArb: fc.Arbitrary<Scenario> = fc.record({
  targets: fc.array(
    fc.record({
      seed: fc.nat({ max: 1_000_000 }),
      latency: fc.constant(undefined),
      firstToken: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
      chunkInterval: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      contextWindow: fc.constant(undefined),
      faults: fc.array(midStreamFaultArb, { minLength: 0, maxLength: 2 }),
    }),
    { minLength: 2, maxLength: 4 },
  ),
  router: routerArb,
  calls: fc.array(callArb.map((call) => ({ ...call, stream: true })), { minLength: 1, maxLength: 5 }),
  resume: fc.integer({ min: 1, max: 3 }),
});

// ---------------------------------------------------------------------------------------------
// The system under test

interface Env {
  clock: VirtualClock;
  router: Router;
  providers: SimulatedProvider[];
  ids: string[];
  spec: Scenario;
}

/** A small deterministic PRNG (mulberry32) for the router's strategy ties. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function build(spec: Scenario): Env {
  const clock = createVirtualClock();
  const r = spec.router;
  const ids = spec.targets.map((_, i) => `t${i}`);
  // Every phase has a timer: the total deadline, or the attempt timeout (chat, and streams up to
  // the first token) with the idle timeout (streams after it).
  const guarded = r.total !== undefined || (r.attempt !== undefined && r.idle !== undefined);
  const providers = spec.targets.map((t, i) =>
    simulated({
      name: ids[i],
      clock,
      seed: t.seed,
      latency: t.latency,
      firstToken: t.firstToken,
      chunkInterval: t.chunkInterval,
      ...(spec.resume !== undefined && { reply: continuingReply }),
      // An endless stall legitimately hangs a call that no timer guards: then give every stall an end.
      faults: guarded ? t.faults : t.faults.map((f) => (f.kind === 'stall' ? { ...f, stallFor: f.stallFor ?? 5000 } : f)),
    }),
  );
  const breaker: CircuitBreakerOptions | false | undefined = r.breaker;
  const router = createRouter({
    targets: providers.map((provider, i) => ({ provider, model: 'm', id: ids[i], contextWindow: spec.targets[i]!.contextWindow })),
    clock,
    random: prng(r.seed),
    // A fixed wait: the default full jitter draws from Math.random and would make runs irreproducible.
    retry: { attempts: r.attempts, wait: r.wait, ...(r.maxRetryAfter !== undefined && { maxRetryAfter: r.maxRetryAfter }) },
    ...(breaker !== undefined && { breaker }),
    timeouts: { total: r.total, attempt: r.attempt, firstToken: r.firstToken, idle: r.idle },
    ...(r.hedge && { hedge: r.hedge }),
    ...(!r.budget && { budget: false as const }),
    errors: { fallbackOnContentFilter: r.fallbackOnContentFilter },
    ...(spec.resume !== undefined && { resume: { attempts: spec.resume } }),
  });
  return { clock, router, providers, ids, spec };
}

/** Everything observed about one call. */
interface Outcome {
  index: number;
  spec: CallSpec;
  prompt: string;
  startedAt: number;
  settledAt: number;
  failed: boolean;
  error?: unknown;
  /** `error.attempts` as it was when the call failed (what `onAllFailed` listeners saw). */
  attemptsAtSettle?: AttemptRecord[];
  response?: RoutedResponse;
  events: StreamEvent[];
  streamTarget?: string;
  streamAttempts?: readonly AttemptRecord[];
  /** The answer's attempts as they were when it arrived. */
  successAttempts?: AttemptRecord[];
  /** The request's signal was aborted before the call started. */
  preAborted?: boolean;
  /** Set when the caller's abort fired. */
  abort?: { at: number; beforeSettle: boolean; inFlight: number[]; abortedBefore: number[] };
}

const promptOf = (spec: CallSpec) => WORDS.slice(0, spec.words).join(' ');

/** The answer of a target (the simulated provider's default echoes its name and the prompt). */
const fullReply = (env: Env, target: string, prompt: string) => (env.spec.resume === undefined ? `[${target}/m] ${prompt}` : sharedAnswer(prompt));

/** With `resume`, every target gives this answer, so a resumed stream can be checked word for word. */
const sharedAnswer = (prompt: string) => `On ${prompt}: one two three four five.`;

/**
 * The reply of every target when streams resume: the shared answer, or given a partial answer (an
 * assistant turn, then the instruction to continue) exactly the rest of it.
 */
const continuingReply: ReplySpec = (request) => {
  const first = request.messages[0];
  const full = sharedAnswer(first?.role === 'user' && typeof first.content === 'string' ? first.content : '');
  const partial = [...request.messages].reverse().find((m) => m.role === 'assistant');
  if (!partial) return full;
  const said = typeof partial.content === 'string' ? partial.content : '';
  return full.startsWith(said) ? full.slice(said.length) : `<cannot continue ${JSON.stringify(said)}>`;
};

/**
 * The records of upstream calls in a call's history: skips left out, and the failure record a
 * committed stream adds when it breaks (the same upstream call as its successful opening).
 */
// One record per upstream call: a committed attempt that fails mid-stream is that attempt's record.
const upstreamRecords = (attempts: readonly AttemptRecord[]) => attempts.filter((a) => a.outcome !== 'skipped');

const textOf = (events: readonly StreamEvent[]) => events.map((e) => (e.type === 'text' ? e.text : '')).join('');

/** Starts one call now; the promise never rejects. */
function startCall(env: Env, spec: CallSpec, index: number): Promise<Outcome> {
  const { clock, router, providers } = env;
  const prompt = promptOf(spec);
  const controller = new AbortController();
  const request: ChatRequest = {
    messages: [{ role: 'user', content: prompt }],
    ...(spec.abortAt !== undefined && { signal: controller.signal }),
  };
  const out: Outcome = { index, spec, prompt, startedAt: clock.now(), settledAt: NaN, failed: false, events: [] };
  let settled = false;
  let cancelAbort = () => {};
  const abort = () => {
    out.abort = {
      at: clock.now(),
      beforeSettle: !settled,
      inFlight: providers.map((p) => p.control.inFlight),
      abortedBefore: providers.map((p) => p.control.aborted),
    };
    controller.abort(spec.abortWithError ? new Error('the caller gave up') : undefined);
  };
  if (spec.abortAt === -1) abort();
  else if (spec.abortAt !== undefined) cancelAbort = clock.setTimer(spec.abortAt, abort);
  out.preAborted = spec.abortAt === -1;
  const settle = (failed: boolean, error?: unknown) => {
    settled = true;
    out.settledAt = clock.now();
    cancelAbort();
    out.failed = failed;
    if (failed) {
      out.error = error;
      if (isAllTargetsFailedError(error)) out.attemptsAtSettle = [...error.attempts];
    }
  };

  if (!spec.stream) {
    return router.chat(request).then(
      (response) => {
        out.response = response;
        out.successAttempts = [...response.attempts];
        settle(false);
        return out;
      },
      (error: unknown) => {
        settle(true, error);
        return out;
      },
    );
  }
  const stream = router.stream(request);
  return (async () => {
    try {
      for await (const event of stream) out.events.push(event);
      out.successAttempts = [...stream.attempts];
      settle(false);
    } catch (error) {
      settle(true, error);
    }
    out.streamTarget = stream.target;
    out.streamAttempts = stream.attempts;
    return out;
  })();
}

const describeCall = (o: Outcome) =>
  `call #${o.index} (${o.spec.stream ? 'stream' : 'chat'}, started at ${o.startedAt}, settled at ${o.settledAt}` +
  `${o.abort ? `, caller abort at ${o.abort.at}` : ''}${o.failed ? `, error ${describeError(o.error)}` : ''})`;

function describeError(error: unknown): string {
  if (isLlmError(error)) return `${error.kind}: ${error.message}`;
  return String(error);
}

// ---------------------------------------------------------------------------------------------
// Invariants

/** No call outlives its total deadline (0 slack on the virtual clock). */
function checkDeadline(env: Env, o: Outcome): void {
  const total = env.spec.router.total;
  if (total === undefined) return;
  expect(o.settledAt - o.startedAt, `${describeCall(o)}: outlived its ${total} ms deadline`).toBeLessThanOrEqual(total);
}

/** Failures are typed; a stream neither repeats nor loses text, and never ends silently on a failure. */
function checkOutput(env: Env, o: Outcome): void {
  const what = describeCall(o);
  if (o.failed) expect(isLlmError(o.error), `${what}: threw something that is not an LlmError`).toBe(true);

  if (!o.spec.stream) {
    if (o.failed) return;
    const r = o.response!;
    expect(env.ids, `${what}: unknown target`).toContain(r.target);
    const full = fullReply(env, r.target, o.prompt);
    if (r.finishReason === 'content_filter') {
      expect(env.spec.router.fallbackOnContentFilter, `${what}: a filtered answer returned although the route falls back`).toBe(false);
      expect(full.startsWith(r.text), `${what}: filtered text ${JSON.stringify(r.text)} is not a prefix of ${JSON.stringify(full)}`).toBe(true);
    } else {
      expect(r.text, `${what}: answer text`).toBe(full);
    }
    return;
  }

  const { events } = o;
  const text = textOf(events);
  if (events.length > 0) {
    expect(events[0]!.type, `${what}: first event`).toBe('start');
    expect(events.filter((e) => e.type === 'start').length, `${what}: start events`).toBe(1);
    const finishes = events.filter((e) => e.type === 'finish').length;
    expect(finishes, `${what}: finish events`).toBeLessThanOrEqual(1);
    if (finishes === 1) expect(events[events.length - 1]!.type, `${what}: events after finish`).toBe('finish');
    expect(o.streamTarget, `${what}: a committed stream names its target`).toBeDefined();
    expect(env.ids).toContain(o.streamTarget);
    const full = fullReply(env, o.streamTarget!, o.prompt);
    expect(full.startsWith(text), `${what}: received ${JSON.stringify(text)}, not a prefix of ${JSON.stringify(full)}`).toBe(true);
  }
  if (!o.failed) {
    const last = events[events.length - 1];
    expect(last?.type, `${what}: a stream that ended without an error must end with finish`).toBe('finish');
    if (last?.type === 'finish' && last.finishReason !== 'content_filter') {
      expect(text, `${what}: a finished stream delivers the whole reply`).toBe(fullReply(env, o.streamTarget!, o.prompt));
    }
  } else {
    expect(events.some((e) => e.type === 'finish'), `${what}: failed after its finish event`).toBe(false);
  }
}

interface Snapshot {
  calls: number[];
  aborted: number[];
}

const snapshot = (env: Env): Snapshot => ({
  calls: env.providers.map((p) => p.control.calls),
  aborted: env.providers.map((p) => p.control.aborted),
});

/** Attempts bound, attempt history of failures, caller aborts: needs calls run one at a time. */
function checkSequential(env: Env, o: Outcome, before: Snapshot): void {
  const what = describeCall(o);
  const { ids, providers } = env;
  const r = env.spec.router;
  const made = providers.map((p, i) => p.control.calls - before.calls[i]!);

  // Upstream attempts never exceed the bound: hedge lanes share one walk, so each target is
  // tried by at most one lane, `attempts` times at most (once more per resume of a stream).
  const bound = r.attempts * (1 + (env.spec.resume ?? 0));
  made.forEach((n, i) => expect(n, `${what}: upstream calls on ${ids[i]} (bound ${bound})`).toBeLessThanOrEqual(bound));
  expect(made.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(ids.length * bound);

  // Nothing keeps running upstream once the call has settled (hedge losers, stalls, streams).
  providers.forEach((p, i) => expect(p.control.inFlight, `${what}: upstream calls of ${ids[i]} still running after the call settled`).toBe(0));

  // Every failure is reported with all its attempts, and every target is attempted or skipped.
  if (isAllTargetsFailedError(o.error)) {
    const attempts = o.attemptsAtSettle!;
    ids.forEach((id, i) => {
      const recorded = upstreamRecords(attempts).filter((a) => a.target === id).length;
      expect(recorded, `${what}: attempts listed on ${id} vs upstream calls made\n${JSON.stringify(attempts)}`).toBe(made[i]);
    });
    for (const a of attempts) {
      if (a.outcome === 'skipped') expect(a.skipReason, `${what}: a skip without a reason`).toBeDefined();
      else if (a.outcome === 'failure') expect(a.kind, `${what}: a failed attempt without a kind`).toBeDefined();
    }
    const deadlineHit = r.total !== undefined && o.settledAt - o.startedAt >= r.total;
    const callerAborted = o.abort?.beforeSettle === true;
    if (!o.error.stoppedEarly && !deadlineHit && !callerAborted) {
      for (const id of ids) {
        expect(attempts.some((a) => a.target === id), `${what}: target ${id} neither attempted nor skipped\n${JSON.stringify(attempts)}`).toBe(true);
      }
    }
  }

  // Answers carry their history too: one record per upstream call, hedge losers included.
  const history = o.successAttempts;
  if (history) {
    ids.forEach((id, i) => {
      const recorded = upstreamRecords(history).filter((a) => a.target === id).length;
      expect(recorded, `${what}: answer's attempts on ${id} vs upstream calls made\n${JSON.stringify(history)}`).toBe(made[i]);
    });
  }

  // A caller's abort ends the call at once, as `aborted`, and reaches every running upstream call.
  if (o.abort?.beforeSettle) {
    expect(o.failed, `${what}: succeeded after its caller aborted`).toBe(true);
    expect(isLlmError(o.error) ? o.error.kind : undefined, `${what}: kind after a caller abort`).toBe('aborted');
    expect(o.settledAt, `${what}: settled later than the caller's abort`).toBe(o.abort.at);
    if (o.preAborted) expect(made, `${what}: upstream calls for an already aborted request`).toEqual(made.map(() => 0));
    providers.forEach((p, i) => {
      const abortedNow = p.control.aborted - o.abort!.abortedBefore[i]!;
      expect(abortedNow, `${what}: upstream calls of ${ids[i]} aborted vs running at the abort`).toBeGreaterThanOrEqual(o.abort!.inFlight[i]!);
    });
  }
}

/** With `FUZZ_STATS=1`, what the runs covered (to see that the generators reach every path). */
const stats = new Map<string, number>();
function tally(env: Env, o: Outcome): void {
  if (!process.env.FUZZ_STATS) return;
  const bump = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);
  const mode = o.spec.stream ? 'stream' : 'chat';
  if (!o.failed) bump(`${mode} ok`);
  else bump(`${mode} failed ${isLlmError(o.error) ? o.error.kind : '?'}${o.spec.stream && o.events.length > 0 ? ' after the commit' : ''}`);
  if (o.abort?.beforeSettle) bump('caller abort before settle');
  const total = env.spec.router.total;
  if (total !== undefined && o.settledAt - o.startedAt === total) bump('settled exactly at the deadline');
  const history = o.response?.attempts ?? o.streamAttempts ?? (isAllTargetsFailedError(o.error) ? o.error.attempts : []);
  for (const a of history) if (a.outcome === 'skipped') bump(`skip ${a.skipReason}`);
  if ((o.response?.fallbacks ?? 0) > 0) bump('answered after a fallback');
  const broke = history.findIndex((a) => a.message?.startsWith('after the first token'));
  if (o.spec.stream && broke >= 0 && history.slice(broke + 1).some((a) => a.outcome !== 'skipped')) {
    bump(`stream resumed, then ${o.failed ? 'failed' : 'finished'}`);
  }
  if (env.spec.router.hedge && new Set(history.filter((a) => a.outcome !== 'skipped').map((a) => a.target)).size > 1) bump('hedged, several targets');
}
const printStats = () => {
  if (!process.env.FUZZ_STATS) return;
  console.log([...stats.entries()].sort().map(([k, v]) => `${String(v).padStart(6)}  ${k}`).join('\n'));
  stats.clear();
};

/** Drives `work` on the virtual clock; a deadlock (pending work, no timer left) is a hang. */
async function drive<T>(clock: VirtualClock, work: Promise<T>, what: string): Promise<T> {
  try {
    return await clock.run(work, 200_000);
  } catch (error) {
    throw new Error(`${what}: ${String(error)}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// Properties

describe('router fuzz: random fault scripts on the virtual clock', () => {
  it('calls one at a time: deadlines, stream text, attempt bounds, failure reports, caller aborts', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ min: 1, max: 6 }), async (spec) => {
        const env = build(spec);
        try {
          for (const [index, call] of spec.calls.entries()) {
            const idle = snapshot(env);
            await env.clock.advance(call.offset);
            // Nothing reaches a provider between calls.
            expect(snapshot(env).calls, `before call #${index}: upstream calls while no call was running`).toEqual(idle.calls);
            const before = snapshot(env);
            const outcome = await drive(env.clock, startCall(env, call, index), `call #${index} hung`);
            checkDeadline(env, outcome);
            checkOutput(env, outcome);
            checkSequential(env, outcome, before);
            tally(env, outcome);
          }
        } finally {
          env.router.close();
        }
      }),
      params(300),
    );
    printStats();
  }, timeoutFor(300));

  it('concurrent calls: deadlines and stream text hold', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ min: 2, max: 5 }), async (spec) => {
        const env = build(spec);
        try {
          const all = Promise.all(
            spec.calls.map(async (call, index) => {
              await env.clock.sleep(call.offset % 3000);
              return startCall(env, call, index);
            }),
          );
          const outcomes = await drive(env.clock, all, 'concurrent calls hung');
          for (const outcome of outcomes) {
            checkDeadline(env, outcome);
            checkOutput(env, outcome);
            tally(env, outcome);
          }
        } finally {
          env.router.close();
        }
      }),
      params(150),
    );
    printStats();
  }, timeoutFor(150));
});


describe('router fuzz: streams that resume after the commit point', () => {
  it('a resumed stream neither repeats nor loses text; bounds, reports and aborts hold', async () => {
    await fc.assert(
      fc.asyncProperty(resumeScenarioArb, async (spec) => {
        const env = build(spec);
        try {
          for (const [index, call] of spec.calls.entries()) {
            await env.clock.advance(call.offset);
            const before = snapshot(env);
            const outcome = await drive(env.clock, startCall(env, call, index), `call #${index} hung`);
            checkDeadline(env, outcome);
            checkOutput(env, outcome);
            checkSequential(env, outcome, before);
            tally(env, outcome);
          }
        } finally {
          env.router.close();
        }
      }),
      params(150),
    );
    printStats();
  }, timeoutFor(150));
});

// ---------------------------------------------------------------------------------------------
// Router bugs the fuzz found (fixed in 10c68b9), reduced to minimal cases: regression tests.

describe('router fuzz: minimal reproductions of the bugs it found', () => {
  const ask: ChatRequest = { messages: [{ role: 'user', content: 'alpha beta gamma' }] };

  /** Reads a stream to its end; returns what it threw, if anything. */
  async function drain(stream: AsyncIterable<StreamEvent>): Promise<unknown> {
    try {
      for await (const _event of stream) {
        // consume
      }
      return undefined;
    } catch (error) {
      return error;
    }
  }

  // Bug 1. After the commit point the router classified whatever the read threw without looking at
  // the caller's signal: the raced read rejects with the signal's reason, here a plain Error, which
  // classified as `connection`. (Before the commit, and in `chat`, the walk said `aborted`.)
  it('a caller abort after the first token ends the stream as `aborted`', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, chunkInterval: 100 });
    const router = createRouter({ targets: [{ provider: a, model: 'm', id: 'a' }], clock, retry: { wait: 0 } });
    const controller = new AbortController();
    clock.setTimer(150, () => controller.abort(new Error('the user left')));
    const error = await clock.run(drain(router.stream({ ...ask, signal: controller.signal })));
    expect(a.control.aborted).toBe(1);
    expect(clock.now()).toBe(150);
    expect(isLlmError(error) && error.kind).toBe('aborted');
  });

  // Bug 2. In `hedged()`, a lane failing with a final error (`stoppedEarly`: invalid_request, a kept
  // content_filter) aborted the other lanes and rejected at once; their in-flight attempts reached
  // `attempts` only later, so the error's message and `onAllFailed` missed upstream calls made.
  it('a hedged call that stops early reports the aborted lane’s attempt', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, latency: 1000 });
    const b = simulated({ name: 'b', clock, faults: [{ kind: 'invalid_request', delay: 500 }] });
    const router = createRouter({
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: b, model: 'm', id: 'b' },
      ],
      clock,
      hedge: { delay: 100 },
      budget: false,
      retry: { attempts: 1 },
    });
    const reported: string[][] = [];
    router.onAllFailed((_error, attempts) => reported.push(attempts.map((x) => `${x.target}#${x.attempt}`)));
    const error = await clock.run(router.chat(ask).then(() => undefined, (e: unknown) => e));
    expect(a.control.calls + b.control.calls).toBe(2);
    expect(a.control.aborted).toBe(1);
    expect(clock.now()).toBe(600);
    expect(reported.map((list) => [...list].sort())).toEqual([['a#1', 'b#1']]);
    expect(isLlmError(error) && error.kind).toBe('invalid_request');
    expect(isAllTargetsFailedError(error) && error.attempts.map((x) => x.target).sort()).toEqual(['a', 'b']);
  });

  // Bug 4 (the rest of bug 2): the error was built by the lane that stopped early, before the other
  // lane's attempt was recorded, so its message omitted `a#1`. Now built once every lane settled.
  it('a hedged call that stops early names every attempt in its message', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, latency: 1000 });
    const b = simulated({ name: 'b', clock, faults: [{ kind: 'invalid_request', delay: 500 }] });
    const router = createRouter({
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: b, model: 'm', id: 'b' },
      ],
      clock,
      hedge: { delay: 100 },
      budget: false,
      retry: { attempts: 1 },
    });
    const error = await clock.run(router.chat(ask).then(() => undefined, (e: unknown) => e));
    expect(isLlmError(error) && error.message).toContain('b#1');
    expect(isLlmError(error) && error.message).toContain('a#1');
  });

  // Bug 5 (found by the resume property): when a resumed stream failed on every remaining target,
  // `describe()` rendered the stream's successful opening as a failure ("a#1 undefined: ;").
  it('a resumed stream that fails everywhere describes its committed attempt sensibly', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 1 }] });
    const b = simulated({ name: 'b', clock, faults: [{ kind: 'server' }] });
    const router = createRouter({
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: b, model: 'm', id: 'b' },
      ],
      clock,
      resume: true,
      retry: { attempts: 1 },
    });
    const error = await clock.run(drain(router.stream(ask)));
    expect(isAllTargetsFailedError(error) && error.attempts.map((x) => `${x.target}#${x.attempt}:${x.outcome}`)).toEqual([
      'a#1:failure',
      'b#1:failure',
    ]);
    expect(isLlmError(error) && error.message).not.toContain('undefined');
  });

  // Bug 3. `hedged()` linked each lane to the call's signal with `addEventListener('abort')` only,
  // which never fires for a signal already aborted: the lanes ran, the request went upstream and was
  // answered; the call's controller being aborted already, the total deadline was lost as well.
  it('a hedged call whose signal is already aborted never goes upstream', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, latency: 100 });
    const b = simulated({ name: 'b', clock });
    const router = createRouter({
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: b, model: 'm', id: 'b' },
      ],
      clock,
      hedge: { delay: '1s' },
      timeouts: { total: 50 },
    });
    const controller = new AbortController();
    controller.abort();
    const outcome = await clock.run(
      router.chat({ ...ask, signal: controller.signal }).then(
        () => 'answered',
        (error: unknown) => (isLlmError(error) ? error.kind : 'not an LlmError'),
      ),
    );
    expect(a.control.calls + b.control.calls).toBe(0);
    expect(outcome).toBe('aborted');
    expect(clock.now()).toBe(0);
  });
});

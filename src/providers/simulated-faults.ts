import { isErrorKind, type ErrorKind } from '../llm/error-kind.js';
import { toMs, type Duration } from '../policy/duration.js';
import { latencySampler, type LatencySampler, type LatencySpec } from './seeded-random.js';

/**
 * What a fault does to a call: any {@link ErrorKind} (the call fails with that kind's realistic
 * error), or
 * - `stall`: stop sending without ending (for `stallFor`, or until the call is aborted);
 * - `cut`: the connection drops (kind `connection`; mid-stream, a stream without its terminal event);
 * - `slow`: the call succeeds, slower (`slowBy` added to the first token / latency, `factor` multiplying every wait);
 * - `filtered`: the call "succeeds" with finish reason `content_filter` (HTTP 200, no text, or the
 *   text so far when mid-stream), as a refusal or safety block does.
 */
export type FaultKind = ErrorKind | 'stall' | 'cut' | 'slow' | 'filtered';

/** Where in a stream a fault strikes: before anything is sent (default), or after some content. */
export type FaultWhen = 'before_first_token' | 'mid_stream';

/**
 * One rule of a fault script (plain data: YAML and JSON configs hold these). A rule *matches* a
 * call when every condition given holds; the first matching rule decides the call.
 */
export interface FaultRule {
  kind: FaultKind;
  /** Chance that a call in scope is hit, 0..1. Default 1. Drawn from the provider's seed. */
  probability?: number;
  /**
   * A window of clock time `[from, to)` relative to the provider's creation, e.g. `['10m', '2h']`
   * for an outage from minute 10 to hour 2. Calls starting outside it are out of scope.
   */
  between?: readonly [Duration, Duration];
  /** Only every Nth call in scope (the Nth, 2Nth, …), counted per rule. */
  every?: number;
  /** The rule decides at most N calls (the first N it hits), then never again. */
  times?: number;
  /** Only calls for these models. */
  models?: readonly string[];
  /**
   * Strike before the first token (default) or mid-stream, after `afterChunks` content chunks
   * (past the commit point). Ignored by `slow`. A non-streamed call fails whole either way.
   */
  when?: FaultWhen;
  /**
   * Content chunks (text chunks or tool calls) sent before a `mid_stream` fault strikes. Default 1.
   * At or past the answer's chunk count it strikes after all of them, before `finish`.
   */
  afterChunks?: number;
  /** Time before an error answer or a cut arrives, when it strikes before the first token. Default 0. */
  delay?: LatencySpec;
  /** The wait the error asks for (`retryAfterMs`). Default `1s` for `rate_limit`, none otherwise. */
  retryAfter?: Duration;
  /** `stall`: resume after this long. Without it the call hangs until aborted. */
  stallFor?: Duration;
  /** `slow`: added to the time to first token (streams) and to the latency (non-streamed calls). */
  slowBy?: Duration;
  /** `slow`: multiplies every wait of the call (latency, first token, chunk intervals). Default 1. */
  factor?: number;
  /** Overrides the error's HTTP status (e.g. 503 rather than 529 for `overloaded`). */
  status?: number;
  /** Overrides the error's message. */
  message?: string;
}

/** Every {@link FaultKind} that is not an error kind. */
export const BEHAVIOUR_FAULTS = Object.freeze(['stall', 'cut', 'slow', 'filtered'] as const);

/** A validated {@link FaultRule}: times in ms, the window absolute, and the rule's counters. */
export interface CompiledFault {
  readonly rule: FaultRule;
  readonly kind: FaultKind;
  readonly probability: number;
  /** Absolute clock times. */
  readonly from: number;
  readonly to: number;
  readonly every: number;
  readonly times: number;
  readonly models: ReadonlySet<string> | undefined;
  readonly midStream: boolean;
  readonly afterChunks: number;
  readonly delay: LatencySampler | undefined;
  readonly retryAfterMs: number | undefined;
  readonly stallForMs: number | undefined;
  readonly slowByMs: number;
  readonly factor: number;
  /** Calls in scope so far (for `every`). */
  seen: number;
  /** Calls this rule decided so far (for `times`). */
  fired: number;
}

const isFaultKind = (v: unknown): v is FaultKind =>
  isErrorKind(v) || (BEHAVIOUR_FAULTS as readonly unknown[]).includes(v);

function duration(value: unknown, what: string): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new TypeError(`${what}: expected a duration such as 250 or "2h", got ${JSON.stringify(value)}`);
  }
  try {
    return toMs(value);
  } catch (error) {
    throw new TypeError(`${what}: ${(error as Error).message}`);
  }
}

function integer(value: unknown, min: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`${what}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Validates fault rules and resolves `between` against `origin` (the clock time windows are
 * relative to). Throws a `TypeError` naming the rule and field, e.g. `faults[2].probability`.
 */
export function compileFaults(rules: readonly FaultRule[], origin: number, what = 'faults'): CompiledFault[] {
  if (!Array.isArray(rules)) throw new TypeError(`${what}: expected a list of fault rules`);
  return rules.map((rule, i) => compileFault(rule, origin, `${what}[${i}]`));
}

function compileFault(rule: FaultRule, origin: number, what: string): CompiledFault {
  if (typeof rule !== 'object' || rule === null) throw new TypeError(`${what}: expected a fault rule object`);
  if (!isFaultKind(rule.kind)) {
    throw new TypeError(`${what}.kind: expected an error kind or one of ${BEHAVIOUR_FAULTS.join(', ')}, got ${JSON.stringify(rule.kind)}`);
  }
  const probability = rule.probability ?? 1;
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
    throw new TypeError(`${what}.probability: expected a number from 0 to 1, got ${JSON.stringify(rule.probability)}`);
  }
  let from = -Infinity;
  let to = Infinity;
  if (rule.between !== undefined) {
    if (!Array.isArray(rule.between) || rule.between.length !== 2) {
      throw new TypeError(`${what}.between: expected [from, to], e.g. ["10m", "2h"]`);
    }
    from = origin + duration(rule.between[0], `${what}.between[0]`);
    to = origin + duration(rule.between[1], `${what}.between[1]`);
    if (to < from) throw new TypeError(`${what}.between: ends before it starts`);
  }
  if (rule.models !== undefined && (!Array.isArray(rule.models) || rule.models.some((m) => typeof m !== 'string'))) {
    throw new TypeError(`${what}.models: expected a list of model names`);
  }
  if (rule.when !== undefined && rule.when !== 'before_first_token' && rule.when !== 'mid_stream') {
    throw new TypeError(`${what}.when: expected "before_first_token" or "mid_stream", got ${JSON.stringify(rule.when)}`);
  }
  const factor = rule.factor ?? 1;
  if (typeof factor !== 'number' || !(factor >= 0 && Number.isFinite(factor))) {
    throw new TypeError(`${what}.factor: expected a number >= 0, got ${JSON.stringify(rule.factor)}`);
  }
  if (rule.status !== undefined) integer(rule.status, 100, `${what}.status`);
  return {
    rule,
    kind: rule.kind,
    probability,
    from,
    to,
    every: rule.every === undefined ? 1 : integer(rule.every, 1, `${what}.every`),
    times: rule.times === undefined ? Infinity : integer(rule.times, 0, `${what}.times`),
    models: rule.models === undefined ? undefined : new Set(rule.models),
    midStream: rule.when === 'mid_stream',
    afterChunks: rule.afterChunks === undefined ? 1 : integer(rule.afterChunks, 0, `${what}.afterChunks`),
    delay: rule.delay === undefined ? undefined : latencySampler(rule.delay, `${what}.delay`),
    retryAfterMs:
      rule.retryAfter !== undefined
        ? duration(rule.retryAfter, `${what}.retryAfter`)
        : rule.kind === 'rate_limit'
          ? 1000
          : undefined,
    stallForMs: rule.stallFor === undefined ? undefined : duration(rule.stallFor, `${what}.stallFor`),
    slowByMs: rule.slowBy === undefined ? 0 : duration(rule.slowBy, `${what}.slowBy`),
    factor,
    seen: 0,
    fired: 0,
  };
}

/**
 * Finds the rule that decides a call starting at `now` for `model`: the first rule in scope
 * (`between`, `models`) whose `every`, `times` and `probability` let it strike. Every rule in scope
 * counts the call for its `every`, whichever rule decides it, so each rule's rhythm is its own.
 * `draw(rule)` gives the call's random number in [0, 1) for that rule (asked only of rules with
 * a probability below 1).
 */
export function decideFault(
  rules: readonly CompiledFault[],
  now: number,
  model: string,
  draw: (rule: CompiledFault) => number,
): CompiledFault | undefined {
  let decided: CompiledFault | undefined;
  for (const rule of rules) {
    if (now < rule.from || now >= rule.to) continue;
    if (rule.models && !rule.models.has(model)) continue;
    rule.seen++;
    if (decided) continue;
    if (rule.seen % rule.every !== 0 || rule.fired >= rule.times) continue;
    if (rule.probability < 1 && !(draw(rule) < rule.probability)) continue;
    rule.fired++;
    decided = rule;
  }
  return decided;
}

import { createBreakerWindow, type BreakerWindowOptions, type BreakerWindowStats } from './breaker-window.js';
import { realClock, type Clock } from './clock.js';
import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';
import { toMs, type Duration } from './duration.js';
import { BrokenCircuitError, IsolatedCircuitError, isPolicyError } from './errors.js';
import { createEmitter, type Dispose, type EventSubscriber } from './events.js';
import { createMemoryStore } from './memory-store.js';
import type { Policy } from './policy.js';
import type { JsonValue, StateStore } from './state-store.js';

/**
 * `closed`: calls run and are counted. `open`: calls are rejected until `openUntil`.
 * `half_open`: a few probe calls decide between closing and re-opening. `isolated`: held open
 * by hand until `reset()`.
 */
export type CircuitState = 'closed' | 'open' | 'half_open' | 'isolated';

/** Why the state changed. `remote` means another breaker sharing the store changed it. */
export type CircuitStateChangeReason =
  | 'failures'
  | 'slow_calls'
  | 'open_elapsed'
  | 'probe_failed'
  | 'probe_slow'
  | 'probes_succeeded'
  | 'isolated'
  | 'reset'
  | 'restored'
  | 'remote';

/** Emitted on every state change. */
export interface CircuitStateChangeEvent {
  from: CircuitState;
  to: CircuitState;
  reason: CircuitStateChangeReason;
}

/** Emitted when a call admitted by the breaker resolves. */
export interface CircuitSuccessEvent {
  /** Run time; `NaN` when neither slow-call tracking nor a listener was on when the call started. */
  durationMs: number;
  slow: boolean;
}

/** Emitted when a call admitted by the breaker rejects. */
export interface CircuitFailureEvent extends CircuitSuccessEvent {
  error: unknown;
  /** False when the error did not count against the target (caller abort, or `isFailure` said no). */
  counted: boolean;
}

/** Emitted when the breaker refuses a call. */
export interface CircuitRejectEvent {
  state: 'open' | 'half_open' | 'isolated';
  /** Time until the breaker admits a probe (0 while half-open probes run, `Infinity` when isolated). */
  retryAfterMs: number;
}

/** An open duration that grows on each re-trip without a successful close in between. */
export interface OpenForBackoff {
  /** Open duration of the first trip. */
  initial: Duration;
  /** The open duration never exceeds this. */
  max: Duration;
  /** Each re-trip multiplies the previous open duration by this. Default 2. */
  factor?: number;
}

/** Options of {@link circuitBreaker}, beside the window strategy (see {@link BreakerWindowOptions}). */
export interface CircuitBreakerCommonOptions {
  /**
   * Calls running longer than `threshold` count as slow; the breaker opens when the slow share
   * reaches `rate` (under the window's `minCalls`). A slow success is still returned to the caller.
   */
  slowCall?: { threshold: Duration; rate: number };
  /** How long the breaker stays open before admitting probes: fixed, or growing per re-trip. Default `'30s'`. */
  openFor?: Duration | OpenForBackoff;
  /**
   * Half-open admits `probes` concurrent calls (others get a {@link BrokenCircuitError}) and
   * closes after `successesToClose` successful probes; any failed (or slow) probe re-opens.
   * Defaults: 1 probe, `successesToClose` = `probes`.
   */
  halfOpen?: { probes?: number; successesToClose?: number };
  /**
   * Decides whether an error counts as a failure (default: every error). An error that does not
   * count is a sign of a live target and is counted as a success. A caller's abort (the
   * signal aborted for any reason but a timeout) is never counted, whatever this says.
   */
  isFailure?: (error: unknown, ctx: PolicyContext) => boolean;
  /** Time source. Defaults to the real clock. */
  clock?: Clock;
  /**
   * Where state transitions are written and watched, so breakers sharing one store (and key)
   * agree. Defaults to a private memory store. A shared store needs a `key`.
   */
  store?: StateStore;
  /** The store key of this breaker's state. Required with a `store`. */
  key?: string;
}

/** Options of {@link circuitBreaker}: a window strategy plus the common options. */
export type CircuitBreakerOptions = BreakerWindowOptions & CircuitBreakerCommonOptions;

/** A breaker's state as JSON, from {@link CircuitBreakerPolicy.toJSON}. */
export interface CircuitBreakerSnapshot {
  state: CircuitState;
  /** Clock time of the last opening (0 when never opened). */
  openedAt: number;
  /** Clock time after which an open breaker admits probes (0 when not open). */
  openUntil: number;
  /** Trips since the last successful close (drives a growing `openFor`). */
  trips: number;
  /** Successful probes so far in the current half-open state. */
  halfOpenSuccesses: number;
  /** The window's counters. */
  window: JsonValue;
}

/**
 * How a call admitted by {@link CircuitBreakerPolicy.acquire} ended: it succeeded, it failed
 * with `error`, or it tells nothing about the target (`ignore`: the caller gave up).
 */
export type CircuitOutcome = 'success' | 'ignore' | { error: unknown };

/** A call the breaker admitted whose outcome comes later. Only the first `settle` counts. */
export interface CircuitTicket {
  /** Applies the outcome; `durationMs` (default: since `acquire`) decides whether it was slow. */
  settle(outcome: CircuitOutcome, durationMs?: number): void;
  /**
   * Frees a half-open probe's slot before the outcome is known (a stream past its first token), so
   * that a long or abandoned call does not hold back the next probes; the outcome still counts.
   */
  release(): void;
}

/** A circuit breaker policy (see {@link circuitBreaker}). */
export interface CircuitBreakerPolicy extends Policy {
  /**
   * Admits one call whose outcome is known only later than a promise could tell (a stream: at its
   * end, not at its first token), or throws as `execute` does when the breaker refuses it.
   */
  acquire(options?: ExecuteOptions): CircuitTicket;
  /** The current state. An open breaker stays `open` until the first call after `openUntil`. */
  readonly state: CircuitState;
  /** Milliseconds until an open breaker admits probes (0 unless open; `Infinity` when isolated). */
  readonly retryAfterMs: number;
  /** Trips since the last successful close. */
  readonly trips: number;
  /** The window's current counters. */
  stats(): BreakerWindowStats;
  /** Holds the breaker open (calls get an {@link IsolatedCircuitError}) until the returned function or `reset()` is called. */
  isolate(): Dispose;
  /** Closes the breaker from any state and forgets counters and trips. */
  reset(): void;
  /** The state as JSON. */
  toJSON(): CircuitBreakerSnapshot;
  /** Loads a state saved by `toJSON` (and shares it through the store). Throws a `TypeError` on a malformed snapshot. */
  restore(snapshot: CircuitBreakerSnapshot): void;
  /** Stops watching the store. */
  dispose(): void;
  /** Every state change, local or adopted from the store. */
  readonly onStateChange: EventSubscriber<CircuitStateChangeEvent>;
  /** Every admitted call that resolved. */
  readonly onSuccess: EventSubscriber<CircuitSuccessEvent>;
  /** Every admitted call that rejected, counted or not. */
  readonly onFailure: EventSubscriber<CircuitFailureEvent>;
  /** Every call the breaker refused. */
  readonly onReject: EventSubscriber<CircuitRejectEvent>;
}

/** What breakers write to the store: transitions only (window counters stay per process). */
type SharedState = {
  /** Format marker. */
  breaker: 1;
  /** Orders writes: (version, writer) only ever grows; the larger pair wins. */
  version: number;
  writer: string;
  state: CircuitState;
  openedAt: number;
  openUntil: number;
  trips: number;
};

/** How a finished call counts: as a success, as a failure, or not at all (a caller's abort). */
type CallResult = 0 | 1 | 2;
/** What an admitted call's outcome needs: whether it probes, in which state epoch, since when. */
interface Admitted {
  probe: boolean;
  epoch: number;
  timed: boolean;
  start: number;
}

const SUCCEEDED = 0;
const FAILED = 1;
const IGNORED = 2;

const STATES: readonly string[] = ['closed', 'open', 'half_open', 'isolated'];

let writerSeq = 0;
const newWriterId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}-${(writerSeq++).toString(36)}`;

function finiteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function readShared(value: JsonValue | undefined): SharedState | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { breaker, version, writer, state, openedAt, openUntil, trips } = value;
  if (breaker !== 1 || !finiteNumber(version) || typeof writer !== 'string' || typeof state !== 'string') return undefined;
  if (!STATES.includes(state) || !finiteNumber(openedAt) || !finiteNumber(openUntil) || !finiteNumber(trips)) return undefined;
  return { breaker, version, writer, state: state as CircuitState, openedAt, openUntil, trips };
}

/** Uses a full context as is (the common case under a pipeline), so the hot path does not copy it. */
function asContext(options: ExecuteOptions | undefined): PolicyContext {
  if (
    options !== undefined &&
    options.signal !== undefined &&
    options.attempt !== undefined &&
    options.deadline !== undefined &&
    options.elapsed !== undefined
  ) {
    return options as PolicyContext;
  }
  return toContext(options);
}

function openDurations(openFor: Duration | OpenForBackoff | undefined): (trips: number) => number {
  if (openFor === undefined || typeof openFor === 'number' || typeof openFor === 'string') {
    const ms = toMs(openFor ?? '30s');
    return () => ms;
  }
  const initial = named('openFor.initial', openFor.initial);
  const max = named('openFor.max', openFor.max);
  const factor = openFor.factor ?? 2;
  if (!(factor >= 1) || !Number.isFinite(factor)) throw new RangeError(`openFor.factor must be a finite number >= 1, got ${factor}`);
  if (max < initial) throw new RangeError(`openFor.max (${max}ms) must not be below openFor.initial (${initial}ms)`);
  return (trips) => Math.min(max, initial * factor ** Math.max(0, trips - 1));
}

/** {@link toMs}, with the option's name in front of its error. */
function named(name: string, value: Duration): number {
  try {
    return toMs(value);
  } catch (error) {
    throw new TypeError(`${name}: ${(error as Error).message}`, { cause: error });
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * A circuit breaker: stops calling a failing target for a while, then lets a few probe calls
 * decide whether it has recovered. Open → half-open happens on the first call after
 * `openUntil` (no timers). State transitions go through a {@link StateStore}, so breakers
 * that share a store and key (gateway replicas) open and close together.
 *
 * ```ts
 * const breaker = circuitBreaker({ window: '30s', failureRate: 0.5, minCalls: 10, openFor: '60s' });
 * await breaker.execute(({ signal }) => fetch(url, { signal }));
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  const clock = options.clock ?? realClock;
  if (options.store && options.key === undefined) {
    throw new TypeError('circuit breaker: a shared `store` needs a `key` naming this breaker');
  }
  const store = options.store ?? createMemoryStore({ clock });
  const key = options.key ?? 'breaker';
  const slowMs = options.slowCall ? toMs(options.slowCall.threshold) : Infinity;
  const window = createBreakerWindow(options, { clock, slowCallRate: options.slowCall?.rate });
  const openForMs = openDurations(options.openFor);
  const probes = positiveInteger('halfOpen.probes', options.halfOpen?.probes ?? 1);
  const successesToClose = positiveInteger('halfOpen.successesToClose', options.halfOpen?.successesToClose ?? probes);
  const isFailure = options.isFailure;
  const writer = newWriterId();

  const stateChanges = createEmitter<CircuitStateChangeEvent>();
  const successes = createEmitter<CircuitSuccessEvent>();
  const failures = createEmitter<CircuitFailureEvent>();
  const rejects = createEmitter<CircuitRejectEvent>();

  let state: CircuitState = 'closed';
  let openedAt = 0;
  let openUntil = 0;
  let trips = 0;
  let probesInFlight = 0;
  let halfOpenSuccesses = 0;
  // Changes on every transition; a call's outcome counts only in the state it was admitted in.
  let epoch = 0;
  // Identifies one isolation, so a stale isolate() handle cannot end a later one.
  let isolation = 0;
  let isolationHolds = 0;
  let version = 0;
  let versionWriter = '';

  /** Enters `to` (fields such as openUntil already set), shares it, and tells listeners. */
  const enter = (to: CircuitState, reason: CircuitStateChangeReason, share: boolean) => {
    const from = state;
    state = to;
    epoch++;
    probesInFlight = 0;
    halfOpenSuccesses = 0;
    window.reset();
    if (to === 'isolated') {
      isolation++;
      isolationHolds = 0;
    }
    if (share) publish();
    if (from !== to && stateChanges.active) stateChanges.emit({ from, to, reason });
  };

  const publish = () => {
    version++;
    versionWriter = writer;
    const shared: SharedState = { breaker: 1, version, writer, state, openedAt, openUntil, trips };
    try {
      store.set(key, shared);
    } catch {
      // A broken store never fails a call: this process carries on with its own state.
    }
  };

  const open = (reason: CircuitStateChangeReason) => {
    trips++;
    openedAt = clock.now();
    openUntil = openedAt + openForMs(trips);
    enter('open', reason, true);
  };

  const close = (reason: CircuitStateChangeReason) => {
    trips = 0;
    openUntil = 0;
    enter('closed', reason, true);
  };

  const adopt = (shared: SharedState) => {
    version = shared.version;
    versionWriter = shared.writer;
    openedAt = shared.openedAt;
    openUntil = shared.openUntil;
    trips = shared.trips;
    // Entered afresh even in the same state (a remote reset also clears this replica's counters).
    enter(shared.state, 'remote', false);
  };

  const onStoreChange = (value: JsonValue | undefined) => {
    if (value === undefined) {
      // The key was deleted (an operator's reset): close without writing it back.
      if (state !== 'closed') {
        trips = 0;
        openUntil = 0;
        enter('closed', 'remote', false);
      }
      return;
    }
    const shared = readShared(value);
    // Our own writes come back as echoes; older or equal writes lost the race already.
    if (!shared || shared.writer === writer) return;
    if (shared.version > version || (shared.version === version && shared.writer > versionWriter)) {
      adopt(shared);
      return;
    }
    // A write that lost the race may still be what the store holds (it landed last): write
    // ours again so that replicas starting later read the winner too.
    try {
      const held = readShared(store.get(key));
      if (held && held.version === shared.version && held.writer === shared.writer) publish();
    } catch {
      // Unreadable store: nothing to repair.
    }
  };

  const tripReason = (): CircuitStateChangeReason => (window.stats().trip === 'slow_calls' ? 'slow_calls' : 'failures');

  const reject = (rejected: 'open' | 'half_open' | 'isolated', retryAfterMs: number): never => {
    if (rejects.active) rejects.emit({ state: rejected, retryAfterMs });
    throw rejected === 'isolated' ? new IsolatedCircuitError() : new BrokenCircuitError(retryAfterMs);
  };

  /** Admission outside the closed state: returns true for a half-open probe, or throws. */
  const admit = (): boolean => {
    if (state === 'isolated') return reject('isolated', Infinity);
    if (state === 'open') {
      const left = openUntil - clock.now();
      if (left > 0) return reject('open', left);
      enter('half_open', 'open_elapsed', false);
    }
    if (probesInFlight >= probes) return reject('half_open', 0);
    probesInFlight++;
    return true;
  };

  const countsAsFailure = (error: unknown, ctx: PolicyContext): boolean => {
    if (!isFailure) return true;
    try {
      return isFailure(error, ctx);
    } catch {
      return true;
    }
  };

  /** Applies a finished call to the state, if the state is still the one that admitted it. */
  const settle = (result: CallResult, slow: boolean, probe: boolean, callEpoch: number, holdsSlot = probe) => {
    if (callEpoch !== epoch) return;
    if (probe) {
      if (holdsSlot) probesInFlight--;
      if (result === IGNORED) return;
      if (result === FAILED) open('probe_failed');
      else if (slow) open('probe_slow');
      else if (++halfOpenSuccesses >= successesToClose) close('probes_succeeded');
      return;
    }
    if (result === IGNORED) return;
    if (window.record(result === FAILED ? (slow ? 'slow_failure' : 'failure') : slow ? 'slow_success' : 'success')) {
      open(tripReason());
    }
  };

  // Picks up a state other breakers already left in a shared store.
  try {
    const initial = readShared(store.get(key));
    if (initial) adopt(initial);
  } catch {
    // An unreadable store: start closed.
  }
  let unsubscribe: Dispose = () => {};
  try {
    unsubscribe = store.subscribe(key, onStoreChange);
  } catch {
    // As above: carry on with local state.
  }

  /** Applies how an admitted call ended (see {@link CircuitOutcome}). */
  const finishCall = (ctx: PolicyContext, admitted: Admitted, outcome: CircuitOutcome, measuredMs: number | undefined, holdsSlot: boolean) => {
    const durationMs = measuredMs ?? (admitted.timed ? clock.now() - admitted.start : NaN);
    const slow = durationMs > slowMs;
    if (outcome === 'success') {
      settle(SUCCEEDED, slow, admitted.probe, admitted.epoch, holdsSlot);
      if (successes.active) successes.emit({ durationMs, slow });
      return;
    }
    if (outcome === 'ignore') {
      settle(IGNORED, slow, admitted.probe, admitted.epoch, holdsSlot);
      return;
    }
    // A caller who gave up tells nothing about the target; a timeout does.
    const callerAbort = ctx.signal.aborted && !isPolicyError(ctx.signal.reason, 'timeout');
    const counted = !callerAbort && countsAsFailure(outcome.error, ctx);
    settle(counted ? FAILED : callerAbort ? IGNORED : SUCCEEDED, slow, admitted.probe, admitted.epoch, holdsSlot);
    if (failures.active) failures.emit({ error: outcome.error, durationMs, slow, counted });
  };

  /** Lets a call in (or throws as a refusal) and notes what its outcome will need. */
  const admitCall = (ctx: PolicyContext): Admitted => {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const probe = state === 'closed' ? false : admit();
    const timed = slowMs !== Infinity || successes.active || failures.active;
    return { probe, epoch, timed, start: timed ? clock.now() : NaN };
  };

  const policy: CircuitBreakerPolicy = {
    async execute<T>(operation: Operation<T>, executeOptions?: ExecuteOptions): Promise<T> {
      const ctx = asContext(executeOptions);
      const admitted = admitCall(ctx);
      let value: T;
      try {
        value = await operation(ctx);
      } catch (error) {
        finishCall(ctx, admitted, { error }, undefined, admitted.probe);
        throw error;
      }
      finishCall(ctx, admitted, 'success', undefined, admitted.probe);
      return value;
    },

    acquire(executeOptions?: ExecuteOptions): CircuitTicket {
      const ctx = asContext(executeOptions);
      const admitted = admitCall(ctx);
      let settled = false;
      let holdsSlot = admitted.probe;
      return {
        release() {
          if (!holdsSlot) return;
          holdsSlot = false;
          if (admitted.epoch === epoch) probesInFlight--;
        },
        settle(outcome, durationMs) {
          if (settled) return;
          settled = true;
          const held = holdsSlot;
          holdsSlot = false;
          finishCall(ctx, admitted, outcome, durationMs, held);
        },
      };
    },

    get state() {
      return state;
    },
    get retryAfterMs() {
      if (state === 'isolated') return Infinity;
      return state === 'open' ? Math.max(0, openUntil - clock.now()) : 0;
    },
    get trips() {
      return trips;
    },
    stats: () => window.stats(),

    isolate() {
      if (state !== 'isolated') {
        openUntil = 0;
        enter('isolated', 'isolated', true);
      }
      isolationHolds++;
      const mine = isolation;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (state !== 'isolated' || isolation !== mine) return;
        if (--isolationHolds <= 0) close('reset');
      };
    },

    reset() {
      close('reset');
    },

    toJSON() {
      return { state, openedAt, openUntil, trips, halfOpenSuccesses, window: window.toJSON() };
    },

    restore(snapshot) {
      const s: Partial<Record<keyof CircuitBreakerSnapshot, unknown>> =
        typeof snapshot === 'object' && snapshot !== null ? snapshot : {};
      if (
        typeof s.state !== 'string' ||
        !STATES.includes(s.state) ||
        !finiteNumber(s.openedAt) ||
        !finiteNumber(s.openUntil) ||
        !finiteNumber(s.trips) ||
        !Number.isInteger(s.trips) ||
        s.trips < 0 ||
        !finiteNumber(s.halfOpenSuccesses)
      ) {
        throw new TypeError('circuit breaker: not a breaker snapshot (see toJSON)');
      }
      openedAt = s.openedAt;
      openUntil = s.openUntil;
      trips = s.trips;
      enter(s.state as CircuitState, 'restored', true);
      // After enter(), which clears the window and the half-open count.
      if (state === 'half_open') halfOpenSuccesses = Math.max(0, Math.min(successesToClose - 1, s.halfOpenSuccesses));
      if (state === 'closed') window.restore((s.window ?? null) as JsonValue);
    },

    dispose() {
      unsubscribe();
    },

    onStateChange: stateChanges.on,
    onSuccess: successes.on,
    onFailure: failures.on,
    onReject: rejects.on,
  };
  return policy;
}

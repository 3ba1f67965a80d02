import type { ErrorKind } from '../llm/error-kind.js';
import type { Clock } from '../policy/clock.js';
import type { Duration } from '../policy/duration.js';
import type { Dispose } from '../policy/events.js';
import { compileFaults, decideFault, type CompiledFault, type FaultKind, type FaultRule } from './simulated-faults.js';

/** What a call came to: `running`, `ok`, `cancelled` (the consumer stopped reading a stream), or the error kind. */
export type CallOutcome = 'running' | 'ok' | 'cancelled' | ErrorKind;

/**
 * What decided a call's failure or fault: a scripted rule, an injected outage, the rate limit,
 * the concurrency limit, an unserved model, the context window.
 */
export type CallCause = 'fault' | 'outage' | 'rate_limit' | 'concurrency' | 'model' | 'context_window';

/** One call, as `control.log` records it (updated while the call runs). */
export interface SimulatedCallRecord {
  /** The call's number, from 1. */
  readonly call: number;
  readonly model: string;
  readonly stream: boolean;
  /** Clock times. */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly outcome: CallOutcome;
  readonly cause?: CallCause;
  /** The fault kind of the rule or outage that decided the call. */
  readonly fault?: FaultKind;
  /** The call's signal aborted before the call ended. */
  readonly aborted: boolean;
  /** Content chunks sent (text chunks and tool calls; for `chat`, all of them on success). */
  readonly chunks: number;
}

/** An outage injected with {@link SimulatedControl.injectOutage}. */
export interface SimulatedOutage {
  readonly kind: FaultKind;
  /** Clock times. */
  readonly from: number;
  readonly until: number;
}

/** Runtime control and statistics of a simulated provider (for tests, the demo and the dashboard). */
export interface SimulatedControl {
  /** Replaces the fault script (counters start again; windows stay relative to the provider's creation). */
  setFaults(rules: readonly FaultRule[]): void;
  /**
   * Every call fails with `kind` (or stalls, is cut…) from now for `duration`, before the script
   * is consulted. `rule` adds fields such as `retryAfter` or `probability`. Returns a function
   * that ends the outage early.
   */
  injectOutage(kind: FaultKind, duration: Duration, rule?: Omit<FaultRule, 'kind' | 'between'>): Dispose;
  /** Removes the fault script and every outage: the provider is healthy again. */
  clear(): void;
  /** The current fault script. */
  readonly faults: readonly FaultRule[];
  /** Outages not yet over. */
  readonly outages: readonly SimulatedOutage[];
  /** Calls received (turned away ones included). */
  readonly calls: number;
  /** Calls running now. */
  readonly inFlight: number;
  /** Calls whose signal aborted before they ended (e.g. hedge losers, timeouts). */
  readonly aborted: number;
  /** The most recent calls, oldest first. */
  readonly log: readonly SimulatedCallRecord[];
}

/** A call's record, writable by the provider. */
export type CallRecord = { -readonly [K in keyof SimulatedCallRecord]: SimulatedCallRecord[K] };

/** The fault that decides a call, and where it came from. */
export interface FaultDecision {
  fault: CompiledFault;
  cause: 'fault' | 'outage';
}

/** The provider's side of the control panel: fault decisions, call records and counters. */
export interface SimulatedState {
  readonly control: SimulatedControl;
  readonly inFlight: number;
  /** Numbers and logs a new call. */
  open(model: string, stream: boolean, now: number): CallRecord;
  /** The call is running (counts in `inFlight` until it settles). */
  enter(record: CallRecord): void;
  /** Ends a call once: its outcome, its end time, and the in-flight count. */
  settle(record: CallRecord, outcome: CallOutcome, now: number): void;
  /** Marks the call's signal as aborted (counted once per call). */
  markAborted(record: CallRecord): void;
  /**
   * The fault that decides a call starting at `now` (outages first, then the script). `draw(key)`
   * gives the call's random number for the rule with that stable key.
   */
  decide(now: number, model: string, draw: (key: number) => number): FaultDecision | undefined;
}

interface OutageEntry {
  fault: CompiledFault;
  outage: SimulatedOutage;
}

// Outage rules draw from keys far from the script's indexes, so adding one never shifts the script's draws.
const OUTAGE_KEYS = 1_000_000;

/** Creates the state behind a simulated provider's `control`. */
export function createSimulatedState(clock: Clock, createdAt: number, faults: readonly FaultRule[], logLimit: number): SimulatedState {
  const keys = new WeakMap<CompiledFault, number>();
  const compileScript = (rules: readonly FaultRule[]) => {
    const compiled = compileFaults(rules, createdAt);
    compiled.forEach((f, i) => keys.set(f, i));
    return compiled;
  };
  let script = compileScript(faults);
  let outages: OutageEntry[] = [];
  let rules: CompiledFault[] = script;
  let outageSeq = 0;
  const rebuild = () => {
    rules = outages.length === 0 ? script : [...outages.map((o) => o.fault), ...script];
  };

  let calls = 0;
  let inFlight = 0;
  let aborted = 0;
  let log: CallRecord[] = [];
  const running = new Set<CallRecord>();

  const control: SimulatedControl = {
    setFaults(next) {
      script = compileScript(next);
      rebuild();
    },
    injectOutage(kind, duration, rule = {}) {
      const now = clock.now();
      const [fault] = compileFaults([{ ...rule, kind, between: [0, duration] }], now, 'injectOutage');
      const entry: OutageEntry = { fault: fault!, outage: { kind, from: now, until: fault!.to } };
      keys.set(entry.fault, OUTAGE_KEYS + outageSeq++);
      outages = [entry, ...outages];
      rebuild();
      return () => {
        outages = outages.filter((o) => o !== entry);
        rebuild();
      };
    },
    clear() {
      script = [];
      outages = [];
      rebuild();
    },
    get faults() {
      return script.map((f) => f.rule);
    },
    get outages() {
      const now = clock.now();
      return outages.filter((o) => o.outage.until > now).map((o) => o.outage);
    },
    get calls() {
      return calls;
    },
    get inFlight() {
      return inFlight;
    },
    get aborted() {
      return aborted;
    },
    get log() {
      return log.length > logLimit ? log.slice(-logLimit) : log;
    },
  };

  return {
    control,
    get inFlight() {
      return inFlight;
    },
    open(model, stream, now) {
      const record: CallRecord = { call: ++calls, model, stream, startedAt: now, outcome: 'running', aborted: false, chunks: 0 };
      if (logLimit > 0) {
        log.push(record);
        // Trimmed in batches, so a long run costs O(1) per call.
        if (log.length >= 2 * logLimit) log = log.slice(-logLimit);
      }
      return record;
    },
    enter(record) {
      running.add(record);
      inFlight++;
    },
    settle(record, outcome, now) {
      if (record.outcome !== 'running') return;
      record.outcome = outcome;
      record.endedAt = now;
      if (running.delete(record)) inFlight--;
    },
    markAborted(record) {
      if (record.aborted) return;
      record.aborted = true;
      aborted++;
    },
    decide(now, model, draw) {
      if (outages.some((o) => o.outage.until <= now)) {
        outages = outages.filter((o) => o.outage.until > now);
        rebuild();
      }
      const fault = decideFault(rules, now, model, (rule) => draw(keys.get(rule) ?? 0));
      if (!fault) return undefined;
      return { fault, cause: outages.some((o) => o.fault === fault) ? 'outage' : 'fault' };
    },
  };
}

import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { abortedError, contentFilterError, truncatedStreamError } from '../llm/classify.js';
import { cooldownMs } from '../llm/rate-limit-headers.js';
import { isLlmError, LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import type { CircuitBreakerOptions, CircuitOutcome } from '../policy/circuit-breaker.js';
import { isPolicyError } from '../policy/errors.js';
import { realClock, type Clock } from '../policy/clock.js';
import { NEVER_ABORTED } from '../policy/context.js';
import { toMs, type Duration } from '../policy/duration.js';
import { createEmitter, type Dispose } from '../policy/events.js';
import { createMemoryStore } from '../policy/memory-store.js';
import type { RetryBudget } from '../policy/retry-budget.js';
import type { StateStore } from '../policy/state-store.js';
import type { AttemptRecord } from './attempt-record.js';
import { decideAction, mergeErrorRules, type ErrorRules } from './error-rules.js';
import { createTargetRetry, walkTargets, type TargetRetry, type TargetRetryOptions, type WalkSettings } from './fallback-walk.js';
import { routerEventSubscriptions, type RouterEventSubscriptions, type RouterFailureEvent, type RouterEvent } from './router-events.js';
import { openUntilCommit, type CommittedStream } from './stream-call.js';
import { settleStream } from './stream-breaker.js';
import { sharedKeyPrefix } from './key-prefix.js';
import { priorityStrategy, type Strategy } from './strategy.js';
import { createTargetRuntime, type TargetRuntime } from './target-runtime.js';
import { toTarget, type Target, type TargetOptions } from './target.js';
import { continuationRequest, isResumable, type ResumeOptions } from './resume.js';
import { createRouterMetrics, type MetricsEvent, type RouterMetricsOptions, type RouterMetricsSnapshot, type RouterStatus, type SnapshotOptions } from './router-metrics.js';
import { checkMaxCost, estimateCallTokens, exceedsMaxCost } from './cost.js';
import { startHealthChecks, type HealthCheckOptions, type HealthChecks } from './health-check.js';
import { toLlmError } from './to-llm-error.js';
import { resolveWalkOptions } from './walk-options.js';
import { asFinalError, openCallScope, type CallScope } from './call-scope.js';

/** Timeouts of a route. */
export interface RouterTimeouts {
  /** One deadline over every attempt, wait and fallback (and the whole stream). */
  total?: Duration;
  /** Each attempt on a target (for streams: up to the first content event). */
  attempt?: Duration;
  /** Streams: from the request to the first content event. */
  firstToken?: Duration;
  /**
   * Streams: the longest silence between two events, the wait for the first one included. Default
   * 5 minutes (or `firstToken` / `attempt` when longer), so no stream can hang for ever, while a
   * reasoning model may think in silence as long as the route allows.
   */
  idle?: Duration;
}

/** The stream idle timeout when a router sets none. */
export const DEFAULT_STREAM_IDLE_MS = 5 * 60_000;

/**
 * The stream idle timeout of these timeouts, ms: `idle`, else {@link DEFAULT_STREAM_IDLE_MS} but
 * never shorter than a wait the route allows before the first token (`firstToken`, `attempt`),
 * since the idle timer runs there too.
 */
export function streamIdleMs(timeouts: { idle?: Duration; firstToken?: Duration; attempt?: Duration }): number {
  if (timeouts.idle !== undefined) return toMs(timeouts.idle);
  const longestWait = Math.max(timeouts.firstToken === undefined ? 0 : toMs(timeouts.firstToken), timeouts.attempt === undefined ? 0 : toMs(timeouts.attempt));
  return Math.max(DEFAULT_STREAM_IDLE_MS, longestWait);
}

/** Options of {@link createRouter}. Plain data plus providers. */
export interface RouterOptions {
  targets: readonly TargetOptions[];
  /** Order of candidates; default lowest priority first. */
  strategy?: Strategy;
  retry?: TargetRetryOptions;
  /** Per-target breaker; `false` disables it. Default: 50% failures over 30 s (≥ 10 calls) opens it for 30 s. */
  breaker?: CircuitBreakerOptions | false;
  timeouts?: RouterTimeouts;
  /** Overrides of the default action per error kind. */
  errors?: ErrorRules;
  cooldowns?: { rateLimit?: Duration; quota?: Duration; disabled?: Duration };
  /**
   * Start the next target when the first has produced no answer (streams: no first token) after
   * `delay`; the first to commit wins and the others are aborted. Hedges spend the retry budget.
   */
  hedge?: { delay: Duration; maxAttempts?: number };
  /**
   * Streams: when a target fails after the first token, continue on the next target with the
   * partial answer as context (see `continuationRequest`) instead of ending with an error.
   * `true` resumes once. Not done while a tool call is half-streamed.
   */
  resume?: boolean | ResumeOptions;
  /** Caps retries router-wide; default 20% of recent calls (at least 10/s). `false` for no cap. */
  budget?: RetryBudget | false;
  clock?: Clock;
  /** Where breaker states and cooldowns live; default in memory. Share one to share state. */
  store?: StateStore;
  /**
   * Prefix of the store's keys, to keep several routers apart in one store. Default the store's own
   * `keyPrefix` (a Redis store's `prefix`, so that what it shares is what the router writes), else `ballast:`.
   */
  keyPrefix?: string;
  /** Random source of the strategies and of the default retry jitter; default `Math.random`. */
  random?: () => number;
  /** The route's name in metrics and status (the gateway uses the model name clients ask for). */
  route?: string;
  /** Histogram bounds, windows and thresholds of `metrics()` / `status()`. */
  metrics?: Omit<RouterMetricsOptions, 'clock' | 'route'>;
}

/** Per-call options. */
export interface CallOptions {
  /** Target ids not to use for this call. */
  ignore?: readonly string[];
  /** Skip targets whose estimated cost of this request (US dollars) is above this; targets without prices are kept. */
  maxCost?: number;
}

/** An answer, with who gave it and everything tried on the way. */
export interface RoutedResponse extends ChatResponse {
  /** The id of the target that answered. */
  target: string;
  /** Every attempt and skip, in order, the successful one last. */
  attempts: readonly AttemptRecord[];
  /** How many times the call moved to another target. */
  fallbacks: number;
}

/** A routed stream: iterate it for events; `target` is known once the first event arrived. */
export interface RoutedStream extends AsyncIterable<StreamEvent> {
  readonly target: string | undefined;
  readonly attempts: readonly AttemptRecord[];
  readonly fallbacks: number;
}

/** Routes chat requests over targets with retries, fallbacks, breakers and cooldowns. */
export interface Router extends RouterEventSubscriptions {
  chat(request: ChatRequest, options?: CallOptions): Promise<RoutedResponse>;
  stream(request: ChatRequest, options?: CallOptions): RoutedStream;
  /** The targets now, in configured order. */
  targets(): readonly Target[];
  /** The runtime (breaker, cooldown, load) of a target. */
  runtime(id: string): TargetRuntime | undefined;
  /** Adds a target while traffic flows; returns its id. */
  addTarget(options: TargetOptions): string;
  /** Removes a target; calls already on it finish. Returns false if there was none. */
  removeTarget(id: string): boolean;
  /** Counters, latency/TTFT histograms, breaker and cooldown state per target and for the route. */
  metrics(options?: SnapshotOptions): RouterMetricsSnapshot;
  /** Healthy / degraded / unavailable per target and for the route, with the reason. */
  status(): RouterStatus;
  /** Recent decisions (retries, fallbacks, breaker changes…), secret-free, after sequence `afterSeq`. */
  events(afterSeq?: number): MetricsEvent[];
  /** Starts active health checks (stopped by `close()` or the handle's `stop()`). */
  startHealthChecks(options: HealthCheckOptions): HealthChecks;
  /** Stops health checks, timers and store subscriptions. */
  close(): void;
}


/** Creates a {@link Router}. Throws a `TypeError` naming the bad option. */
export function createRouter(options: RouterOptions): Router {
  if (!options || !Array.isArray(options.targets)) throw new TypeError('createRouter: `targets` must be an array');
  const clock = options.clock ?? realClock;
  const store = options.store ?? createMemoryStore({ clock });
  const keyPrefix = sharedKeyPrefix(options.store, options.keyPrefix, '');
  const strategy = options.strategy ?? priorityStrategy;
  if (typeof strategy !== 'function') {
    throw new TypeError(`createRouter: strategy must be a strategy function such as priority() or roundRobin(), got ${JSON.stringify(strategy)}`);
  }
  const random = options.random ?? Math.random;
  const rules = options.errors ?? {};
  const events = createEmitter<RouterEvent>();
  const { budget, totalMs, attemptTimeout, cooldowns, hedge, breaker: breakerOptions } = resolveWalkOptions(options, clock);
  const t = options.timeouts ?? {};
  const firstTokenMs = t.firstToken === undefined ? undefined : toMs(t.firstToken);
  const streamTimeouts = { firstTokenMs, idleMs: streamIdleMs(t) };
  const resume: ResumeOptions | undefined = options.resume === true ? {} : options.resume || undefined;
  const retryOptions = options.retry ?? {};
  const targetRetry = createTargetRetry(retryOptions, rules, budget, clock, options.random);

  let runtimes: TargetRuntime[] = [];
  const ownPolicies = new Map<string, { targetRetry: TargetRetry; rules: ErrorRules }>();
  const healthChecks = new Set<HealthChecks>();
  const stateListeners = new Map<string, Dispose>();
  let nextCallId = 1;

  const add = (targetOptions: TargetOptions, index: number): string => {
    const target = toTarget(targetOptions, index);
    if (runtimes.some((r) => r.target.id === target.id)) throw new TypeError(`targets[${index}].id: duplicate target id "${target.id}"`);
    const runtime = createTargetRuntime(target, {
      clock,
      store,
      keyPrefix,
      breaker:
        breakerOptions === false
          ? false
          : ({
              ...breakerOptions,
              isFailure: (error: unknown) => countsForBreaker(error, target),
            } as CircuitBreakerOptions),
    });
    if (runtime.breaker) {
      stateListeners.set(
        target.id,
        runtime.breaker.onStateChange((e) => events.emit({ type: 'breaker', at: clock.now(), target: target.id, from: e.from, to: e.to })),
      );
    }
    if (target.retry || target.errors) {
      const targetRules = mergeErrorRules(target.errors, rules);
      ownPolicies.set(target.id, { rules: targetRules, targetRetry: createTargetRetry({ ...retryOptions, ...target.retry }, targetRules, budget, clock, options.random) });
    }
    runtimes = [...runtimes, runtime];
    return target.id;
  };

  /** A target's own error rules (merged over the route's), or the route's. */
  const rulesOf = (target: Target): ErrorRules => ownPolicies.get(target.id)?.rules ?? rules;

  const countsForBreaker = (error: unknown, target: Target): boolean => {
    const llmError = toLlmError(error, target);
    return llmError.kind !== 'aborted' && decideAction(llmError, rulesOf(target)).countsForBreaker;
  };

  options.targets.forEach((target, index) => add(target, index));

  const candidatesFor = (request: ChatRequest, stream: boolean, callOptions: CallOptions | undefined, skipped: AttemptRecord[]) => {
    const now = clock.now();
    const wantsTools = (request.tools?.length ?? 0) > 0;
    const maxCost = callOptions?.maxCost;
    const tokens = maxCost === undefined ? undefined : estimateCallTokens(request);
    const eligible: TargetRuntime[] = [];
    for (const runtime of runtimes) {
      const { target } = runtime;
      const reason = callOptions?.ignore?.includes(target.id)
        ? 'ignored'
        : stream && !target.supportsStream
          ? 'no_stream'
          : wantsTools && !target.supportsTools
            ? 'no_tools'
            : undefined;
      const overCost = !reason && tokens ? exceedsMaxCost(target, tokens, maxCost!) : undefined;
      if (reason || overCost) {
        skipped.push({ target: target.id, attempt: 0, outcome: 'skipped', skipReason: reason ?? 'max_cost', message: overCost, startedAt: now, durationMs: 0, delayBeforeMs: 0 });
      } else eligible.push(runtime);
    }
    return strategy(eligible, { request, stream, random });
  };

  // Opened once per call: the call counts once in the retry budget, however many targets it tries.
  const callScope = (request: ChatRequest): CallScope => {
    budget?.recordCall();
    return openCallScope(clock, request.signal ?? NEVER_ABORTED, totalMs);
  };

  const settingsFor = (scope: CallScope, callId: number, stream: boolean): WalkSettings => ({
    callId,
    clock,
    emit: (event) => events.emit(event),
    rules,
    retry: retryOptions,
    targetRetry,
    perTarget: ownPolicies.size === 0 ? undefined : (runtime) => ownPolicies.get(runtime.target.id),
    cooldowns,
    attemptTimeout,
    budget,
    signal: scope.signal,
    callerSignal: scope.callerSignal,
    deadline: scope.deadline,
    stream,
  });

  const reportFailure = (callId: number, stream: boolean, start: number, error: LlmError, attempts: readonly AttemptRecord[]) => {
    const event: RouterFailureEvent = { type: 'failure', callId, at: clock.now(), stream, durationMs: clock.now() - start, error, attempts };
    events.emit(event);
  };

  /** Keeps a target away until its reset when a success says it has nothing left (non-streamed answers carry the headers). */
  const noteRateLimit = (runtime: TargetRuntime, response: { rateLimit?: ChatResponse['rateLimit'] }, callId: number) => {
    const ms = cooldownMs(response.rateLimit);
    if (!ms || ms <= 0) return;
    const now = clock.now();
    if (runtime.coolDown(now + ms, 'exhausted', now)) {
      events.emit({ type: 'cooldown', callId, at: now, target: runtime.target.id, until: now + ms, reason: 'exhausted' });
    }
  };

  /** Streams carry the rate-limit headers on their start event: the same cooldown as a chat answer's. */
  const noteStreamRateLimit = (stream: CommittedStream, callId: number) => {
    const start = stream.buffered.find((e) => e.type === 'start');
    if (start?.type === 'start' && start.rateLimit) noteRateLimit(stream.runtime, start, callId);
  };

  /** An answer filtered before any content is a failure to fall back from, when the route says so (as for chat). */
  const refuseFiltered = (stream: CommittedStream): CommittedStream => {
    if (!rulesOf(stream.runtime.target).fallbackOnContentFilter || !stream.ended) return stream;
    const finish = stream.buffered.find((e) => e.type === 'finish');
    if (finish?.type !== 'finish' || finish.finishReason !== 'content_filter') return stream;
    stream.abort();
    stream.release();
    const { target } = stream.runtime;
    throw contentFilterError(finish.rawFinishReason, { provider: target.provider.name, model: target.model });
  };

  const router: Router = {
    async chat(request, callOptions) {
      checkRequest(request);
      if (callOptions?.maxCost !== undefined) checkMaxCost(callOptions.maxCost);
      const callId = nextCallId++;
      const scope = callScope(request);
      const upstream = withoutSignal(request);
      const attempts: AttemptRecord[] = [];
      try {
        const candidates = candidatesFor(request, false, callOptions, attempts);
        const result = await walkTargets(
          candidates,
          settingsFor(scope, callId, false),
          async (runtime, signal) => {
            const response = await runtime.target.provider.chat(upstream, { model: runtime.target.model, signal });
            if (response.finishReason === 'content_filter' && rulesOf(runtime.target).fallbackOnContentFilter) {
              throw contentFilterError(response.rawFinishReason, { provider: runtime.target.provider.name, model: runtime.target.model });
            }
            return response;
          },
          attempts,
          hedge,
        );
        const durationMs = clock.now() - scope.start;
        result.runtime.observeLatency(attempts[attempts.length - 1]?.durationMs ?? durationMs, 'latency');
        noteRateLimit(result.runtime, result.value, callId);
        events.emit({ type: 'success', callId, at: clock.now(), target: result.runtime.target.id, stream: false, durationMs, usage: result.value.usage, attempts });
        return { ...result.value, target: result.runtime.target.id, attempts, fallbacks: result.fallbacks };
      } catch (thrown) {
        const error = asFinalError(thrown, attempts, clock.now());
        reportFailure(callId, false, scope.start, error, attempts);
        throw error;
      } finally {
        scope.end();
      }
    },

    stream(request, callOptions) {
      if (callOptions?.maxCost !== undefined) checkMaxCost(callOptions.maxCost);
      const attempts: AttemptRecord[] = [];
      let target: string | undefined;
      let fallbacks = 0;
      const iterate = async function* (): AsyncGenerator<StreamEvent> {
        checkRequest(request);
        const callId = nextCallId++;
        const scope = callScope(request);
        const upstream = withoutSignal(request);
        const settings = settingsFor(scope, callId, true);
        let current: CommittedStream | undefined;
        let finished = false;
        let failedReported = false;
        let sawFinish = false;
        // Read to its end (the upstream is done): only then is there nothing to stop.
        let drained = false;
        // The committed stream's inFlight count was already given back (a resume moved on).
        let released = false;
        let ttftMs = 0;
        let usage: RoutedResponse['usage'] | undefined;
        const succeed = () => {
          finished = true;
          settleStream(current!, 'success');
          events.emit({ type: 'success', callId, at: clock.now(), target: target!, stream: true, durationMs: clock.now() - scope.start, ttftMs, usage, attempts });
        };
        try {
          const first = await walkTargets(
            candidatesFor(request, true, callOptions, attempts),
            settings,
            (runtime, signal) => openUntilCommit(runtime, upstream, signal, scope.signal, clock, streamTimeouts).then(refuseFiltered),
            attempts,
            hedge,
            (late) => {
              settleStream(late, 'ignore');
              late.abort(new Error('another hedge committed first'));
              late.release();
            },
          );
          current = first.value;
          target = first.runtime.target.id;
          fallbacks = first.fallbacks;
          ttftMs = current.ttftMs;
          first.runtime.observeLatency(current.ttftMs, 'ttft');
          current.runtime.inFlight++;
          noteStreamRateLimit(current, callId);

          // Exactly one start reaches the consumer, whatever the attempts before the commit (or a resume) sent.
          let started = false;
          let written = '';
          let openToolCalls = 0;
          let resumesLeft = resume ? (resume.attempts ?? 1) : 0;
          const failed = new Set<string>();
          for (;;) {
            try {
              for (let i = 0; ; i++) {
                let event: StreamEvent;
                if (i < current.buffered.length) event = current.buffered[i]!;
                else if (current.ended) break;
                else {
                  const step = await current.next();
                  if (step.done) {
                    if (!sawFinish) throw truncatedStreamError({ provider: current.runtime.target.provider.name, model: current.runtime.target.model });
                    break;
                  }
                  event = step.value;
                }
                if (event.type === 'start' && started) continue;
                if (event.type === 'error') throw event.error;
                // Exactly one start, even from a provider that sends none.
                if (!started && event.type !== 'start') yield { type: 'start' };
                started = true;
                if (event.type === 'finish') sawFinish = true;
                if (event.type === 'text') written += event.text;
                else if (event.type === 'usage') usage = event.usage;
                else if (event.type === 'tool-call-start') openToolCalls++;
                else if (event.type === 'tool-call-end') openToolCalls--;
                yield event;
              }
              break;
            } catch (thrown) {
              // After the commit point output cannot be taken back: the failure ends the stream, typed,
              // unless the route resumes on another target with the partial answer as context.
              const failedTarget = current.runtime.target;
              const error = streamError(thrown, failedTarget, scope);
              recordMidStreamFailure(attempts, failedTarget.id, error, clock.now());
              settleStream(current, breakerOutcome(error, scope));
              if (resumesLeft <= 0 || scope.signal.aborted || openToolCalls > 0 || written === '' || !isResumable(error)) throw error;
              resumesLeft--;
              failed.add(failedTarget.id);
              current.runtime.inFlight--;
              released = true;
              current.abort(error);
              current.release();
              const partial = written;
              const candidates = candidatesFor(request, true, { ...callOptions, ignore: [...(callOptions?.ignore ?? []), ...failed] }, []);
              const next = await walkTargets(
                candidates,
                settings,
                (runtime, signal) =>
                  openUntilCommit(
                    runtime,
                    continuationRequest(upstream, partial, runtime.target.provider.protocol, resume?.instruction),
                    signal,
                    scope.signal,
                    clock,
                    streamTimeouts,
                  ),
                attempts,
              );
              current = next.value;
              current.runtime.inFlight++;
              released = false;
              sawFinish = false;
              noteStreamRateLimit(current, callId);
              fallbacks += next.fallbacks + 1;
              events.emit({ type: 'fallback', callId, at: clock.now(), from: failedTarget.id, to: next.runtime.target.id, error });
              target = next.runtime.target.id;
            }
          }
          drained = true;
          succeed();
        } catch (thrown) {
          const error = current ? streamError(thrown, current.runtime.target, scope) : asFinalError(thrown, attempts, clock.now());
          if (current) settleStream(current, breakerOutcome(error, scope));
          failedReported = true;
          reportFailure(callId, true, scope.start, error, attempts);
          throw error;
        } finally {
          // A consumer that stops once the answer is finished (a `break` on `finish`) had it all.
          if (current && !finished && !failedReported && sawFinish) succeed();
          if (current && !finished && !failedReported) {
            // The consumer stopped reading: the call ends here, as an abort of its own.
            settleStream(current, 'ignore');
            reportFailure(callId, true, scope.start, abortedError(new Error('stream closed by the consumer')), attempts);
          }
          if (current) {
            // A backstop: whatever path got here, the breaker hears of this stream once.
            settleStream(current, 'ignore');
            if (!released) current.runtime.inFlight--;
            if (!drained) current.abort(scope.callerSignal.aborted ? scope.callerSignal.reason : new Error('stream closed by the consumer'));
            current.release();
          }
          scope.end();
        }
      };
      return {
        [Symbol.asyncIterator]: () => iterate()[Symbol.asyncIterator](),
        get target() {
          return target;
        },
        attempts,
        get fallbacks() {
          return fallbacks;
        },
      };
    },

    ...routerEventSubscriptions(events),
    targets: () => runtimes.map((r) => r.target),
    runtime: (id) => runtimes.find((r) => r.target.id === id),
    addTarget: (targetOptions) => add(targetOptions, runtimes.length),
    removeTarget(id) {
      const runtime = runtimes.find((r) => r.target.id === id);
      if (!runtime) return false;
      runtimes = runtimes.filter((r) => r !== runtime);
      stateListeners.get(id)?.();
      stateListeners.delete(id);
      ownPolicies.delete(id);
      runtime.dispose();
      return true;
    },
    metrics: (snapshotOptions) => metrics.snapshot(snapshotOptions),
    status: () => metrics.status(),
    events: (afterSeq) => metrics.events(afterSeq),
    startHealthChecks(healthOptions) {
      const checks = startHealthChecks(() => runtimes, clock, healthOptions);
      healthChecks.add(checks);
      return {
        ...checks,
        stop() {
          checks.stop();
          healthChecks.delete(checks);
        },
      };
    },
    close() {
      metrics.dispose();
      for (const checks of healthChecks) checks.stop();
      healthChecks.clear();
      for (const dispose of stateListeners.values()) dispose();
      stateListeners.clear();
      for (const runtime of runtimes) runtime.dispose();
    },
  };
  const metrics = createRouterMetrics(router, { clock, route: options.route, ...options.metrics });
  return router;
}

/** Why a committed stream failed: the caller's abort and the deadline win over what the read threw. */
function streamError(thrown: unknown, target: Target, scope: CallScope): LlmError {
  if (isLlmError(thrown) && thrown.kind !== 'connection' && thrown.kind !== 'aborted') return thrown;
  if (scope.callerSignal.aborted) return abortedError(scope.callerSignal.reason, { provider: target.provider.name, model: target.model });
  if (scope.signal.aborted) return toLlmError(scope.signal.reason, target);
  return toLlmError(thrown, target);
}

const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

/**
 * A request that no provider could take fails here, typed, rather than upstream as a 400 (or as
 * `[null]` in the body): `messages` must be a list of messages with a known role, not empty
 * unless a `system` prompt says what to do.
 */
function checkRequest(request: ChatRequest): void {
  const messages: unknown = (request as Partial<ChatRequest> | null | undefined)?.messages;
  const problem = !Array.isArray(messages)
    ? `request.messages: expected a list of messages, got ${messages === undefined ? 'nothing' : typeof messages}`
    : messages.length === 0 && !(request as Partial<ChatRequest>).system
      ? 'request.messages: expected at least one message (or a system prompt), got an empty list'
      : messages.findIndex((m: unknown) => typeof m !== 'object' || m === null || !ROLES.has(String((m as { role?: unknown }).role)));
  if (typeof problem === 'string') throw new LlmError({ kind: 'invalid_request', message: problem, code: 'invalid_request' });
  if (problem !== -1) {
    const role = (messages as Array<{ role?: unknown } | null>)[problem]?.role;
    throw new LlmError({
      kind: 'invalid_request',
      message: `request.messages[${problem}].role: expected system, user, assistant or tool, got ${JSON.stringify(role) ?? 'nothing'}`,
      code: 'invalid_request',
    });
  }
}

/**
 * What a committed stream's end tells its target's breaker: nothing when the caller gave up or the
 * call's own total deadline cut a healthy answer short (slowness is judged on the time to commit);
 * otherwise the failure (a cut, a stall, an error frame).
 */
function breakerOutcome(error: LlmError, scope: CallScope): CircuitOutcome {
  if (error.kind === 'aborted' || scope.callerSignal.aborted) return 'ignore';
  if (scope.signal.aborted && isPolicyError(scope.signal.reason, 'timeout')) return 'ignore';
  return { error };
}

/**
 * A committed attempt that fails mid-stream was recorded as a success at its commit point: that
 * record becomes the failure (one attempt, one record), its duration running to the failure.
 */
function recordMidStreamFailure(attempts: AttemptRecord[], target: string, error: LlmError, now: number): void {
  const message = `after the first token: ${error.message}`;
  for (let i = attempts.length - 1; i >= 0; i--) {
    const record = attempts[i]!;
    if (record.target !== target || record.outcome !== 'success') continue;
    attempts[i] = { ...record, outcome: 'failure', kind: error.kind, status: error.status, message, durationMs: now - record.startedAt };
    return;
  }
  const attempt = attempts.filter((a) => a.target === target && a.outcome !== 'skipped').length + 1;
  attempts.push({ target, attempt, outcome: 'failure', kind: error.kind, status: error.status, message, startedAt: now, durationMs: 0, delayBeforeMs: 0 });
}

/**
 * The request as providers get it. Its signal is already linked into every attempt's signal (the
 * call scope), so it is left out: adapters would otherwise combine the two on every attempt.
 */
function withoutSignal(request: ChatRequest): ChatRequest {
  if (request.signal === undefined) return request;
  const { signal: _signal, ...rest } = request;
  return rest;
}

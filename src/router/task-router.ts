import type { CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import { realClock, type Clock } from '../policy/clock.js';
import { NEVER_ABORTED } from '../policy/context.js';
import type { Duration } from '../policy/duration.js';
import { createEmitter, type Dispose } from '../policy/events.js';
import { createMemoryStore } from '../policy/memory-store.js';
import type { RetryBudget } from '../policy/retry-budget.js';
import type { StateStore } from '../policy/state-store.js';
import { functionProvider, wrapFunction, type ErrorClassifier } from '../providers/function-provider.js';
import { openCallScope, asFinalError } from './call-scope.js';
import { resolveWalkOptions } from './walk-options.js';
import type { AttemptRecord } from './attempt-record.js';
import { decideAction, type ErrorRules } from './error-rules.js';
import { walkTargets, type TargetRetryOptions, type WalkSettings } from './fallback-walk.js';
import { routerEventSubscriptions, type RouterEventSubscriptions, type RouterEvent } from './router-events.js';
import { createTargetRuntime, type TargetRuntime } from './target-runtime.js';
import type { Target } from './target.js';
import { toLlmError } from './to-llm-error.js';
import { sharedKeyPrefix } from './key-prefix.js';

/** One backend of a task router: any async function (a TTS call, an embedding, a query). */
export interface TaskTarget<I, O> {
  /** Unique name in events, errors and attempt records. */
  id: string;
  /** Does the work; should stop when `signal` aborts (the router gives up on it at once either way). */
  run: (input: I, context: { signal: AbortSignal }) => Promise<O>;
  /** Lower goes first; default the position in the list. */
  priority?: number;
  /** Maps what `run` throws to an error kind, before the default rules (status, errno codes). */
  classify?: ErrorClassifier;
}

/** Options of {@link createTaskRouter}: the chat router's policies, minus what only chat needs. */
export interface TaskRouterOptions<I, O> {
  targets: readonly TaskTarget<I, O>[];
  retry?: TargetRetryOptions;
  /** Per-target breaker; `false` disables it. Default: 50% failures over 30 s (≥ 10 calls) opens it for 30 s. */
  breaker?: CircuitBreakerOptions | false;
  /** `total`: one deadline over every attempt, wait and fallback. `attempt`: each call of `run`. */
  timeouts?: { total?: Duration; attempt?: Duration };
  /** Start the next target when no answer came after `delay`; the first answer wins, the others are aborted. */
  hedge?: { delay: Duration; maxAttempts?: number };
  /** Overrides of the default action per error kind. */
  errors?: ErrorRules;
  cooldowns?: { rateLimit?: Duration; quota?: Duration; disabled?: Duration };
  /** Caps retries and hedges; default 20% of recent calls (at least 10/s). `false` for no cap. */
  budget?: RetryBudget | false;
  clock?: Clock;
  /** Where breaker states and cooldowns live; default in memory. */
  store?: StateStore;
  /** Prefix of the store's keys. Default `ballast:task:` (apart from chat routers sharing the store). */
  keyPrefix?: string;
}

/** Per-call options of a task router. */
export interface TaskCallOptions {
  /** Aborting stops every attempt and wait; the call rejects with an `aborted` error. */
  signal?: AbortSignal;
  /** Target ids not to use for this call. */
  ignore?: readonly string[];
}

/** A task's value, with who produced it and everything tried on the way. */
export interface TaskResult<O> {
  value: O;
  /** The id of the target that answered. */
  target: string;
  /** Every attempt and skip, in order, the successful one last. */
  attempts: readonly AttemptRecord[];
  /** How many times the call moved to another target. */
  fallbacks: number;
}

/** Runs an async task over several backends with the chat router's fallback walk and policies. */
export interface TaskRouter<I, O> extends RouterEventSubscriptions {
  /** Rejects with an `AllTargetsFailedError` listing every attempt, or an `aborted` `LlmError`. */
  run(input: I, options?: TaskCallOptions): Promise<TaskResult<O>>;
  /** The target ids, in configured order. */
  targets(): readonly string[];
  /** The runtime (breaker, cooldown, load) of a target. */
  runtime(id: string): TargetRuntime | undefined;
  /** Stops breaker subscriptions. */
  close(): void;
}


/**
 * Creates a {@link TaskRouter}: retries, fallbacks, breakers, cooldowns, hedging, deadlines and
 * error rules of the chat router around any async function. What `run` throws is classified by
 * `wrapFunction`'s rules (the target's `classify` first), so the error table of DESIGN.md applies:
 * a 429 with Retry-After cools the target down, a 401 disables it, a 400 stops the call.
 * Throws a `TypeError` naming the bad option.
 */
export function createTaskRouter<I, O>(options: TaskRouterOptions<I, O>): TaskRouter<I, O> {
  if (!options || !Array.isArray(options.targets)) throw new TypeError('createTaskRouter: `targets` must be an array');
  const clock = options.clock ?? realClock;
  const store = options.store ?? createMemoryStore({ clock });
  const keyPrefix = sharedKeyPrefix(options.store, options.keyPrefix, 'task:');
  const rules = options.errors ?? {};
  const events = createEmitter<RouterEvent>();
  const { budget, totalMs, attemptTimeout, cooldowns, hedge, breaker: breakerOptions } = resolveWalkOptions(options, clock);

  const runs = new Map<string, (input: I, context: { signal: AbortSignal }) => Promise<O>>();
  const disposers: Dispose[] = [];
  const runtimes = options.targets.map((task, index): TargetRuntime => {
    if (!task || typeof task.id !== 'string' || task.id === '') throw new TypeError(`targets[${index}].id: expected a non-empty string`);
    if (typeof task.run !== 'function') throw new TypeError(`targets[${index}].run: expected a function`);
    if (runs.has(task.id)) throw new TypeError(`targets[${index}].id: duplicate target id "${task.id}"`);
    runs.set(task.id, wrapFunction(task.run, { name: task.id, classify: task.classify }));
    const target = standInTarget(task.id, task.priority ?? index);
    const runtime = createTargetRuntime(target, {
      clock,
      store,
      keyPrefix,
      breaker:
        breakerOptions === false
          ? false
          : ({ ...breakerOptions, isFailure: (error: unknown) => countsForBreaker(error, target) } as CircuitBreakerOptions),
    });
    if (runtime.breaker) {
      disposers.push(runtime.breaker.onStateChange((e) => events.emit({ type: 'breaker', at: clock.now(), target: task.id, from: e.from, to: e.to })));
    }
    return runtime;
  });
  // Lowest priority first; ties keep the configured order (`sort` is stable).
  const ordered = [...runtimes].sort((a, b) => a.target.priority - b.target.priority);

  const countsForBreaker = (error: unknown, target: Target): boolean => {
    const llmError = toLlmError(error, target);
    return llmError.kind !== 'aborted' && decideAction(llmError, rules).countsForBreaker;
  };

  let nextCallId = 1;

  const router: TaskRouter<I, O> = {
    async run(input, callOptions = {}) {
      const callId = nextCallId++;
      const scope = openCallScope(clock, callOptions.signal ?? NEVER_ABORTED, totalMs);
      // Once per call, however many targets it tries (the per-target retries do not record calls).
      budget?.recordCall();
      const attempts: AttemptRecord[] = [];
      try {
        const candidates = ordered.filter((runtime) => {
          if (!callOptions.ignore?.includes(runtime.target.id)) return true;
          attempts.push({ target: runtime.target.id, attempt: 0, outcome: 'skipped', skipReason: 'ignored', startedAt: scope.start, durationMs: 0, delayBeforeMs: 0 });
          return false;
        });
        const settings: WalkSettings = {
          callId,
          clock,
          emit: (event) => events.emit(event),
          rules,
          retry: options.retry ?? {},
          cooldowns,
          attemptTimeout,
          budget,
          signal: scope.signal,
          callerSignal: scope.callerSignal,
          deadline: scope.deadline,
          stream: false,
        };
        const result = await walkTargets(candidates, settings, (runtime, signal) => runs.get(runtime.target.id)!(input, { signal }), attempts, hedge);
        const durationMs = clock.now() - scope.start;
        const target = result.runtime.target.id;
        result.runtime.observeLatency(attempts[attempts.length - 1]?.durationMs ?? durationMs, 'latency');
        events.emit({ type: 'success', callId, at: clock.now(), target, stream: false, durationMs, attempts });
        return { value: result.value, target, attempts, fallbacks: result.fallbacks };
      } catch (thrown) {
        const error = asFinalError(thrown, attempts, clock.now());
        events.emit({ type: 'failure', callId, at: clock.now(), stream: false, durationMs: clock.now() - scope.start, error, attempts });
        throw error;
      } finally {
        scope.end();
      }
    },

    ...routerEventSubscriptions(events),
    targets: () => runtimes.map((r) => r.target.id),
    runtime: (id) => runtimes.find((r) => r.target.id === id),
    close() {
      for (const dispose of disposers.splice(0)) dispose();
      for (const runtime of runtimes) runtime.dispose();
    },
  };
  return router;
}

/**
 * The walk and the target runtime work on chat `Target`s; a task target gets one whose provider
 * only lends its name to error labels and is never called.
 */
function standInTarget(id: string, priority: number): Target {
  const provider = functionProvider({
    name: id,
    chat: () => Promise.reject(new TypeError(`${id} is a task target, not a chat provider`)),
  });
  return Object.freeze({ id, provider, model: id, priority, weight: 1, supportsStream: false, supportsTools: false, tags: Object.freeze([]) });
}

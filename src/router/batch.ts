import type { ChatRequest } from '../llm/chat-request.js';
import { abortedError, classifyThrown } from '../llm/classify.js';
import { collectStream } from '../llm/collect-stream.js';
import type { ErrorKind } from '../llm/error-kind.js';
import type { LlmError } from '../llm/llm-error.js';
import { realClock, type Clock } from '../policy/clock.js';
import type { AttemptRecord } from './attempt-record.js';
import type { CallOptions, RoutedResponse, Router } from './router.js';

/** What {@link runBatch} needs of a router (a `Router`, or the fluent builder's result). */
export type BatchRouter = Pick<Router, 'chat' | 'stream' | 'on'>;

/** Progress after each finished item. */
export interface BatchProgress {
  done: number;
  total: number;
  succeeded: number;
  failed: number;
}

/** Options of {@link runBatch}. */
export interface BatchOptions {
  /** Items running at once at most. Default 4. */
  concurrency?: number;
  /** Called after each item ends (success or failure). */
  onProgress?: (progress: BatchProgress) => void;
  /** Aborting stops starting items and aborts those in flight; they all end as `aborted` errors. */
  signal?: AbortSignal;
  /**
   * Run each item as a stream and collect it (first-token and idle timeouts then apply, and
   * failures before the first token are retried invisibly). Default false: `router.chat`.
   */
  stream?: boolean;
  /** Per-call options given to every item (e.g. an `ignore` list). */
  call?: CallOptions;
  /** Measures `durationMs`; pass the router's clock when it is a virtual one. Default the real clock. */
  clock?: Clock;
}

/** One item's outcome: the routed answer, or its typed error. */
export type BatchItemResult = { ok: true; response: RoutedResponse } | { ok: false; error: LlmError };

/** Totals of a batch. */
export interface BatchSummary {
  total: number;
  succeeded: number;
  failed: number;
  /** Extra attempts on the same target, over every item. */
  retries: number;
  /** Moves to another target, over every item. */
  fallbacks: number;
  /** Items answered, per target id. */
  byTarget: Record<string, number>;
  /** Kinds of the failed items' final errors, most frequent first. */
  topErrorKinds: Array<[ErrorKind, number]>;
  durationMs: number;
}

/** What {@link runBatch} returns: one result per request, in input order, and the totals. */
export interface BatchResult {
  results: BatchItemResult[];
  summary: BatchSummary;
}

interface Counts {
  retries: number;
  fallbacks: number;
}

/**
 * Runs many requests through a router with at most `concurrency` in flight, each under the
 * router's policies. A failing item never stops the batch: every item gets a result or a typed
 * error, in input order. Retries and fallbacks are counted from the router's events of each
 * item's own call, so other traffic on the same router is never counted.
 */
export async function runBatch(router: BatchRouter, requests: readonly ChatRequest[], options: BatchOptions = {}): Promise<BatchResult> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`runBatch: \`concurrency\` must be an integer >= 1, got ${JSON.stringify(concurrency)}`);
  }
  const clock = options.clock ?? realClock;
  const { signal, onProgress } = options;
  const start = clock.now();
  const total = requests.length;
  const results = new Array<BatchItemResult>(total);
  const counts: Counts[] = Array.from({ length: total }, () => ({ retries: 0, fallbacks: 0 }));
  let next = 0;
  let done = 0;
  let succeeded = 0;

  // A call's terminal event carries the very objects its caller receives: the answer's `attempts`
  // array, or the thrown error. Keyed by them, each item finds the counts of its own call.
  const running = new Map<number, Counts>();
  const byOutcome = new WeakMap<object, Counts>();
  const stopListening = router.on('*', (event) => {
    if (event.type === 'retry' || event.type === 'fallback') {
      const c = running.get(event.callId) ?? { retries: 0, fallbacks: 0 };
      if (event.type === 'retry') c.retries++;
      else c.fallbacks++;
      running.set(event.callId, c);
    } else if (event.type === 'success' || event.type === 'failure') {
      byOutcome.set(event.type === 'success' ? event.attempts : event.error, running.get(event.callId) ?? { retries: 0, fallbacks: 0 });
      running.delete(event.callId);
    }
  });

  const finish = (index: number, result: BatchItemResult) => {
    results[index] = result;
    done++;
    if (result.ok) succeeded++;
    if (!onProgress) return;
    try {
      onProgress({ done, total, succeeded, failed: done - succeeded });
    } catch (error) {
      console.error('ballast: a batch onProgress callback threw', error);
    }
  };

  const runOne = async (request: ChatRequest): Promise<BatchItemResult> => {
    const itemSignal = signal && request.signal ? AbortSignal.any([signal, request.signal]) : (signal ?? request.signal);
    const routed: ChatRequest = itemSignal === request.signal ? request : { ...request, signal: itemSignal };
    try {
      if (!options.stream) return { ok: true, response: await router.chat(routed, options.call) };
      const stream = router.stream(routed, options.call);
      const response = await collectStream(stream);
      return { ok: true, response: { ...response, target: stream.target ?? '', attempts: stream.attempts, fallbacks: stream.fallbacks } };
    } catch (error) {
      return { ok: false, error: classifyThrown(error, { signal: itemSignal }) };
    }
  };

  const worker = async () => {
    for (let index = next++; index < total; index = next++) {
      if (signal?.aborted) {
        finish(index, { ok: false, error: abortedError(signal.reason) });
        continue;
      }
      const result = await runOne(requests[index]!);
      const key = result.ok ? result.response.attempts : result.error;
      const own = byOutcome.get(key);
      counts[index] = own ?? {
        retries: retriesIn(result.ok ? result.response.attempts : attemptsOf(result.error)),
        fallbacks: result.ok ? result.response.fallbacks : 0,
      };
      finish(index, result);
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  } finally {
    stopListening();
  }
  return { results, summary: summarize(results, counts, clock.now() - start) };
}

/** The attempts an error lists (an `AllTargetsFailedError`), or none. */
function attemptsOf(error: LlmError): readonly AttemptRecord[] {
  const attempts = (error as { attempts?: unknown }).attempts;
  return Array.isArray(attempts) ? (attempts as AttemptRecord[]) : [];
}

/** Repeated attempts on a target, when no event told (a router without events). */
function retriesIn(attempts: readonly AttemptRecord[]): number {
  const seen = new Set<string>();
  for (const a of attempts) if (a.outcome !== 'skipped' && a.attempt > 1) seen.add(`${a.target}#${a.attempt}`);
  return seen.size;
}

function summarize(results: readonly BatchItemResult[], counts: readonly Counts[], durationMs: number): BatchSummary {
  const byTarget: Record<string, number> = {};
  const kinds = new Map<ErrorKind, number>();
  let succeeded = 0;
  for (const result of results) {
    if (result.ok) {
      succeeded++;
      byTarget[result.response.target] = (byTarget[result.response.target] ?? 0) + 1;
    } else {
      kinds.set(result.error.kind, (kinds.get(result.error.kind) ?? 0) + 1);
    }
  }
  return {
    total: results.length,
    succeeded,
    failed: results.length - succeeded,
    retries: counts.reduce((sum, c) => sum + c.retries, 0),
    fallbacks: counts.reduce((sum, c) => sum + c.fallbacks, 0),
    byTarget,
    // Stable sort: equal counts keep the order in which the kinds first failed.
    topErrorKinds: [...kinds].sort((a, b) => b[1] - a[1]),
    durationMs,
  };
}

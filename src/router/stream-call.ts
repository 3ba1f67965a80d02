import { timeoutError, truncatedStreamError } from '../llm/classify.js';
import type { ChatRequest } from '../llm/chat-request.js';
import { isContentEvent, type StreamEvent } from '../llm/stream-events.js';
import type { Clock } from '../policy/clock.js';
import type { Dispose } from '../policy/events.js';
import { NEVER_ABORTED } from '../policy/context.js';
import type { TargetRuntime } from './target-runtime.js';
import { toLlmError } from './to-llm-error.js';

/** Stream timers: to the first content event, and between any two events. */
export interface StreamTimeouts {
  firstTokenMs?: number;
  idleMs?: number;
}

/** A stream that reached its commit point (or ended cleanly before any content). */
export interface CommittedStream {
  runtime: TargetRuntime;
  /** Events read so far, the first content event last. */
  buffered: StreamEvent[];
  /** The rest of the stream; `undefined` once it has ended. */
  next: () => Promise<IteratorResult<StreamEvent>>;
  /** Stops the upstream request (consumer gone, deadline, failure). */
  abort: (reason?: unknown) => void;
  /** True when the stream already ended (an answer without content). */
  ended: boolean;
  ttftMs: number;
  release: Dispose;
}

/** Marks why the router itself aborted an upstream stream. */
class StreamTimerAbort extends Error {
  constructor(readonly scope: 'first_token' | 'idle', readonly timeoutMs: number) {
    super(`${scope} timeout`);
    this.name = 'StreamTimerAbort';
  }
}

/**
 * Opens a stream on one target and reads it up to the commit point: the first content event.
 * Everything before it (error statuses, error frames, first-token timeouts, stalls, cuts) is thrown
 * as an `LlmError`, so the fallback walk can retry or move on invisibly to the consumer.
 */
export async function openUntilCommit(
  runtime: TargetRuntime,
  request: ChatRequest,
  attemptSignal: AbortSignal,
  callSignal: AbortSignal,
  clock: Clock,
  timeouts: StreamTimeouts,
): Promise<CommittedStream> {
  const { target } = runtime;
  const controller = new AbortController();
  const onCallAbort = () => controller.abort(callSignal.reason);
  const onAttemptAbort = () => controller.abort(attemptSignal.reason);
  // Without an attempt timeout the attempt's signal is the call's: one listener is enough.
  const sameSignal = attemptSignal === callSignal;
  // The shared never-aborting signal gets no listeners: concurrent streams would pile them up on it.
  const watchCall = callSignal !== NEVER_ABORTED;
  const watchAttempt = !sameSignal && attemptSignal !== NEVER_ABORTED;
  if (callSignal.aborted) controller.abort(callSignal.reason);
  else if (watchCall) callSignal.addEventListener('abort', onCallAbort, { once: true });
  if (watchAttempt) attemptSignal.addEventListener('abort', onAttemptAbort, { once: true });
  let stopIdleTimer: Dispose = () => {};
  const release = () => {
    if (watchCall) callSignal.removeEventListener('abort', onCallAbort);
    if (watchAttempt) attemptSignal.removeEventListener('abort', onAttemptAbort);
    stopIdleTimer();
  };

  const startedAt = clock.now();
  let cancelFirstToken: Dispose = () => {};
  if (timeouts.firstTokenMs !== undefined) {
    const ms = timeouts.firstTokenMs;
    cancelFirstToken = clock.setTimer(ms, () => controller.abort(new StreamTimerAbort('first_token', ms)));
  }
  const iterator = target.provider.stream(request, { model: target.model, signal: controller.signal })[Symbol.asyncIterator]();
  const reader = readWithIdle(iterator, controller, clock, timeouts.idleMs, target);
  const read = reader.read;
  stopIdleTimer = reader.stop;

  const stop = (reason?: unknown) => {
    controller.abort(reason);
    // Runs the provider's cleanup even when it is parked at a `yield` rather than on its signal.
    iterator.return?.().catch(() => {});
  };
  const buffered: StreamEvent[] = [];
  try {
    for (;;) {
      const step = await read();
      if (step.done) {
        // A stream that ends without its terminal event is cut, not an answer (DESIGN).
        if (!buffered.some((e) => e.type === 'finish')) throw truncatedStreamError({ provider: target.provider.name, model: target.model });
        // A complete answer without content (e.g. an empty reply): nothing more to read.
        return { runtime, buffered, next: read, abort: stop, ended: true, ttftMs: clock.now() - startedAt, release };
      }
      // A provider may report its failure as an event rather than by throwing.
      if (step.value.type === 'error') throw toLlmError(step.value.error, target);
      buffered.push(step.value);
      if (isContentEvent(step.value)) {
        if (watchAttempt) attemptSignal.removeEventListener('abort', onAttemptAbort);
        return { runtime, buffered, next: read, abort: stop, ended: false, ttftMs: clock.now() - startedAt, release };
      }
    }
  } catch (error) {
    stop(error);
    release();
    throw error;
  } finally {
    cancelFirstToken();
  }
}

/**
 * Reads the next event, with the idle timer around the read; turns every failure into an `LlmError`.
 * One timer serves the whole stream: it is re-armed when it fires early rather than set and cleared
 * around every event, since a stream can carry thousands of them.
 */
function readWithIdle(
  iterator: AsyncIterator<StreamEvent>,
  controller: AbortController,
  clock: Clock,
  idleMs: number | undefined,
  target: TargetRuntime['target'],
): { read: () => Promise<IteratorResult<StreamEvent>>; stop: Dispose } {
  let readStartedAt = 0;
  let reading = false;
  let stopped = false;
  let cancelTimer: Dispose | undefined;
  const arm = (ms: number) => {
    cancelTimer = clock.setTimer(ms, () => {
      cancelTimer = undefined;
      // Nobody reading (the consumer is busy, or gone): no timer until the next read arms one.
      if (stopped || !reading || controller.signal.aborted) return;
      const waited = clock.now() - readStartedAt;
      if (waited >= idleMs!) controller.abort(new StreamTimerAbort('idle', idleMs!));
      else arm(idleMs! - waited);
    });
  };
  const failure = (error: unknown) => {
    const reason: unknown = controller.signal.reason;
    if (reason instanceof StreamTimerAbort) {
      return timeoutError(reason.scope, { provider: target.provider.name, model: target.model, timeoutMs: reason.timeoutMs, cause: error });
    }
    return toLlmError(error, target);
  };
  // Settles the read in progress when the stream aborts, even if the provider ignores its signal.
  // One listener for the whole stream (reads never overlap), not one per event.
  let rejectRead: ((reason: unknown) => void) | undefined;
  controller.signal.addEventListener('abort', () => rejectRead?.(controller.signal.reason), { once: true });
  const read = (): Promise<IteratorResult<StreamEvent>> => {
    if (idleMs !== undefined) {
      readStartedAt = clock.now();
      reading = true;
      if (!cancelTimer && !stopped) arm(idleMs);
    }
    const next = iterator.next();
    if (controller.signal.aborted) {
      reading = false;
      next.catch(() => {});
      return Promise.reject(failure(controller.signal.reason));
    }
    return new Promise((resolve, reject) => {
      const settle = () => {
        reading = false;
        rejectRead = undefined;
      };
      rejectRead = (reason) => {
        settle();
        reject(failure(reason));
      };
      next.then(
        (step) => {
          settle();
          resolve(step);
        },
        (error: unknown) => {
          settle();
          reject(failure(error));
        },
      );
    });
  };
  return {
    read,
    stop: () => {
      stopped = true;
      cancelTimer?.();
      cancelTimer = undefined;
    },
  };
}

import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { classifyThrown } from '../llm/classify.js';
import { isErrorKind, type ErrorKind } from '../llm/error-kind.js';
import { LlmError, isLlmError } from '../llm/llm-error.js';
import type { RateLimitInfo } from '../llm/rate-limit-headers.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { realClock, type Clock } from '../policy/clock.js';
import { NEVER_ABORTED } from '../policy/context.js';
import type { ChatProvider, ProviderCall } from './provider.js';
import {
  deriveSeed,
  hashString,
  latencySampler,
  seededRandom,
  type LatencySampler,
  type LatencySpec,
} from './seeded-random.js';
import { simulatedCut, simulatedError } from './simulated-errors.js';
import { createSimulatedState, type CallCause, type CallOutcome, type CallRecord, type SimulatedControl } from './simulated-control.js';
import type { CompiledFault, FaultRule } from './simulated-faults.js';
import { createRateWindow, type RateLimitSpec, type RateWindowResult } from './simulated-rate-window.js';
import {
  answerUsage,
  buildAnswer,
  checkChunkSize,
  partialContent,
  requestTokens,
  type Answer,
  type ChunkSize,
  type ContentUnit,
  type ReplyInfo,
  type ReplySpec,
} from './simulated-reply.js';

export type {
  CallCause,
  CallOutcome,
  SimulatedCallRecord,
  SimulatedControl,
  SimulatedOutage,
} from './simulated-control.js';
export type { FaultKind, FaultRule, FaultWhen } from './simulated-faults.js';
export type { RateLimitSpec } from './simulated-rate-window.js';
export type { ChunkSize, ReplyContent, ReplyInfo, ReplySpec, ReplyToolCall } from './simulated-reply.js';
export type { Distribution, LatencySpec } from './seeded-random.js';

/** Options of {@link simulated}. Plain data, except `clock` and a `reply` function. */
export interface SimulatedOptions {
  /** Label for events, metrics and errors. Default `'simulated'`. Also seeds the randomness (see `seed`). */
  name?: string;
  /** Default the real clock; tests and `ballast simulate` pass a virtual one. */
  clock?: Clock;
  /**
   * Seed of every random choice (fault probabilities, latency samples, the reply's `random`).
   * Default 0. Mixed with `name`, so providers sharing a seed still fail independently; each
   * call draws from its own stream keyed by its number, so the same seed and the same sequence
   * of calls give the same outcomes and timings.
   */
  seed?: number;
  /** What a successful answer says. Default: `[<name>/<model>] <last user text>`. */
  reply?: ReplySpec;
  /** How streamed text is cut: a number of characters, `{ chars }` or `{ words }`. Default `{ words: 1 }`. */
  chunkSize?: ChunkSize;
  /**
   * Time a non-streamed answer takes. Default: the time the streamed answer would take (first
   * token plus every chunk interval, with the same draws).
   */
  latency?: LatencySpec;
  /** Time to the first token of a stream (the `start` event comes with it). Default `latency`, else 0. */
  firstToken?: LatencySpec;
  /** Time between two chunks of a stream. Default 0. */
  chunkInterval?: LatencySpec;
  /** The fault script: the first matching rule decides a call. */
  faults?: readonly FaultRule[];
  /** Per-minute request and token limits: past them, `rate_limit` with the wait until the window frees. */
  rateLimit?: RateLimitSpec;
  /** Calls in flight at most; one more is answered `overloaded` (503). */
  concurrency?: number;
  /** The models served; others are answered `not_found` (404). Default: any model. */
  models?: readonly string[];
  /** Input tokens accepted at most; a longer request is answered `context_length` (400). */
  contextWindow?: number;
  /** Entries kept in `control.log` (the most recent). Default 1000. */
  logLimit?: number;
}

/** A {@link ChatProvider} that answers in-process, driven by a fault script. */
export interface SimulatedProvider extends ChatProvider {
  readonly protocol: 'simulated';
  /** The seed given (default 0). */
  readonly seed: number;
  readonly control: SimulatedControl;
}

/** One running call. */
interface Active {
  readonly record: CallRecord;
  readonly signal: AbortSignal;
  readonly model: string;
  readonly seed: number;
  readonly answer: Answer;
  readonly fault: CompiledFault | undefined;
  readonly rateLimit: RateLimitInfo | undefined;
}

// Purposes of the per-call random streams (so draws for one never shift another's).
const FAULT = 1;
const TIMING = 2;
const LATENCY = 3;
const DELAY = 4;
const REPLY = 5;

const ZERO: LatencySampler = () => 0;
const UNUSED_RANDOM = seededRandom(0);

function positiveInteger(value: number | undefined, what: string, min = 1): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= min)) {
    throw new TypeError(`${what}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Creates a simulated provider: an in-process {@link ChatProvider} (protocol `simulated`) whose
 * answers, latencies and failures follow `options`, deterministic for a seed on a virtual clock.
 * Every wait is `clock.sleep(ms, call.signal)`: an abort ends it at once, and the call fails with
 * the abort reason classified (`aborted`, or `timeout` for a policy timeout).
 */
export function simulated(options: SimulatedOptions = {}): SimulatedProvider {
  const name = options.name ?? 'simulated';
  const clock = options.clock ?? realClock;
  const seed = options.seed ?? 0;
  const baseSeed = deriveSeed(seed, hashString(name));
  const createdAt = clock.now();
  const chunkSize = options.chunkSize ?? { words: 1 };
  checkChunkSize(chunkSize);
  const latencyMs = options.latency === undefined ? undefined : latencySampler(options.latency, 'latency');
  const firstTokenMs = options.firstToken === undefined ? (latencyMs ?? ZERO) : latencySampler(options.firstToken, 'firstToken');
  // Without its own firstToken, a stream's first token comes when the whole answer would: the same draw.
  const firstTokenIsLatency = options.firstToken === undefined && latencyMs !== undefined;
  const chunkIntervalMs = options.chunkInterval === undefined ? ZERO : latencySampler(options.chunkInterval, 'chunkInterval');
  const window = options.rateLimit ? createRateWindow(options.rateLimit) : undefined;
  const concurrency = positiveInteger(options.concurrency, 'concurrency');
  const contextWindow = positiveInteger(options.contextWindow, 'contextWindow');
  const logLimit = positiveInteger(options.logLimit, 'logLimit', 0) ?? 1000;
  const served = options.models ? new Set(options.models) : undefined;

  const state = createSimulatedState(clock, createdAt, options.faults ?? [], logLimit);

  const round = (ms: number) => Math.max(0, Math.round(ms));

  function begin(request: ChatRequest, call: ProviderCall, stream: boolean): Active {
    const now = clock.now();
    const { model, signal } = call;
    const record = state.open(model, stream, now);
    const n = record.call;
    const turnAway = (error: LlmError, cause?: CallCause): LlmError => {
      if (cause) record.cause = cause;
      state.settle(record, error.kind, now);
      return error;
    };
    const context = { provider: name, model };

    if (signal.aborted) {
      state.markAborted(record);
      throw turnAway(classifyThrown(signal.reason, { ...context, signal }));
    }
    if (served && !served.has(model)) throw turnAway(simulatedError('not_found', context), 'model');
    const inputTokens = requestTokens(request);
    if (contextWindow !== undefined && inputTokens > contextWindow) {
      const message = `This model's maximum context length is ${contextWindow} tokens, but the request has ${inputTokens} tokens`;
      throw turnAway(simulatedError('context_length', { ...context, message }), 'context_window');
    }
    if (concurrency !== undefined && state.inFlight >= concurrency) {
      const message = `Too many concurrent requests (limit ${concurrency})`;
      throw turnAway(simulatedError('overloaded', { ...context, status: 503, code: 'concurrency_limit', message }), 'concurrency');
    }

    const callSeed = deriveSeed(baseSeed, n);
    let answer: Answer;
    try {
      // Only a reply function sees `random`: fixed replies skip seeding one.
      const random = typeof options.reply === 'function' ? seededRandom(deriveSeed(callSeed, REPLY)) : UNUSED_RANDOM;
      const info: ReplyInfo = { provider: name, model, call: n, now, random };
      answer = buildAnswer(options.reply, request, info, chunkSize, inputTokens);
    } catch (error) {
      throw turnAway(
        isLlmError(error)
          ? error
          : new LlmError({ kind: 'server', message: `${name}: the reply function failed: ${String(error)}`, ...context, cause: error }),
      );
    }

    let rateLimit: RateLimitInfo | undefined;
    if (window) {
      const admitted = window.admit(now, answerUsage(answer).totalTokens);
      if (!admitted.ok) throw turnAway(rateLimited(admitted, model), 'rate_limit');
      rateLimit = admitted.info;
    }

    const decision = state.decide(now, model, (key) => seededRandom(deriveSeed(callSeed, FAULT, key)).next());
    if (decision) {
      record.fault = decision.fault.kind;
      record.cause = decision.cause;
    }
    state.enter(record);
    const fault = decision?.fault;
    return { record, signal, model, seed: callSeed, answer, fault, rateLimit };
  }

  function rateLimited(result: Extract<RateWindowResult, { ok: false }>, model: string): LlmError {
    const context = { provider: name, model, rateLimit: result.info, type: result.bucket };
    if (result.tooLarge) {
      // What OpenAI answers when one request exceeds the TPM limit; it can never succeed here.
      const message = `Request too large for ${model} on tokens per min (TPM): Limit ${options.rateLimit?.tokensPerMinute}`;
      return simulatedError('context_length', { ...context, status: 429, code: 'rate_limit_exceeded', message });
    }
    const perMin = result.bucket === 'tokens' ? 'tokens per min (TPM)' : 'requests per min (RPM)';
    const message = `Rate limit reached for ${model} on ${perMin}. Please try again in ${result.retryAfterMs}ms`;
    return simulatedError('rate_limit', { ...context, retryAfterMs: result.retryAfterMs, message });
  }

  const settle = (a: Active, outcome: CallOutcome) => state.settle(a.record, outcome, clock.now());

  /** The error for an abort of the call's signal (counted once per call). */
  function abortError(a: Active): LlmError {
    state.markAborted(a.record);
    return classifyThrown(a.signal.reason, { provider: name, model: a.model, signal: a.signal });
  }

  function fail(a: Active, error: unknown): LlmError {
    const llmError = isLlmError(error) ? error : classifyThrown(error, { provider: name, model: a.model });
    settle(a, llmError.kind);
    return llmError;
  }

  function checkAbort(a: Active): void {
    if (a.signal.aborted) throw abortError(a);
  }

  async function wait(a: Active, ms: number): Promise<void> {
    if (ms > 0) {
      try {
        await clock.sleep(ms, a.signal);
      } catch {
        throw abortError(a);
      }
    }
    checkAbort(a);
  }

  /** A stall: for `stallFor`, or until the signal aborts. */
  async function stall(a: Active, fault: CompiledFault): Promise<void> {
    if (fault.stallForMs !== undefined) return wait(a, fault.stallForMs);
    checkAbort(a);
    await new Promise<never>((_, reject) => {
      if (a.signal !== NEVER_ABORTED) a.signal.addEventListener('abort', () => reject(abortError(a)), { once: true });
    });
  }

  const slowFactor = (a: Active) => (a.fault?.kind === 'slow' ? a.fault.factor : 1);
  const slowBy = (a: Active) => (a.fault?.kind === 'slow' ? a.fault.slowByMs : 0);

  /** First-token time and chunk intervals of the call's stream (also the default latency of `chat`). */
  function streamTimes(a: Active): { firstToken: number; intervals: number[] } {
    const timing = seededRandom(deriveSeed(a.seed, TIMING));
    const first = firstTokenIsLatency ? seededRandom(deriveSeed(a.seed, LATENCY)) : timing;
    const factor = slowFactor(a);
    const firstToken = round(firstTokenMs(first) * factor) + slowBy(a);
    const intervals: number[] = [];
    for (let i = 1; i < a.answer.units.length; i++) intervals.push(round(chunkIntervalMs(timing) * factor));
    return { firstToken, intervals };
  }

  /**
   * The time chat() takes: the latency when one is set; else the time the stream would take to
   * its end, or to where a mid-stream fault strikes (`upTo` units sent).
   */
  function latencyOf(a: Active, upTo = a.answer.units.length): number {
    if (latencyMs) return round(latencyMs(seededRandom(deriveSeed(a.seed, LATENCY))) * slowFactor(a)) + slowBy(a);
    const { firstToken: ft, intervals } = streamTimes(a);
    let ms = ft;
    for (let i = 0; i < Math.min(upTo, intervals.length); i++) ms += intervals[i]!;
    return ms;
  }

  const delayOf = (a: Active, fault: CompiledFault) =>
    fault.delay ? round(fault.delay(seededRandom(deriveSeed(a.seed, DELAY)))) : 0;

  function injected(a: Active, fault: CompiledFault, midStream: boolean): LlmError {
    const context = { provider: name, model: a.model };
    if (fault.kind === 'cut') return simulatedCut(name, a.model, midStream);
    const kind = fault.kind as ErrorKind;
    let rateLimit = a.rateLimit;
    const retryAfterMs = fault.retryAfterMs;
    if (retryAfterMs !== undefined) {
      rateLimit = { ...rateLimit, retryAfterMs };
      if (kind === 'rate_limit') rateLimit.requests = { ...rateLimit.requests, remaining: 0, resetMs: retryAfterMs };
    }
    return simulatedError(kind, {
      ...context,
      status: fault.rule.status,
      message: fault.rule.message,
      retryAfterMs,
      rateLimit,
      midStream,
    });
  }

  const fails = (f: CompiledFault | undefined): f is CompiledFault & { kind: ErrorKind | 'cut' } => !!f && (isErrorKind(f.kind) || f.kind === 'cut');

  function response(a: Active, units: number, filtered: boolean): ChatResponse {
    const { answer } = a;
    const { text, toolCalls } = units >= answer.units.length ? answer : partialContent(answer, units);
    const out: ChatResponse = {
      text,
      toolCalls,
      finishReason: filtered ? 'content_filter' : answer.finishReason,
      usage: answerUsage(answer, units),
      id: `sim-${name}-${a.record.call}`,
      model: a.model,
    };
    if (filtered) out.rawFinishReason = 'content_filter';
    if (a.rateLimit) out.rateLimit = a.rateLimit;
    return out;
  }

  async function chat(request: ChatRequest, call: ProviderCall): Promise<ChatResponse> {
    const a = begin(request, call, false);
    const fault = a.fault;
    try {
      if (fails(fault) && !fault.midStream) {
        await wait(a, delayOf(a, fault));
        throw injected(a, fault, false);
      }
      if (fault?.kind === 'stall') await stall(a, fault);
      const strikeAt = fault?.midStream && fault.kind !== 'slow' && fault.kind !== 'stall' ? Math.min(fault.afterChunks, a.answer.units.length) : undefined;
      await wait(a, latencyOf(a, strikeAt));
      // A non-streamed call cannot fail part way visibly: a mid-stream fault fails it whole.
      if (fails(fault)) throw injected(a, fault, false);
      const filtered = fault?.kind === 'filtered';
      const units = filtered ? (strikeAt ?? 0) : a.answer.units.length;
      const out = response(a, units, filtered);
      a.record.chunks = units;
      settle(a, 'ok');
      return out;
    } catch (error) {
      throw fail(a, error);
    }
  }

  function* unitEvents(unit: ContentUnit): Generator<StreamEvent> {
    if ('text' in unit) {
      yield { type: 'text', text: unit.text };
      return;
    }
    const { toolCall: c, index } = unit;
    yield { type: 'tool-call-start', index, id: c.id, name: c.name };
    yield { type: 'tool-call-delta', index, argumentsDelta: c.rawArguments };
    yield { type: 'tool-call-end', index, id: c.id, name: c.name, arguments: c.arguments, rawArguments: c.rawArguments };
  }

  async function* stream(request: ChatRequest, call: ProviderCall): AsyncGenerator<StreamEvent> {
    const a = begin(request, call, true);
    const { answer, fault } = a;
    try {
      if (fails(fault) && !fault.midStream) {
        await wait(a, delayOf(a, fault));
        throw injected(a, fault, false);
      }
      if (fault?.kind === 'stall' && !fault.midStream) await stall(a, fault);
      const filteredNow = fault?.kind === 'filtered' && !fault.midStream;
      const strikeAt =
        fault?.midStream && fault.kind !== 'slow' ? Math.min(fault.afterChunks, answer.units.length) : filteredNow ? 0 : -1;
      const { firstToken: ft, intervals } = streamTimes(a);
      await wait(a, ft);
      const start: StreamEvent = { type: 'start', id: `sim-${name}-${a.record.call}`, model: a.model };
      if (a.rateLimit) start.rateLimit = a.rateLimit;
      yield start;
      for (let i = 0; ; i++) {
        if (i > 0 && i < answer.units.length) await wait(a, intervals[i - 1]!);
        if (i === strikeAt && fault) {
          if (fails(fault)) throw injected(a, fault, true);
          if (fault.kind === 'stall') await stall(a, fault);
          if (fault.kind === 'filtered') {
            checkAbort(a);
            yield { type: 'usage', usage: answerUsage(answer, i) };
            yield { type: 'finish', finishReason: 'content_filter', rawFinishReason: 'content_filter' };
            settle(a, 'ok');
            return;
          }
        }
        if (i >= answer.units.length) break;
        checkAbort(a);
        a.record.chunks++;
        yield* unitEvents(answer.units[i]!);
      }
      checkAbort(a);
      yield { type: 'usage', usage: answerUsage(answer) };
      yield { type: 'finish', finishReason: answer.finishReason };
      settle(a, 'ok');
    } catch (error) {
      throw fail(a, error);
    } finally {
      // The consumer stopped reading (broke out of its loop) before the end.
      if (a.record.outcome === 'running') settle(a, a.signal.aborted ? abortError(a).kind : 'cancelled');
    }
  }

  return { name, protocol: 'simulated', seed, control: state.control, chat, stream };
}

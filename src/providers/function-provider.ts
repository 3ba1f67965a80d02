import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { classifyHttpError, classifyThrown, connectionError, timeoutError } from '../llm/classify.js';
import { collectStream } from '../llm/collect-stream.js';
import { isErrorKind, type ErrorKind } from '../llm/error-kind.js';
import { LlmError, isLlmError } from '../llm/llm-error.js';
import type { HeadersLike } from '../llm/rate-limit-headers.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { NEVER_ABORTED } from '../policy/context.js';
import type { ChatProvider, ProviderCall } from './provider.js';

/** Maps a thrown value to an error kind, or `undefined` to leave it to the default rules. */
export type ErrorClassifier = (error: unknown) => ErrorKind | undefined;

/** Options of {@link functionProvider}. */
export interface FunctionProviderOptions {
  /** The provider's label in events, metrics and errors. */
  name: string;
  /** One complete answer; a string is the answer's text. */
  chat?: (request: ChatRequest, call: ProviderCall) => Promise<ChatResponse | string>;
  /**
   * The answer as it is produced: stream events, or strings (text deltas). `start` and `finish`
   * are added when the source does not yield them.
   */
  stream?: (request: ChatRequest, call: ProviderCall) => AsyncIterable<StreamEvent | string>;
  /** Consulted first for anything thrown that is not already an `LlmError`. */
  classify?: ErrorClassifier;
}

/** Who failed, and the signal whose abort means "the caller gave up". */
interface FailureContext {
  name: string;
  model?: string;
  classify?: ErrorClassifier;
  signal?: AbortSignal;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** The errno-style code of an error or of its cause (`fetch` wraps socket errors in a TypeError). */
function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; isObject(e) && depth < 3; e = e.cause, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

/** A numeric HTTP status on the error (`status`, as fetch-style clients say, or `statusCode`). */
function errorStatus(error: unknown): number | undefined {
  if (!isObject(error)) return undefined;
  for (const value of [error.status, error.statusCode]) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) return value;
  }
  return undefined;
}

function errorHeaders(error: unknown): HeadersLike | undefined {
  if (!isObject(error)) return undefined;
  const headers = error.headers;
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers;
  if (isObject(headers) && !Array.isArray(headers)) {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(headers)) if (typeof value === 'string') out[key] = value;
    return out;
  }
  return undefined;
}

function make(kind: ErrorKind, ctx: FailureContext, error: unknown, extra: { status?: number; message?: string } = {}): LlmError {
  return new LlmError({
    kind,
    message: extra.message ?? `${ctx.name} failed: ${describe(error)}`,
    provider: ctx.name,
    model: ctx.model,
    status: extra.status,
    code: errorCode(error),
    cause: error,
  });
}

/** Rebuilds an error with another cause (the thrown value, not the signal's reason). */
function withCause(base: LlmError, cause: unknown): LlmError {
  return new LlmError({
    kind: base.kind,
    message: base.message,
    provider: base.provider,
    model: base.model,
    code: base.code,
    cause,
  });
}

/**
 * Turns anything a wrapped function threw into an {@link LlmError}, always keeping it as `cause`:
 * an `LlmError` passes through; after the caller's abort it is `aborted` (or `timeout` when a
 * timeout or deadline aborted the signal); then the user's `classify`; then a numeric
 * `status` / `statusCode` (the status rule of `classifyHttpError`, with Retry-After from `headers`);
 * then errno codes (`ECONNREFUSED`, `ECONNRESET`, … → `connection`; `ETIMEDOUT` → `timeout`); a
 * `TimeoutError` → `timeout`, an `AbortError` → `aborted`; anything else is `server`.
 */
export function toLlmError(error: unknown, ctx: FailureContext): LlmError {
  if (isLlmError(error)) return error;
  const who = { provider: ctx.name, model: ctx.model };
  // The caller's abort is a fact, not a guess: it is never left to `classify`, so it is never retried.
  if (ctx.signal?.aborted) return withCause(classifyThrown(ctx.signal.reason, { ...who, signal: ctx.signal }), error);

  let kind: ErrorKind | undefined;
  try {
    kind = ctx.classify?.(error);
  } catch {
    kind = undefined; // a broken classifier must not turn a typed failure into an untyped one
  }
  const status = errorStatus(error);
  if (isErrorKind(kind)) return make(kind, ctx, error, { status });

  if (status !== undefined) {
    const http = classifyHttpError({ provider: ctx.name, model: ctx.model, status, body: '', headers: errorHeaders(error) });
    return new LlmError({
      kind: http.kind,
      message: `${ctx.name} HTTP ${status}: ${describe(error)}`,
      provider: ctx.name,
      model: ctx.model,
      status,
      retryAfterMs: http.retryAfterMs,
      rateLimit: http.rateLimit,
      requestId: http.requestId,
      code: errorCode(error),
      cause: error,
    });
  }

  const code = errorCode(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) return timeoutError('attempt', { ...who, cause: error });
  if (code !== undefined && CONNECTION_CODES.has(code)) return connectionError(error, who);
  if (isObject(error) && (error.name === 'TimeoutError' || error.name === 'AbortError')) return classifyThrown(error, who);
  return make('server', ctx, error);
}

/** What {@link wrapFunction} passes through: at least an optional signal (a policy context fits). */
export interface FunctionContext {
  signal?: AbortSignal;
}

/** Options of {@link wrapFunction}. */
export interface WrapFunctionOptions {
  /** The backend's label in errors, events and metrics. Default `fn.name`, or `function` for an anonymous one. */
  name?: string;
  classify?: ErrorClassifier;
}

/**
 * Wraps any async operation (TTS, embeddings, a database call) so that it rejects only with
 * `LlmError`s of the right kind (rules of {@link toLlmError}), ready for the router's generic mode
 * and the policies. The context (with its signal) is passed through unchanged, and an abort of
 * that signal settles the call at once, even if `fn` ignores it.
 */
export function wrapFunction<I, O, C extends FunctionContext = FunctionContext>(
  fn: (input: I, context: C) => Promise<O>,
  options: WrapFunctionOptions = {},
): (input: I, context: C) => Promise<O> {
  const name = options.name ?? (fn.name || 'function');
  return async (input, context) => {
    try {
      return await untilAborted(() => fn(input, context), context?.signal);
    } catch (error) {
      throw toLlmError(error, { name, classify: options.classify, signal: context?.signal });
    }
  };
}

function textResponse(text: string): ChatResponse {
  return { text, toolCalls: [], finishReason: 'stop' };
}

/** Fills what a hand-written response may leave out (plain JS callers). */
function normalizeResponse(value: unknown, ctx: FailureContext): ChatResponse {
  if (typeof value === 'string') return textResponse(value);
  if (!isObject(value) || typeof value.text !== 'string') {
    throw make('server', ctx, value, { message: `${ctx.name} returned neither a string nor a ChatResponse` });
  }
  const response = value as unknown as ChatResponse;
  return { ...response, toolCalls: response.toolCalls ?? [], finishReason: response.finishReason ?? 'stop' };
}

/** The events that replay a complete response, so `collectStream` gives it back unchanged. */
function* responseEvents(response: ChatResponse): Generator<StreamEvent> {
  yield {
    type: 'start',
    ...(response.id !== undefined && { id: response.id }),
    ...(response.model !== undefined && { model: response.model }),
    ...(response.rateLimit !== undefined && { rateLimit: response.rateLimit }),
  };
  if (response.reasoning) yield { type: 'reasoning', text: response.reasoning };
  if (response.text) yield { type: 'text', text: response.text };
  for (const [index, call] of response.toolCalls.entries()) {
    yield { type: 'tool-call-start', index, id: call.id, name: call.name };
    yield { type: 'tool-call-delta', index, argumentsDelta: call.rawArguments };
    yield { type: 'tool-call-end', index, ...call };
  }
  if (response.usage) yield { type: 'usage', usage: response.usage };
  yield {
    type: 'finish',
    finishReason: response.finishReason,
    ...(response.rawFinishReason !== undefined && { rawFinishReason: response.rawFinishReason }),
  };
}

function isStreamEvent(value: unknown): value is StreamEvent {
  return isObject(value) && typeof value.type === 'string';
}

function callSignal(call: ProviderCall, request: ChatRequest): AbortSignal {
  if (!request.signal || request.signal === call.signal || request.signal === NEVER_ABORTED) return call.signal;
  if (call.signal === NEVER_ABORTED) return request.signal;
  return AbortSignal.any([call.signal, request.signal]);
}

/**
 * Runs `start()` and settles with it, or rejects with the signal's reason as soon as the signal
 * aborts, so a function that ignores its signal cannot hold the caller.
 */
function untilAborted<T>(start: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  // A signal that can never abort gets no listener (the shared one would collect them).
  const watched = signal === NEVER_ABORTED ? undefined : signal;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(watched?.reason as unknown);
    watched?.addEventListener('abort', onAbort, { once: true });
    const settle = (then: () => void) => {
      watched?.removeEventListener('abort', onAbort);
      then();
    };
    try {
      // `Promise.resolve` also copes with plain-JS functions that return a value or throw at once.
      Promise.resolve(start()).then(
        (value) => settle(() => resolve(value)),
        (error: unknown) => settle(() => reject(error)),
      );
    } catch (error) {
      settle(() => reject(error));
    }
  });
}

/**
 * The source's items as a well-formed event stream: strings become `text`, one `start` first, an
 * `error` event is thrown, nothing after `finish`, and a `finish` added when the source just ends
 * (a function cannot be "cut" like a connection: its normal end is a clean end).
 */
async function* normalizeEvents(
  source: AsyncIterable<StreamEvent | string>,
  failure: FailureContext,
): AsyncGenerator<StreamEvent, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let pending = false;
  let started = false;
  let sawToolCall = false;
  try {
    for (;;) {
      pending = true;
      const next = await untilAborted(() => iterator.next(), failure.signal);
      pending = false;
      if (next.done) break;
      const item = next.value;
      if (typeof item === 'string') {
        if (!started) {
          started = true;
          yield { type: 'start' };
        }
        if (item !== '') yield { type: 'text', text: item };
        continue;
      }
      if (!isStreamEvent(item)) {
        throw make('server', failure, item, { message: `${failure.name} streamed a value that is neither a string nor an event` });
      }
      if (item.type === 'error') throw item.error;
      if (!started) {
        started = true;
        if (item.type !== 'start') yield { type: 'start' };
      } else if (item.type === 'start') {
        continue; // one start per stream
      }
      if (item.type === 'tool-call-start' || item.type === 'tool-call-end') sawToolCall = true;
      yield item;
      if (item.type === 'finish') return;
    }
    if (!started) yield { type: 'start' };
    yield { type: 'finish', finishReason: sawToolCall ? 'tool_calls' : 'stop' };
  } finally {
    // Stops the source (its `finally` runs) on a break, an error or after `finish`. While a `next()`
    // is still pending (an abort cut it short) `return()` would queue behind it, so it is not awaited.
    const closing = iterator.return?.();
    if (pending) void closing?.catch(() => {});
    else await closing;
  }
}

/**
 * A {@link ChatProvider} around any async function or async iterable: a local model, a TTS or
 * video service, an in-house gateway. Give `chat`, `stream`, or both; the missing one is derived
 * (`stream` replays the whole answer as events; `chat` collects the stream). The call's signal
 * reaches the function, breaking out of the stream stops reading the source (its `finally`
 * runs), and every failure becomes an `LlmError` by the rules of {@link toLlmError}.
 */
export function functionProvider(options: FunctionProviderOptions): ChatProvider {
  const { name, chat, stream, classify } = options;
  if (!chat && !stream) throw new TypeError(`functionProvider '${name}': give \`chat\`, \`stream\`, or both`);

  const context = (request: ChatRequest, call: ProviderCall) => {
    const signal = callSignal(call, request);
    const forward: ProviderCall = signal === call.signal ? call : { ...call, signal };
    return { forward, failure: { name, model: call.model, classify, signal } satisfies FailureContext };
  };

  async function* fromSource(request: ChatRequest, call: ProviderCall): AsyncGenerator<StreamEvent, void, undefined> {
    const { forward, failure } = context(request, call);
    const { signal } = failure;
    // The router hands providers the request without its signal; the user's function still finds one there.
    if (request.signal === undefined) request = { ...request, signal };
    try {
      if (!stream) {
        yield* responseEvents(normalizeResponse(await untilAborted(() => chat!(request, forward), signal), failure));
        return;
      }
      yield* normalizeEvents(stream(request, forward), failure);
    } catch (error) {
      throw toLlmError(error, failure);
    }
  }

  return {
    name,
    protocol: 'function',

    async chat(request, call) {
      if (!chat) return collectStream(fromSource(request, call));
      const { forward, failure } = context(request, call);
      const withSignal = request.signal === undefined ? { ...request, signal: failure.signal } : request;
      try {
        return normalizeResponse(await untilAborted(() => chat(withSignal, forward), failure.signal), failure);
      } catch (error) {
        throw toLlmError(error, failure);
      }
    },

    stream: fromSource,
  };
}

import type { ServerResponse } from 'node:http';
import type { Clock } from '../policy/clock.js';
import { toMs } from '../policy/duration.js';
import { streamIdleMs } from '../router/router.js';
import type { Usage } from '../llm/chat-response.js';
import { classifyThrown } from '../llm/classify.js';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import type { AttemptRecord } from '../router/attempt-record.js';
import type { CallOptions } from '../router/router.js';
import { attemptCounts, badRequest, errorBody, fromLlmError, type ApiError } from './http-errors.js';
import { completionJson, createChunkEncoder, type CompletionMeta } from './openai-response.js';
import { parseChatCompletionBody, RequestFieldError, type ParsedChatRequest } from './openai-request.js';
import { drained, sendError, sendJson, setRoutingHeaders, type DrainLimits } from './respond.js';
import { GatewayShutdownError, SHUTDOWN_ANSWER } from './shutdown.js';
import type { ResolvedModel, RouteTable } from './route-table.js';

/** What one chat completion request came to, for the access log and request events. */
export interface ChatOutcome {
  status: number;
  model?: string;
  route?: string;
  target?: string;
  attempts: number;
  fallbacks: number;
  stream: boolean;
  /** The error kind of a failed call (also of a stream that failed after its first byte). */
  error?: string;
}

/** The request-scoped inputs of {@link handleChatCompletions}. */
export interface ChatCall {
  requestId: string;
  body: Buffer;
  table: RouteTable;
  res: ServerResponse;
  /** Aborts when the client goes away (or the gateway stops waiting at shutdown). */
  signal: AbortSignal;
  /** The gateway's clock (a client that stops reading is timed on it). */
  clock: Clock;
}

/** `POST /v1/chat/completions`: parse, resolve the model, route, answer as JSON or SSE. */
export async function handleChatCompletions(call: ChatCall): Promise<ChatOutcome> {
  const { res } = call;
  let parsed: ParsedChatRequest;
  try {
    parsed = parseChatCompletionBody(JSON.parse(call.body.toString('utf8')));
  } catch (error) {
    const apiError =
      error instanceof RequestFieldError
        ? badRequest(error.message, error.param || null, error.code)
        : badRequest(`We could not parse the JSON body of your request: ${(error as Error).message}`, null, 'invalid_json');
    sendError(res, apiError);
    return { status: 400, attempts: 0, fallbacks: 0, stream: false, error: 'invalid_request' };
  }
  const resolved = call.table.resolve(parsed.model);
  if (!resolved) {
    const routes = [...call.table.routes.keys()];
    sendError(res, {
      status: 404,
      message: `The model '${parsed.model}' does not exist. Available models: ${routes.join(', ')} (or <provider>/<model> of a configured target).`,
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
    return { status: 404, model: parsed.model, attempts: 0, fallbacks: 0, stream: parsed.stream, error: 'not_found' };
  }
  parsed.request.signal = call.signal;
  const meta: CompletionMeta = { id: `chatcmpl-${call.requestId.replace(/[^A-Za-z0-9]/g, '')}`, created: Math.floor(Date.now() / 1000), model: parsed.model };
  return parsed.stream ? stream(call, parsed, resolved, meta) : complete(call, parsed, resolved, meta);
}

function callOptions(resolved: ResolvedModel): CallOptions | undefined {
  return resolved.ignore ? { ignore: resolved.ignore } : undefined;
}

async function complete(call: ChatCall, parsed: ParsedChatRequest, resolved: ResolvedModel, meta: CompletionMeta): Promise<ChatOutcome> {
  const { res } = call;
  const base = { model: parsed.model, route: resolved.route.name, stream: false };
  try {
    const answer = await resolved.route.router.chat(parsed.request, callOptions(resolved));
    const counts = attemptCounts(answer.attempts, answer.fallbacks);
    setRoutingHeaders(res, answer.target, counts.attempts, counts.fallbacks);
    sendJson(res, 200, completionJson(answer, meta));
    return { ...base, status: 200, target: answer.target, ...counts };
  } catch (error) {
    return failBeforeFirstByte(call, error, base);
  }
}

/** Answers a call that failed before anything was sent: an error status with the attempts. */
function failBeforeFirstByte(call: ChatCall, thrown: unknown, base: Omit<ChatOutcome, 'status' | 'attempts' | 'fallbacks'>): ChatOutcome {
  const error = asLlmError(thrown);
  const counts = attemptCounts((error as { attempts?: readonly AttemptRecord[] }).attempts);
  if (call.signal.aborted) {
    if (call.signal.reason instanceof GatewayShutdownError && !call.res.headersSent) {
      sendError(call.res, SHUTDOWN_ANSWER);
      return { ...base, status: 503, ...counts, error: 'shutting_down' };
    }
    // The client is gone: nobody reads an answer.
    call.res.destroy();
    return { ...base, status: 499, ...counts, error: 'aborted' };
  }
  const apiError: ApiError = fromLlmError(error);
  setRoutingHeaders(call.res, undefined, counts.attempts, counts.fallbacks);
  sendError(call.res, apiError);
  return { ...base, status: apiError.status, ...counts, error: error.kind };
}

function asLlmError(thrown: unknown): LlmError {
  return isLlmError(thrown) ? thrown : classifyThrown(thrown);
}

async function stream(call: ChatCall, parsed: ParsedChatRequest, resolved: ResolvedModel, meta: CompletionMeta): Promise<ChatOutcome> {
  const { res } = call;
  const started = call.clock.now();
  const base = { model: parsed.model, route: resolved.route.name, stream: true };
  const routed = resolved.route.router.stream(parsed.request, callOptions(resolved));
  const events = routed[Symbol.asyncIterator]();
  let step: IteratorResult<StreamEvent>;
  try {
    // The router yields only once a target committed (or answered without content), so every
    // retry and fallback before that stays invisible and can still end in a proper error status.
    step = await events.next();
  } catch (error) {
    return failBeforeFirstByte(call, error, base);
  }
  const counts = attemptCounts(routed.attempts, routed.fallbacks);
  setRoutingHeaders(res, routed.target, counts.attempts, counts.fallbacks);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });

  // A client that stops reading holds the upstream back (back-pressure), but not for ever: not past
  // the route's total deadline (counted from the call's start), nor for longer than its stream may
  // stay idle.
  // Worked out at the first wait only: most streams never wait.
  let drainLimits: DrainLimits | undefined;
  const limits = (): DrainLimits => {
    const timeouts = resolved.route.config.timeouts ?? {};
    const deadline = timeouts.total === undefined ? Infinity : started + toMs(timeouts.total);
    return (drainLimits ??= { clock: call.clock, idleMs: streamIdleMs(timeouts), deadline, signal: call.signal });
  };
  let stalled = false;

  const encoder = createChunkEncoder(meta, parsed.includeUsage);
  let announced = routed.target;
  const toolIndex = new Map<number, number>();
  const argumentsSent = new Set<number>();
  let usage: Usage | undefined;
  let finished = false;
  // Frames produced in one turn of the event loop leave as one string in one write: far cheaper
  // than a chunked write per frame. Back-pressure: before the next event, wait while the socket is full.
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const text = pending;
    pending = '';
    res.write(text);
  };
  const write = (frame: string) => {
    if (pending === '') process.nextTick(flush);
    pending += frame;
  };
  const takePending = () => {
    const text = pending;
    pending = '';
    return text;
  };
  const ordinal = (index: number) => {
    let n = toolIndex.get(index);
    if (n === undefined) toolIndex.set(index, (n = toolIndex.size));
    return n;
  };

  try {
    write(encoder.role());
    while (!step.done) {
      const event = step.value;
      let frame: string | undefined;
      switch (event.type) {
        case 'text':
          if (event.text) frame = encoder.text(event.text);
          break;
        case 'reasoning':
          if (event.text) frame = encoder.reasoning(event.text);
          break;
        case 'tool-call-start':
          frame = encoder.toolCallStart(ordinal(event.index), event.id, event.name);
          break;
        case 'tool-call-delta':
          if (event.argumentsDelta) {
            argumentsSent.add(event.index);
            frame = encoder.toolCallArguments(ordinal(event.index), event.argumentsDelta);
          }
          break;
        case 'tool-call-end':
          // Providers that send a call whole (no deltas) still get its arguments across.
          if (!argumentsSent.has(event.index) && event.rawArguments) frame = encoder.toolCallArguments(ordinal(event.index), event.rawArguments);
          break;
        case 'usage':
          usage = event.usage;
          break;
        case 'finish':
          finished = true;
          frame = encoder.finish(event.finishReason);
          break;
        case 'error':
          throw event.error;
        default:
          break;
      }
      if (frame !== undefined) write(frame);
      if (res.writableNeedDrain && !res.destroyed && !(await drained(res, limits()))) {
        stalled = true;
        throw new Error('the client stopped reading');
      }
      step = await events.next();
      if (routed.target !== announced && routed.target !== undefined) {
        // A resume moved the stream to another target after the headers went out: said in an SSE
        // comment, which clients skip, since `x-ballast-target` can no longer change.
        write(`: x-ballast-target ${routed.target} (resumed after ${announced} failed)\n\n`);
        announced = routed.target;
      }
    }
    let tail = finished ? '' : encoder.finish('stop');
    if (parsed.includeUsage) tail += encoder.usage(usage);
    res.end(takePending() + tail + encoder.done());
    return { ...base, status: 200, target: routed.target, ...attemptCounts(routed.attempts, routed.fallbacks) };
  } catch (thrown) {
    // Ends the routed stream too (an error event leaves it suspended): its upstream and timers go.
    void events.return?.(undefined)?.catch(() => {});
    const error = asLlmError(thrown);
    const final = { ...base, status: 200, target: routed.target, ...attemptCounts(routed.attempts, routed.fallbacks) };
    if (stalled) {
      // Its buffers are full: no error frame would get through. The connection goes.
      takePending();
      res.destroy();
      return { ...final, error: 'client_stalled' };
    }
    if (call.signal.aborted) {
      if (call.signal.reason instanceof GatewayShutdownError && !res.destroyed) {
        // Cut by a shutdown, not by the client: it still reads, and its SDK raises this frame.
        res.end(`${takePending()}data: ${errorBody(SHUTDOWN_ANSWER)}\n\n`);
        return { ...final, error: 'shutting_down' };
      }
      takePending();
      res.destroy();
      return { ...final, status: 499, error: 'aborted' };
    }
    // Past the first byte the status is sent: an error frame (which OpenAI clients raise) and no [DONE].
    res.end(`${takePending()}data: ${errorBody(fromLlmError(error))}\n\n`);
    return { ...final, error: error.kind };
  }
}

import { classifyHttpError, classifyThrown, type ProviderName } from '../llm/classify.js';
import { LlmError } from '../llm/llm-error.js';
import { FrameTooLargeError } from './frame-too-large.js';
import { readSseEvents, type SseEvent } from './sse-parser.js';
import { readNdjson, NdjsonParseError } from './ndjson-parser.js';
import type { Transport, TransportResponse } from './transport.js';

/** Who is calling, for requests and for the errors they turn into. */
export interface HttpCallContext {
  provider: ProviderName;
  model: string;
  transport: Transport;
  signal: AbortSignal;
  /** Anchors absolute times in error headers (HTTP dates, RFC 3339 resets); default `Date.now`. */
  now?: () => number;
}

/**
 * Sends a request and returns a successful (2xx) response. A response with an error status is
 * read and thrown as a classified `LlmError`; a network failure or abort as `connection` /
 * `aborted` / `timeout`.
 */
export async function send(
  ctx: HttpCallContext,
  request: { url: string; method?: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
): Promise<TransportResponse> {
  let response: TransportResponse;
  try {
    response = await ctx.transport({
      url: request.url,
      method: request.method ?? 'POST',
      headers: request.headers,
      body: request.body,
      signal: ctx.signal,
    });
  } catch (error) {
    throw classifyThrown(error, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
  }
  if (response.status >= 200 && response.status < 300) return response;
  // An error body only needs enough of it to classify and quote: the rest is left unread.
  const body = await readText(ctx, response, MAX_ERROR_BODY_BYTES, 'truncate');
  throw classifyHttpError({ provider: ctx.provider, model: ctx.model, status: response.status, body, headers: response.headers, now: ctx.now?.() });
}

/** The largest answer body read whole (a JSON completion), bytes: past it the upstream is misbehaving. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** How much of an error body is read, bytes. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const utf8 = new TextDecoder();

/**
 * Reads a whole body as text, at most `limit` bytes: past it the read stops and, unless told to
 * `truncate`, fails as a `server` error (`response_too_large`), so an upstream that sends without
 * end cannot grow the process without bound. A body that breaks off is a classified error.
 */
export async function readText(
  ctx: HttpCallContext,
  response: TransportResponse,
  limit = MAX_RESPONSE_BYTES,
  overflow: 'fail' | 'truncate' = 'fail',
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += chunk.length;
      if (size > limit) {
        if (overflow === 'fail') throw tooLargeError(ctx, `the response body is over ${limit} bytes`);
        chunks.push(chunk.subarray(0, chunk.length - (size - limit)));
        break;
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof LlmError) throw error;
    throw classifyThrown(error, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
  }
  if (chunks.length === 1) return utf8.decode(chunks[0]);
  const whole = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return utf8.decode(whole);
}

/** A `server` error for an upstream answer too large to hold (a body, a frame, a line). */
export function tooLargeError(ctx: Pick<HttpCallContext, 'provider' | 'model'>, detail: string): LlmError {
  return new LlmError({
    kind: 'server',
    message: `${ctx.provider} sent a response too large to read: ${detail}`,
    provider: ctx.provider,
    model: ctx.model,
    code: 'response_too_large',
  });
}

/** Reads a 2xx body as JSON; a body that is not JSON is a `server` error (the upstream misbehaved). */
export async function readJson(ctx: HttpCallContext, response: TransportResponse): Promise<unknown> {
  const text = await readText(ctx, response);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw malformedError(ctx, `response body is not JSON: ${preview(text)}`, error);
  }
}

/** A `server` error for an upstream answer that breaks its own protocol (bad JSON, impossible frame). */
export function malformedError(ctx: Pick<HttpCallContext, 'provider' | 'model'>, detail: string, cause?: unknown): LlmError {
  return new LlmError({
    kind: 'server',
    message: `${ctx.provider} sent a malformed response: ${detail}`,
    provider: ctx.provider,
    model: ctx.model,
    code: 'malformed_response',
    cause,
  });
}

/**
 * The SSE events of a streaming response. Read failures become classified errors. The return
 * value says whether the body stopped inside an event; the adapter decides, from its protocol's
 * terminal event, whether the stream was complete.
 */
export async function* sseEvents(ctx: HttpCallContext, response: TransportResponse): AsyncGenerator<SseEvent, { truncated: boolean }> {
  const events = readSseEvents(response.body);
  try {
    for (;;) {
      const next = await events.next();
      if (next.done) return { truncated: next.value.truncated };
      yield next.value;
    }
  } catch (error) {
    if (error instanceof FrameTooLargeError) throw tooLargeError(ctx, error.message);
    throw classifyThrown(error, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
  } finally {
    await events.return?.({ truncated: false });
  }
}

/** The values of an NDJSON streaming response. A malformed line is a `server` error. */
export async function* ndjsonValues(ctx: HttpCallContext, response: TransportResponse): AsyncGenerator<unknown, void> {
  const values = readNdjson(response.body);
  try {
    for (;;) {
      const next = await values.next();
      if (next.done) return;
      yield next.value;
    }
  } catch (error) {
    if (error instanceof NdjsonParseError) throw malformedError(ctx, error.message, error);
    if (error instanceof FrameTooLargeError) throw tooLargeError(ctx, error.message);
    throw classifyThrown(error, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
  } finally {
    await values.return?.({ truncated: false });
  }
}

/** Parses one stream frame's JSON; bad JSON is a `server` error naming the frame. */
export function parseFrame(ctx: Pick<HttpCallContext, 'provider' | 'model'>, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw malformedError(ctx, `stream frame is not JSON: ${preview(data)}`, error);
  }
}

/** Joins a base URL and a path without doubling or losing the slash. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine);
}

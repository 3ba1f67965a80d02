import { resolveWhenExhausted, scriptedReply, startMockServer, type WhenExhausted, type MockFrame, type MockReply, type RecordedRequest } from './mock-server.js';

/**
 * The failures the Gemini mock can answer with, each with the status and body the real service
 * sends (see `reference/providers.md` §4):
 * - `rate_limit` 429 `RESOURCE_EXHAUSTED`, per-minute `QuotaFailure` + `RetryInfo` (`retryDelay`, default `"43s"`)
 * - `quota` 429 `RESOURCE_EXHAUSTED`, per-day `QuotaFailure`, no `RetryInfo`
 * - `precondition` 400 `FAILED_PRECONDITION` (free tier not available, billing needed)
 * - `overloaded` 503 `UNAVAILABLE`; `server` 500 `INTERNAL`; `timeout` 504 `DEADLINE_EXCEEDED`
 * - `auth` 400 `INVALID_ARGUMENT` "API key not valid…" with `ErrorInfo` `API_KEY_INVALID`
 * - `permission` 403 `PERMISSION_DENIED`; `not_found` 404 `NOT_FOUND` (unknown model)
 * - `context_length` 400 `INVALID_ARGUMENT` "The input token count (…) exceeds the maximum…"
 * - `invalid_request` 400 `INVALID_ARGUMENT` with a `BadRequest` field violation
 */
export type GeminiMockErrorKind =
  | 'rate_limit'
  | 'quota'
  | 'precondition'
  | 'overloaded'
  | 'server'
  | 'auth'
  | 'permission'
  | 'not_found'
  | 'context_length'
  | 'invalid_request'
  | 'timeout';

/** A function call the model makes. */
export interface GeminiMockToolCall {
  name: string;
  /** Defaults to `{}`. */
  args?: Record<string, unknown>;
  /** Gemini omits call ids unless asked; set one to send it. */
  id?: string;
}

/** Token counts to report; anything left out is estimated (about 4 characters a token). */
export interface GeminiMockUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
}

/** Latency of a reply, in ms of real time. */
export interface GeminiMockTiming {
  /** Before the status line. */
  delayMs?: number;
  /** Before the first stream frame (added to `delayMs` for `generateContent`). */
  firstTokenDelayMs?: number;
  /** Between later stream frames. */
  chunkDelayMs?: number;
}

/**
 * A successful answer. Streams send `thoughts` first, then `chunks` (default: `text` split into
 * words), then a last chunk with the tool calls and `finishReason`; every chunk's `usageMetadata`
 * is a running total.
 */
export interface GeminiMockTextReply extends GeminiMockTiming {
  type: 'text';
  text?: string;
  /** The stream's text pieces; their concatenation is the answer (overrides `text`). */
  chunks?: string[];
  /** Thinking text, sent as `thought: true` parts. */
  thoughts?: string;
  toolCalls?: GeminiMockToolCall[];
  /** Defaults to `STOP`. */
  finishReason?: string;
  usage?: GeminiMockUsage;
  /** Defaults to a random id. */
  responseId?: string;
}

/** An HTTP error before any output. */
export interface GeminiMockErrorReply extends GeminiMockTiming {
  type: 'error';
  kind: GeminiMockErrorKind;
  /** Replaces the kind's usual message. */
  message?: string;
  /** The `RetryInfo.retryDelay` of `rate_limit` (default `"43s"`). */
  retryDelay?: string;
}

/** HTTP 200 with `promptFeedback.blockReason` and no candidates. */
export interface GeminiMockBlockedReply extends GeminiMockTiming {
  type: 'blocked';
  /** Defaults to `SAFETY`. */
  blockReason?: string;
}

/** A candidate stopped by `finishReason: SAFETY`, after `text` if given. */
export interface GeminiMockSafetyReply extends GeminiMockTiming {
  type: 'safety';
  text?: string;
}

/**
 * Streams `text` (default none), then an `{"error":{code,message,status}}` frame of the `error`
 * kind (default `overloaded`: 503 `UNAVAILABLE`), then ends (without `alt=sse`, the error object
 * is the array's last element). Without a stream (`generateContent`) the error is the HTTP response.
 */
export interface GeminiMockStreamErrorReply extends GeminiMockTiming {
  type: 'stream-error-after';
  text?: string;
  error?: GeminiMockErrorKind;
  message?: string;
}

/** Streams `text` (default none), then holds the connection open, silent, until the client leaves. Without a stream, never answers. */
export interface GeminiMockStallReply extends GeminiMockTiming {
  type: 'stall-after';
  text?: string;
}

/** Streams `text` (default none), then destroys the connection. Without a stream, cuts inside the JSON body. */
export interface GeminiMockCutReply extends GeminiMockTiming {
  type: 'cut-after';
  text?: string;
}

/**
 * Streams `text` (default none), then ends the body cleanly without any chunk carrying a
 * `finishReason` (a truncated answer). Without a stream, a candidate without `finishReason`.
 */
export interface GeminiMockTruncateReply extends GeminiMockTiming {
  type: 'truncate-after';
  text?: string;
}

/**
 * The same reply as {@link GeminiMockTruncateReply}, under its older name.
 * @deprecated Use `type: 'truncate-after'`.
 */
export interface GeminiMockEofReply extends GeminiMockTiming {
  type: 'eof-after';
  text?: string;
}

/** Streams `text` (if any), a frame that is not JSON, then a valid last chunk. Without a stream, a body that is not JSON. */
export interface GeminiMockMalformedReply extends GeminiMockTiming {
  type: 'malformed-frame';
  text?: string;
}

/** One reply of a scenario. Plain JSON data. */
export type GeminiMockReply =
  | GeminiMockTextReply
  | GeminiMockErrorReply
  | GeminiMockBlockedReply
  | GeminiMockSafetyReply
  | GeminiMockStreamErrorReply
  | GeminiMockStallReply
  | GeminiMockCutReply
  | GeminiMockTruncateReply
  | GeminiMockEofReply
  | GeminiMockMalformedReply;

/** A valid model call, as a reply function sees it. */
export interface GeminiMockRequest {
  /** The model of the path, without `models/`. */
  model: string;
  method: 'generateContent' | 'streamGenerateContent';
  /** `streamGenerateContent?alt=sse` (SSE frames) rather than one JSON array. */
  sse: boolean;
  /** The parsed request body. */
  body: Record<string, unknown>;
  /** 0 for the first valid model call, then 1, 2, … */
  index: number;
}

/**
 * What the mock does. Plain JSON data (except a `replies` function), so users and
 * `ballast mock` can load scenarios from files:
 *
 * ```json
 * { "apiKey": "test-key", "whenExhausted": "cycle",
 *   "replies": [{ "type": "error", "kind": "rate_limit", "retryDelay": "2s" },
 *               { "type": "text", "text": "Hello there", "usage": { "promptTokenCount": 5 } }] }
 * ```
 */
export interface GeminiMockScenario {
  /** Replies to model calls in order, or a function choosing each one. */
  replies: GeminiMockReply[] | ((request: GeminiMockRequest) => GeminiMockReply | Promise<GeminiMockReply>);
  /**
   * When the list runs out: answer 500 `INTERNAL` "scenario exhausted" (`error`, the default here,
   * unlike the other mocks), start over (`cycle`), or repeat the last reply (`repeat-last`).
   */
  whenExhausted?: WhenExhausted;
  /**
   * `true` is `whenExhausted: 'cycle'`; `false` changes nothing.
   * @deprecated Use `whenExhausted: 'cycle'`.
   */
  loop?: boolean;
  /**
   * When set, calls must carry this key (`x-goog-api-key` or `?key=`): a missing key gets 403
   * `PERMISSION_DENIED`, a wrong one 400 `API_KEY_INVALID`, as from the real service.
   */
  apiKey?: string;
  /** When set, other models get 404 `NOT_FOUND`. */
  models?: string[];
}

/** A running Gemini mock. */
export interface GeminiMock {
  /**
   * The base URL including `/v1beta`: `http://127.0.0.1:port/v1beta`. It is exactly the `baseURL`
   * to give Ballast's `gemini` provider (whose default is
   * `https://generativelanguage.googleapis.com/v1beta`).
   */
  readonly url: string;
  /** `http://127.0.0.1:port`, for `@google/genai`'s `httpOptions.baseUrl`. */
  readonly origin: string;
  /** Every request received (valid or not), in order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The error kind of a `stream-error-after` reply that names none. */
const DEFAULT_STREAM_ERROR: GeminiMockErrorKind = 'overloaded';

const PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const JSON_TYPE = 'application/json; charset=UTF-8';

/**
 * Starts a mock of the Gemini API on 127.0.0.1 that speaks its wire format:
 * `POST /v1beta/models/{model}:generateContent`, and `:streamGenerateContent` with `?alt=sse`
 * (data-only SSE frames, no `[DONE]`) or without (one JSON array), with the real error bodies.
 * A list of replies may be passed instead of a scenario.
 */
export async function startGeminiMock(scenario: GeminiMockScenario | GeminiMockReply[]): Promise<GeminiMock> {
  const script: GeminiMockScenario = Array.isArray(scenario) ? { replies: scenario } : scenario;
  const { replies, apiKey, models } = script;
  const whenExhausted = resolveWhenExhausted('gemini', { name: 'loop', value: script.loop }, script.whenExhausted, 'error');
  let calls = 0;
  const pick = (index: number): GeminiMockReply | undefined => {
    if (typeof replies === 'function') return undefined;
    return scriptedReply(replies, index, whenExhausted);
  };

  const server = await startMockServer(async (recorded) => {
    const url = new URL(recorded.path, 'http://mock');
    const match = recorded.method === 'POST' ? PATH.exec(url.pathname) : null;
    if (!match) return errorReply(404, 'NOT_FOUND', 'Method not found.');
    if (apiKey !== undefined) {
      const key = recorded.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
      if (key === undefined) {
        return errorReply(
          403,
          'PERMISSION_DENIED',
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        );
      }
      if (key !== apiKey) return errorBodyReply(geminiError('auth', '')); // same body as the `auth` kind
    }
    const model = decodeURIComponent(match[1]!);
    if (!isObject(recorded.json)) {
      return errorReply(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.', [
        badRequest('', 'Invalid JSON payload received. Unexpected token.'),
      ]);
    }
    if (!Array.isArray(recorded.json.contents) || recorded.json.contents.length === 0) {
      return errorReply(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n');
    }
    if (models && !models.includes(model)) return errorBodyReply(geminiError('not_found', model));

    const method = match[2] as GeminiMockRequest['method'];
    const request: GeminiMockRequest = {
      model,
      method,
      sse: method === 'streamGenerateContent' && url.searchParams.get('alt') === 'sse',
      body: recorded.json,
      index: calls++,
    };
    let reply: GeminiMockReply | undefined;
    if (typeof replies === 'function') reply = await replies(request);
    else reply = pick(request.index);
    if (!reply) return errorReply(500, 'INTERNAL', `gemini mock: scenario exhausted (no reply for call ${request.index + 1})`);
    if (reply.type === 'stall-after' && method === 'generateContent') {
      await recorded.disconnect; // a unary call that never gets its answer
      return {};
    }
    return render(reply, request);
  });

  return {
    url: `${server.url}/v1beta`,
    origin: server.url,
    requests: server.requests,
    close: () => server.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

interface GeminiError {
  code: number;
  message: string;
  status: string;
  details?: Json[];
}

/** The real service's `error` object for a failure kind. */
function geminiError(kind: GeminiMockErrorKind, model: string, message?: string, retryDelay = '43s'): GeminiError {
  const error = (code: number, status: string, text: string, details?: Json[]): GeminiError =>
    details ? { code, message: message ?? text, status, details } : { code, message: message ?? text, status };
  const quota = (perDay: boolean): Json[] => [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaId: perDay ? 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' : 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
          quotaDimensions: { location: 'global', model },
          quotaValue: perDay ? '250' : '10',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
    },
  ];
  const exceeded = (limit: string) =>
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, ' +
    'head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: ' +
    `https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: ${limit}, model: ${model}`;

  switch (kind) {
    case 'rate_limit':
      return error(429, 'RESOURCE_EXHAUSTED', `${exceeded('10')}\nPlease retry in ${retryDelay}.`, [
        ...quota(false),
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
      ]);
    case 'quota':
      return error(429, 'RESOURCE_EXHAUSTED', exceeded('250'), quota(true));
    case 'precondition':
      return error(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use without a billing account linked.');
    case 'overloaded':
      return error(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 'server':
      return error(
        500,
        'INTERNAL',
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 'timeout':
      return error(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.');
    case 'auth':
      return error(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
      ]);
    case 'permission':
      return error(403, 'PERMISSION_DENIED', 'The caller does not have permission');
    case 'not_found':
      return error(
        404,
        'NOT_FOUND',
        `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
      );
    case 'context_length':
      return error(400, 'INVALID_ARGUMENT', 'The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).');
    case 'invalid_request':
      return error(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "foo": Cannot find field.', [
        badRequest('', 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'),
      ]);
  }
}

function badRequest(field: string, description: string): Json {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description }] };
}

function errorReply(code: number, status: string, message: string, details?: Json[]): MockReply {
  return errorBodyReply(details ? { code, message, status, details } : { code, message, status });
}

/** Google's frontends pretty-print JSON bodies. */
function errorBodyReply(error: GeminiError, delayMs?: number): MockReply {
  return { status: error.code, delayMs, headers: { 'content-type': JSON_TYPE }, text: `${JSON.stringify({ error }, null, 2)}\n` };
}

// ---------------------------------------------------------------------------------------------
// Successes

type Ending = { type: 'end' } | { type: 'error'; error: GeminiError } | { type: 'stall' } | { type: 'cut' } | { type: 'malformed' };

interface Plan {
  /** Every `GenerateContentResponse` of the answer, in order (one for a unary call). */
  chunks: Json[];
  ending: Ending;
}

function render(reply: GeminiMockReply, request: GeminiMockRequest): MockReply {
  if (reply.type === 'error') return errorBodyReply(geminiError(reply.kind, request.model, reply.message, reply.retryDelay), reply.delayMs);
  if (reply.type === 'stream-error-after' && request.method === 'generateContent') {
    return errorBodyReply(geminiError(reply.error ?? DEFAULT_STREAM_ERROR, request.model, reply.message), reply.delayMs);
  }
  const plan = planChunks(reply, request);

  if (request.method === 'generateContent') {
    const delayMs = (reply.delayMs ?? 0) + (reply.firstTokenDelayMs ?? 0);
    const headers = { 'content-type': JSON_TYPE };
    const body = `${JSON.stringify(merge(plan.chunks), null, 2)}\n`;
    if (plan.ending.type === 'cut') return { delayMs, headers, frames: [{ write: body.slice(0, body.length >> 1) }, { cut: true }] };
    if (plan.ending.type === 'malformed') return { delayMs, headers, text: body.slice(0, body.length >> 1) };
    return { delayMs, headers, text: body };
  }

  const frames: MockFrame[] = [];
  const push = (write: string) => {
    const delayMs = frames.length === 0 ? reply.firstTokenDelayMs : reply.chunkDelayMs;
    frames.push(delayMs ? { write, delayMs } : { write });
  };
  const { ending } = plan;
  if (request.sse) {
    // The service ends SSE events with CRLF CRLF.
    const frame = (json: unknown) => `data: ${JSON.stringify(json)}\r\n\r\n`;
    plan.chunks.forEach((chunk, i) => {
      if (ending.type === 'malformed' && i === plan.chunks.length - 1) push('data: {"candidates": [{"content": {"parts": [{"text": \r\n\r\n');
      push(frame(chunk));
    });
    if (ending.type === 'error') push(frame({ error: { code: ending.error.code, message: ending.error.message, status: ending.error.status } }));
  } else {
    // Without alt=sse: one JSON array, written element by element as the answer is generated.
    const items = plan.chunks.map((chunk) => JSON.stringify(chunk, null, 2));
    if (ending.type === 'error') items.push(JSON.stringify({ error: ending.error }, null, 2));
    items.forEach((item, i) => {
      if (ending.type === 'malformed' && i === items.length - 1) push('{"candidates": [\n,\r\n');
      push(`${i === 0 ? '[' : '\n,\r\n'}${item}`);
    });
    if (ending.type === 'end' || ending.type === 'error' || ending.type === 'malformed') push('\n]');
  }
  if (ending.type === 'stall') frames.push({ stall: true });
  if (ending.type === 'cut') frames.push({ cut: true });
  return {
    delayMs: reply.delayMs,
    headers: { 'content-type': request.sse ? 'text/event-stream' : JSON_TYPE },
    frames,
  };
}

/** The answer as a sequence of `GenerateContentResponse` chunks, and how the response ends. */
function planChunks(reply: Exclude<GeminiMockReply, GeminiMockErrorReply>, request: GeminiMockRequest): Plan {
  const base = { modelVersion: request.model, responseId: ('responseId' in reply && reply.responseId) || randomId() };
  const promptTokens = estimateTokens(JSON.stringify(request.body.contents ?? '') + JSON.stringify(request.body.systemInstruction ?? ''));

  if (reply.type === 'blocked') {
    return {
      chunks: [
        {
          promptFeedback: { blockReason: reply.blockReason ?? 'SAFETY', safetyRatings: safetyRatings(true) },
          usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens, promptTokensDetails: textDetails(promptTokens) },
          ...base,
        },
      ],
      ending: { type: 'end' },
    };
  }

  const text = reply.type === 'text' ? (reply.chunks?.join('') ?? reply.text ?? '') : (reply.text ?? '');
  const pieces = reply.type === 'text' && reply.chunks ? reply.chunks.filter((c) => c !== '') : splitWords(text);
  const thoughts = reply.type === 'text' ? reply.thoughts : undefined;
  const toolCalls = reply.type === 'text' ? (reply.toolCalls ?? []) : [];
  const usage = reply.type === 'text' ? (reply.usage ?? {}) : {};
  const prompt = usage.promptTokenCount ?? promptTokens;
  const totalCandidates = usage.candidatesTokenCount ?? estimateTokens(text + JSON.stringify(toolCalls.map((c) => c.args ?? {})));
  const totalThoughts = usage.thoughtsTokenCount ?? (thoughts ? estimateTokens(thoughts) : undefined);

  // Parts of each chunk; the last chunk also carries the tool calls and the finish reason.
  const partsPerChunk: Json[][] = [];
  if (thoughts) partsPerChunk.push([{ text: thoughts, thought: true }]);
  for (const piece of pieces) partsPerChunk.push([{ text: piece }]);
  const calls = toolCalls.map((call, i) => {
    const part: Json = { functionCall: call.id ? { id: call.id, name: call.name, args: call.args ?? {} } : { name: call.name, args: call.args ?? {} } };
    // Thinking models sign the first call of a turn.
    if (i === 0 && thoughts) part.thoughtSignature = 'c2lnbmF0dXJl';
    return part;
  });
  const last = partsPerChunk.at(-1);
  if (calls.length > 0 && last && !last.some((p) => p.thought === true)) last.push(...calls);
  else if (calls.length > 0) partsPerChunk.push(calls);
  // An empty answer still ends with a chunk; a safety stop without text has no content at all.
  else if (partsPerChunk.length === 0) partsPerChunk.push(reply.type === 'safety' ? [] : [{ text: '' }]);

  let finishReason: string | undefined;
  let ending: Ending = { type: 'end' };
  switch (reply.type) {
    case 'text':
      finishReason = reply.finishReason ?? 'STOP';
      break;
    case 'safety':
      finishReason = 'SAFETY';
      break;
    case 'stream-error-after':
      ending = { type: 'error', error: geminiError(reply.error ?? DEFAULT_STREAM_ERROR, request.model, reply.message) };
      break;
    case 'stall-after':
      ending = { type: 'stall' };
      break;
    case 'cut-after':
      ending = { type: 'cut' };
      break;
    case 'truncate-after':
    case 'eof-after':
      break;
    case 'malformed-frame':
      finishReason = 'STOP';
      ending = { type: 'malformed' };
      break;
  }

  const textChars = pieces.reduce((n, p) => n + p.length, 0);
  let seenChars = 0;
  const chunks = partsPerChunk.map((parts, i) => {
    const isLast = i === partsPerChunk.length - 1;
    for (const part of parts) if (typeof part.text === 'string' && part.thought !== true) seenChars += part.text.length;
    const candidatesTokenCount =
      isLast && finishReason !== undefined ? totalCandidates : Math.round(totalCandidates * (textChars === 0 ? 0 : seenChars / textChars));
    const thoughtsTokenCount = totalThoughts;
    const candidate: Json = parts.length > 0 ? { content: { parts, role: 'model' }, index: 0 } : { index: 0 };
    if (isLast && finishReason !== undefined) {
      candidate.finishReason = finishReason;
      if (finishReason === 'SAFETY') candidate.safetyRatings = safetyRatings(true);
    }
    const usageMetadata: Json = {
      promptTokenCount: prompt,
      candidatesTokenCount,
      totalTokenCount: prompt + candidatesTokenCount + (thoughtsTokenCount ?? 0),
      promptTokensDetails: textDetails(prompt),
    };
    if (thoughtsTokenCount !== undefined) usageMetadata.thoughtsTokenCount = thoughtsTokenCount;
    if (usage.cachedContentTokenCount !== undefined) usageMetadata.cachedContentTokenCount = usage.cachedContentTokenCount;
    return { candidates: [candidate], usageMetadata, ...base };
  });
  return { chunks, ending };
}

/** Folds stream chunks into the one response `generateContent` returns. */
function merge(chunks: Json[]): Json {
  const last = chunks.at(-1) ?? {};
  if (!Array.isArray(last.candidates)) return last;
  const parts: Json[] = [];
  for (const chunk of chunks) {
    const candidate: unknown = Array.isArray(chunk.candidates) ? chunk.candidates[0] : undefined;
    const content = isObject(candidate) && isObject(candidate.content) ? candidate.content : undefined;
    for (const part of Array.isArray(content?.parts) ? content.parts : []) {
      const previous = parts.at(-1);
      // Adjacent text parts of the same kind are one part in a unary answer.
      if (isObject(part) && typeof part.text === 'string' && previous && typeof previous.text === 'string' && previous.thought === part.thought) {
        previous.text += part.text;
      } else if (isObject(part)) parts.push({ ...part });
    }
  }
  const candidate = isObject(last.candidates[0]) ? last.candidates[0] : {};
  return { ...last, candidates: [parts.length > 0 ? { ...candidate, content: { parts, role: 'model' } } : candidate] };
}

function splitWords(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\s)(?=\S)/);
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function textDetails(tokenCount: number): Json[] {
  return [{ modality: 'TEXT', tokenCount }];
}

function safetyRatings(blocked: boolean): Json[] {
  return [
    { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
    { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
    { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
    blocked
      ? { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }
      : { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'NEGLIGIBLE' },
  ];
}

function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Buffer.from(bytes).toString('base64url').slice(0, 22);
}

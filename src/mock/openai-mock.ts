import { scriptedReply, startMockServer, type WhenExhausted, type MockFrame, type MockReply, type RecordedRequest } from './mock-server.js';

// A scenario is plain JSON data (a later `ballast mock` loads it from a file), so every reply
// below is made of strings, numbers, booleans, arrays and objects only.

/** Timing and extra headers shared by every reply. All delays are real milliseconds. */
export interface OpenAiMockTiming {
  /** Latency before the status line (for a non-streaming reply, before the whole answer). */
  delayMs?: number;
  /**
   * Streaming: the pause between the first chunk (the `role` chunk, sent with the headers) and the
   * first content chunk. Non-streaming: added to `delayMs`.
   */
  firstTokenDelayMs?: number;
  /** Streaming: the pause before each later content chunk. Non-streaming: added per chunk. */
  chunkDelayMs?: number;
  /** Extra response headers (they win over the mock's own, e.g. `x-ratelimit-*`). */
  headers?: Record<string, string>;
  /**
   * How `text` is split into stream chunks: explicit pieces, or a chunk size in characters.
   * Default: one chunk per word (with its trailing whitespace).
   */
  chunks?: string[] | number;
}

/** A tool call in a `text` reply. */
export interface OpenAiMockToolCall {
  /** Default `call_<n>`. */
  id?: string;
  name: string;
  /**
   * The arguments: a string is sent verbatim (so it can be malformed JSON on purpose), anything
   * else is JSON-encoded. Streams send it in 8-character fragments.
   */
  arguments?: unknown;
}

/** Token counts of a reply; each defaults to an estimate (about 4 characters a token) or 0. */
export interface OpenAiMockUsage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

/** A successful answer: text and/or tool calls (or a refusal), as JSON or as a stream. */
export interface OpenAiMockTextReply extends OpenAiMockTiming {
  type: 'text';
  /** The answer text (default empty). */
  text?: string;
  toolCalls?: OpenAiMockToolCall[];
  /** A refusal: sent as `message.refusal` (streamed as `delta.refusal`) with `content: null`. */
  refusal?: string;
  /** Default `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: string;
  usage?: OpenAiMockUsage;
  /** The response id (default `chatcmpl-mock<n>`). */
  id?: string;
  /** The model named in the answer (default: the request's). */
  model?: string;
  /** Streaming: leave out the final `data: [DONE]` (the body still ends cleanly). */
  omitDone?: boolean;
  /** Streaming: leave out the usage chunk even when `include_usage` was asked for. */
  omitUsage?: boolean;
}

/** The error kinds the mock answers with, each with OpenAI's real status, body and headers. */
export type OpenAiMockErrorKind =
  /** 429 `rate_limit_exceeded` ("… Please try again in 644ms."), `x-ratelimit-*` headers. */
  | 'rate_limit'
  /** 429 `insufficient_quota`. */
  | 'quota'
  /** 503 `server_is_overloaded`. */
  | 'overloaded'
  /** 500 `server_error`. */
  | 'server'
  /** 401 `invalid_api_key`. */
  | 'auth'
  /** 404 `model_not_found` for the requested model. */
  | 'not_found'
  /** 400 `context_length_exceeded`. */
  | 'context_length'
  /** 400 `invalid_request_error` with `param` set. */
  | 'invalid_request'
  /** 429 "Request too large for … on tokens per min" (retrying never helps). */
  | 'request_too_large'
  /** 502 with an HTML body, as a CDN edge answers. */
  | 'bad_gateway_html';

/** An HTTP error response. The fields after `kind` override the kind's defaults. */
export interface OpenAiMockErrorReply {
  type: 'error';
  kind: OpenAiMockErrorKind;
  /** Seconds: sent as `retry-after` (rounded up) and `retry-after-ms`; the message says it too. */
  retryAfter?: number;
  headers?: Record<string, string>;
  delayMs?: number;
  status?: number;
  message?: string;
  /** `error.code` (`null` for none). */
  code?: string | null;
  /** `error.type`. */
  errorType?: string;
  /** `error.param` (`null` for none). */
  param?: string | null;
}

/** The `error` object of a mid-stream error frame. Default: a `server_error`. */
export interface OpenAiMockStreamError {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

/**
 * Some text, then an error frame after HTTP 200 (`data: {"error":{…}}`, or `event: error` with
 * `asEvent`), then `[DONE]` unless `omitDone`. Non-streaming requests get the error as HTTP 500
 * (503 for `service_unavailable_error`, 429 for rate-limit types).
 */
export interface OpenAiMockStreamErrorReply extends OpenAiMockTiming {
  type: 'stream-error-after';
  text?: string;
  error?: OpenAiMockStreamError;
  /** Send it as an `event: error` SSE frame. */
  asEvent?: boolean;
  omitDone?: boolean;
}

/**
 * Some text, then silence with the connection held open until the client leaves. Non-streaming
 * requests get the status, headers and half of the JSON body, then the same silence.
 */
export interface OpenAiMockStallReply extends OpenAiMockTiming {
  type: 'stall-after';
  text?: string;
}

/** Some text, then the socket is destroyed (no terminal chunk; non-streaming: half a body). */
export interface OpenAiMockCutReply extends OpenAiMockTiming {
  type: 'cut-after';
  text?: string;
}

/**
 * Some text, then the body ends cleanly without a finish chunk, usage or `[DONE]` (what Ollama's
 * `/v1` does when generation fails). Non-streaming: half a JSON body, ended cleanly.
 */
export interface OpenAiMockTruncateReply extends OpenAiMockTiming {
  type: 'truncate-after';
  text?: string;
}

/**
 * Some text, then a frame whose data is not JSON, then silence (the connection stays open, so a
 * client that waits for more instead of failing hangs). Non-streaming: a 200 body that is not JSON.
 */
export interface OpenAiMockMalformedReply extends OpenAiMockTiming {
  type: 'malformed-frame';
  text?: string;
}

/** An HTTP 200 answer stopped by the content filter: `finish_reason: "content_filter"`. */
export interface OpenAiMockContentFilterReply extends OpenAiMockTiming {
  type: 'content-filter';
  /** Text produced before the filter stopped it (default none: `content: null`). */
  text?: string;
}

/** One reply of a scenario. */
export type OpenAiMockReply =
  | OpenAiMockTextReply
  | OpenAiMockErrorReply
  | OpenAiMockStreamErrorReply
  | OpenAiMockStallReply
  | OpenAiMockCutReply
  | OpenAiMockTruncateReply
  | OpenAiMockMalformedReply
  | OpenAiMockContentFilterReply;

/** A chat completion request as a scenario function sees it. */
export interface OpenAiMockRequest {
  /**
   * 0 for the first chat completion request that reached the scenario, 1 for the next… (requests
   * refused for a bad key or a bad body consume no reply).
   */
  index: number;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  recorded: RecordedRequest;
}

/** Chooses the reply to a chat completion request in code (tests); JSON scenarios use a list. */
export type OpenAiMockReplyFn = (request: OpenAiMockRequest) => OpenAiMockReply | Promise<OpenAiMockReply>;

/**
 * A mock's script, as plain data (a JSON file for `ballast mock`), e.g.
 *
 * ```json
 * { "apiKey": "sk-test", "replies": [
 *     { "type": "error", "kind": "rate_limit", "retryAfter": 1 },
 *     { "type": "text", "text": "Hello there", "usage": { "promptTokens": 5 } } ] }
 * ```
 */
export interface OpenAiMockScenarioObject {
  /**
   * Replies to `POST /v1/chat/completions` in order (request `i` gets reply `i`), or a function
   * choosing each one.
   */
  replies: OpenAiMockReply[] | OpenAiMockReplyFn;
  /**
   * When the list runs out: repeat the last reply (default), start over (`cycle`), or answer 500
   * (`error`, so a test that sends one request too many notices).
   */
  whenExhausted?: WhenExhausted;
  /**
   * When set, every request must carry `Authorization: Bearer <apiKey>`: without one it gets
   * OpenAI's 401 "You didn't provide an API key", with another one 401 `invalid_api_key`.
   */
  apiKey?: string;
  /** What `GET /v1/models` lists (default `gpt-4o`, `gpt-4o-mini`). */
  models?: string[];
}

/** A scenario: the full object, or just the list (or function) of replies. */
export type OpenAiMockScenario = OpenAiMockScenarioObject | OpenAiMockReply[] | OpenAiMockReplyFn;

/** A running OpenAI mock. */
export interface OpenAiMock {
  /**
   * The API root including `/v1`, e.g. `http://127.0.0.1:41234/v1`. It is exactly the `baseURL` to
   * give Ballast's `openai` provider (whose default is `https://api.openai.com/v1`), or an OpenAI SDK.
   */
  readonly url: string;
  /** Every request received (chat completions, model lists, unknown paths), in order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on 127.0.0.1 that speaks the OpenAI Chat Completions wire: `POST
 * /v1/chat/completions` (JSON, or SSE when `stream: true`, with the usage chunk when
 * `stream_options.include_usage` is set), `GET /v1/models` and `GET /v1/models/{id}`; other paths
 * get OpenAI's 404 body. Replies follow `scenario`; requests the real API would refuse (bad key,
 * bad body) get its 4xx and use up no reply.
 */
export async function startOpenAiMock(scenario: OpenAiMockScenario, options: { port?: number } = {}): Promise<OpenAiMock> {
  const script: OpenAiMockScenarioObject = Array.isArray(scenario) || typeof scenario === 'function' ? { replies: scenario } : scenario;
  const { replies, apiKey } = script;
  if (Array.isArray(replies) && replies.length === 0) throw new TypeError('an OpenAI mock scenario needs at least one reply');
  const models = script.models ?? ['gpt-4o', 'gpt-4o-mini'];
  let chatIndex = 0;
  let serial = 0;

  const pick = async (request: OpenAiMockRequest): Promise<OpenAiMockReply | undefined> => {
    if (typeof replies === 'function') return replies(request);
    return scriptedReply(replies, request.index, script.whenExhausted ?? 'repeat-last');
  };

  const server = await startMockServer(async (recorded) => {
    serial += 1;
    const requestId = `req_mock${String(serial).padStart(8, '0')}`;
    const base = { 'x-request-id': requestId, 'openai-version': '2020-10-01', 'openai-processing-ms': '1' };
    const withBase = (reply: MockReply): MockReply => ({ ...reply, headers: { ...base, ...reply.headers } });

    const path = recorded.path.split('?')[0]!.replace(/\/+$/, '');
    if (apiKey !== undefined) {
      const auth = recorded.headers.authorization;
      if (auth === undefined) return withBase(errorJson(401, NO_KEY_MESSAGE, 'invalid_request_error', null, null));
      if (auth !== `Bearer ${apiKey}`) {
        const given = auth.replace(/^Bearer\s+/i, '');
        return withBase(errorJson(401, incorrectKey(given), 'invalid_request_error', null, 'invalid_api_key'));
      }
    }

    if (recorded.method === 'GET' && path === '/v1/models') {
      return withBase({ json: { object: 'list', data: models.map(modelObject) } });
    }
    if (recorded.method === 'GET' && path.startsWith('/v1/models/')) {
      const id = safeDecode(path.slice('/v1/models/'.length));
      if (models.includes(id)) return withBase({ json: modelObject(id) });
      return withBase(errorJson(404, modelNotFound(id), 'invalid_request_error', 'model', 'model_not_found'));
    }
    if (recorded.method !== 'POST' || path !== '/v1/chat/completions') {
      return withBase(errorJson(404, `Invalid URL (${recorded.method} ${path})`, 'invalid_request_error', null, null));
    }

    const body = recorded.json;
    if (!isObject(body)) {
      return withBase(errorJson(400, BAD_JSON_MESSAGE, 'invalid_request_error', null, null));
    }
    if (typeof body.model !== 'string' || body.model === '') {
      return withBase(errorJson(400, 'you must provide a model parameter', 'invalid_request_error', null, null));
    }
    if (!Array.isArray(body.messages)) {
      return withBase(errorJson(400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'messages', 'missing_required_parameter'));
    }

    const index = chatIndex++;
    const stream = body.stream === true;
    const request: OpenAiMockRequest = { index, body, model: body.model, stream, recorded };
    const reply = await pick(request);
    if (!reply) return withBase(errorJson(500, `openai mock: scenario exhausted (no reply for request ${index + 1})`, 'server_error', null, null));
    return withBase(renderOpenAiReply(reply, request, serial));
  }, { port: options.port });

  return { url: `${server.url}/v1`, requests: server.requests, close: () => server.close() };
}

// ---------------------------------------------------------------------------------------------
// Rendering

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";
const BAD_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";
const SERVER_ERROR_MESSAGE =
  'The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists.';
const STREAM_ERROR_MESSAGE =
  'The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error.';
const BAD_GATEWAY_HTML =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n';
const ARGUMENT_FRAGMENT = 8;

function incorrectKey(given: string): string {
  const masked = given.length > 8 ? `${given.slice(0, 3)}${'*'.repeat(20)}${given.slice(-4)}` : '********';
  return `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const modelNotFound = (model: string) => `The model \`${model}\` does not exist or you do not have access to it.`;
const modelObject = (id: string) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' });

function errorJson(status: number, message: string, type: string, param: string | null, code: string | null, headers?: Record<string, string>): MockReply {
  return { status, headers, json: { error: { message, type, param, code } } };
}

/** What rendering a reply needs to know about the request and the answer. */
interface Ctx {
  request: OpenAiMockRequest;
  id: string;
  model: string;
  created: number;
  includeUsage: boolean;
}

/**
 * Renders one scenario reply into the raw {@link MockReply} the base mock server sends (exported for
 * tests and for servers that mount the OpenAI wire elsewhere). `serial` numbers ids and tool calls.
 */
export function renderOpenAiReply(reply: OpenAiMockReply, request: OpenAiMockRequest, serial = request.index + 1): MockReply {
  const ctx: Ctx = {
    request,
    id: `chatcmpl-mock${String(serial).padStart(6, '0')}`,
    model: request.model,
    created: Math.floor(Date.now() / 1000),
    includeUsage:
      request.stream && isObject(request.body.stream_options) && request.body.stream_options.include_usage === true,
  };
  switch (reply.type) {
    case 'text':
      if (reply.id !== undefined) ctx.id = reply.id;
      if (reply.model !== undefined) ctx.model = reply.model;
      return renderText(reply, ctx, serial);
    case 'error':
      return renderError(reply, request);
    case 'content-filter':
      return renderText({ ...reply, type: 'text', finishReason: 'content_filter' }, ctx, serial);
    case 'stream-error-after':
      return renderStreamError(reply, ctx);
    case 'stall-after':
    case 'cut-after':
    case 'truncate-after':
    case 'malformed-frame':
      return renderBroken(reply, ctx);
    default: {
      // Scenarios come from JSON files too: say what is wrong rather than hang.
      const type = JSON.stringify((reply as { type?: unknown }).type);
      return errorJson(500, `mock scenario: unknown reply type ${type}`, 'server_error', null, null);
    }
  }
}

function splitText(text: string, chunks: string[] | number | undefined): string[] {
  if (Array.isArray(chunks)) return chunks;
  if (text === '') return [];
  if (typeof chunks === 'number' && chunks > 0) {
    const chars = Array.from(text);
    const out: string[] = [];
    for (let i = 0; i < chars.length; i += chunks) out.push(chars.slice(i, i + chunks).join(''));
    return out;
  }
  return text.split(/(?<=\s)(?=\S)/);
}

function splitFixed(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const estimateTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function usageJson(usage: OpenAiMockUsage | undefined, request: OpenAiMockRequest, output: string): Json {
  const prompt = usage?.promptTokens ?? estimateTokens(JSON.stringify(request.body.messages ?? ''));
  const completion = usage?.completionTokens ?? estimateTokens(output);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: usage?.cachedTokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage?.reasoningTokens ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const sse = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function chunkJson(ctx: Ctx, choices: Json[]): Json {
  const chunk: Json = {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.model,
    service_tier: 'default',
    system_fingerprint: 'fp_mock',
    choices,
  };
  // With include_usage, every chunk but the last carries `"usage": null`.
  if (ctx.includeUsage) chunk.usage = null;
  return chunk;
}

const deltaChoice = (delta: Json, finishReason: string | null = null): Json => ({
  index: 0,
  delta,
  logprobs: null,
  finish_reason: finishReason,
});

interface ToolWire {
  id: string;
  name: string;
  raw: string;
}

function toolWire(calls: OpenAiMockToolCall[] | undefined, serial: number): ToolWire[] {
  return (calls ?? []).map((c, i) => ({
    id: c.id ?? `call_mock${serial}_${i}`,
    name: c.name,
    raw: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
  }));
}

/** The stream of a (partial) answer: role chunk, content chunks with their delays. */
function contentFrames(ctx: Ctx, pieces: string[], timing: OpenAiMockTiming, field: 'content' | 'refusal' = 'content'): MockFrame[] {
  const frames: MockFrame[] = [
    { write: sse(chunkJson(ctx, [deltaChoice(field === 'content' ? { role: 'assistant', content: '', refusal: null } : { role: 'assistant', content: null, refusal: '' })])) },
  ];
  for (const piece of pieces) frames.push(contentFrame(ctx, { [field]: piece }, frames.length === 1 ? timing.firstTokenDelayMs : timing.chunkDelayMs));
  return frames;
}

function contentFrame(ctx: Ctx, delta: Json, delayMs: number | undefined): MockFrame {
  const frame: MockFrame = { write: sse(chunkJson(ctx, [deltaChoice(delta)])) };
  if (delayMs) frame.delayMs = delayMs;
  return frame;
}

/** Non-streaming replies take the generation time a stream of the same pieces would take. */
function totalDelay(timing: OpenAiMockTiming, pieces: number): number | undefined {
  const ms = (timing.delayMs ?? 0) + (pieces > 0 ? (timing.firstTokenDelayMs ?? 0) + (timing.chunkDelayMs ?? 0) * (pieces - 1) : 0);
  return ms > 0 ? ms : undefined;
}

function completionJson(ctx: Ctx, message: Json, finishReason: string | null, usage: Json): Json {
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_mock',
  };
}

function renderText(reply: OpenAiMockTextReply, ctx: Ctx, serial: number): MockReply {
  const text = reply.text ?? (Array.isArray(reply.chunks) ? reply.chunks.join('') : '');
  const refusal = reply.refusal;
  const tools = toolWire(reply.toolCalls, serial);
  const finishReason = reply.finishReason ?? (tools.length ? 'tool_calls' : 'stop');
  const usage = usageJson(reply.usage, ctx.request, (refusal ?? text) + tools.map((t) => t.name + t.raw).join(''));
  const pieces = refusal !== undefined ? splitText(refusal, undefined) : splitText(text, reply.chunks);

  if (!ctx.request.stream) {
    const message: Json = {
      role: 'assistant',
      content: refusal !== undefined || (text === '' && (tools.length > 0 || finishReason === 'content_filter')) ? null : text,
      refusal: refusal ?? null,
      annotations: [],
    };
    if (tools.length) {
      message.tool_calls = tools.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.raw } }));
    }
    return {
      delayMs: totalDelay(reply, pieces.length + tools.length),
      headers: reply.headers,
      json: completionJson(ctx, message, finishReason, usage),
    };
  }

  const frames = contentFrames(ctx, pieces, reply, refusal !== undefined ? 'refusal' : 'content');
  tools.forEach((t, index) => {
    const first = { index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } };
    frames.push(contentFrame(ctx, { tool_calls: [first] }, frames.length === 1 ? reply.firstTokenDelayMs : reply.chunkDelayMs));
    for (const fragment of splitFixed(t.raw, ARGUMENT_FRAGMENT)) {
      frames.push(contentFrame(ctx, { tool_calls: [{ index, function: { arguments: fragment } }] }, reply.chunkDelayMs));
    }
  });
  frames.push({ write: sse(chunkJson(ctx, [deltaChoice({}, finishReason)])) });
  if (ctx.includeUsage && !reply.omitUsage) frames.push({ write: sse({ ...chunkJson(ctx, []), usage }) });
  if (!reply.omitDone) frames.push({ write: sse('[DONE]') });
  return { delayMs: reply.delayMs, headers: sseHeaders(reply.headers), frames };
}

const sseHeaders = (headers: Record<string, string> | undefined): Record<string, string> => ({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  ...headers,
});

function streamErrorStatus(type: string): number {
  if (type === 'service_unavailable_error') return 503;
  if (type === 'tokens' || type === 'requests' || type === 'rate_limit_error') return 429;
  return 500;
}

function renderStreamError(reply: OpenAiMockStreamErrorReply, ctx: Ctx): MockReply {
  const error = {
    message: reply.error?.message ?? STREAM_ERROR_MESSAGE,
    type: reply.error?.type ?? 'server_error',
    param: reply.error?.param ?? null,
    code: reply.error?.code ?? null,
  };
  if (!ctx.request.stream) {
    return { delayMs: reply.delayMs, status: streamErrorStatus(error.type), headers: reply.headers, json: { error } };
  }
  const frames = contentFrames(ctx, splitText(reply.text ?? '', reply.chunks), reply);
  frames.push({ write: reply.asEvent ? `event: error\ndata: ${JSON.stringify({ error })}\n\n` : sse({ error }) });
  if (!reply.omitDone) frames.push({ write: sse('[DONE]') });
  return { delayMs: reply.delayMs, headers: sseHeaders(reply.headers), frames };
}

function renderBroken(
  reply: OpenAiMockStallReply | OpenAiMockCutReply | OpenAiMockTruncateReply | OpenAiMockMalformedReply,
  ctx: Ctx,
): MockReply {
  const text = reply.text ?? '';
  if (!ctx.request.stream) {
    const whole = JSON.stringify(
      completionJson(ctx, { role: 'assistant', content: text, refusal: null, annotations: [] }, 'stop', usageJson(undefined, ctx.request, text)),
    );
    const half = whole.slice(0, Math.floor(whole.length / 2));
    const headers = { 'content-type': 'application/json', ...reply.headers };
    switch (reply.type) {
      case 'stall-after':
        return { delayMs: reply.delayMs, headers, frames: [{ write: half }, { stall: true }] };
      case 'cut-after':
        return { delayMs: reply.delayMs, headers, frames: [{ write: half }, { cut: true }] };
      case 'truncate-after':
        return { delayMs: reply.delayMs, headers, frames: [{ write: half }] };
      case 'malformed-frame':
        return { delayMs: reply.delayMs, headers, text: `${half}<!-- not json -->` };
    }
  }
  const frames = contentFrames(ctx, splitText(text, reply.chunks), reply);
  switch (reply.type) {
    case 'stall-after':
      frames.push({ stall: true });
      break;
    case 'cut-after':
      frames.push({ cut: true });
      break;
    case 'truncate-after':
      break;
    case 'malformed-frame':
      frames.push({ write: `data: {"id":"${ctx.id}","object":"chat.completion.chunk","choices":[{"delta":{"content":\n\n` }, { stall: true });
      break;
  }
  return { delayMs: reply.delayMs, headers: sseHeaders(reply.headers), frames };
}

function renderError(reply: OpenAiMockErrorReply, request: OpenAiMockRequest): MockReply {
  const d = errorDefaults(reply.kind, request, reply.retryAfter);
  const headers: Record<string, string> = { ...d.headers };
  if (reply.retryAfter !== undefined) {
    headers['retry-after'] = String(Math.ceil(reply.retryAfter));
    headers['retry-after-ms'] = String(Math.round(reply.retryAfter * 1000));
  }
  Object.assign(headers, reply.headers);
  const status = reply.status ?? d.status;
  if (d.html !== undefined && reply.message === undefined) {
    return { delayMs: reply.delayMs, status, headers: { 'content-type': 'text/html', ...headers }, text: d.html };
  }
  const error = {
    message: reply.message ?? d.message,
    type: reply.errorType ?? d.type,
    param: reply.param !== undefined ? reply.param : d.param,
    code: reply.code !== undefined ? reply.code : d.code,
  };
  return { delayMs: reply.delayMs, status, headers, json: { error } };
}

interface ErrorDefaults {
  status: number;
  message: string;
  type: string;
  param: string | null;
  code: string | null;
  headers?: Record<string, string>;
  html?: string;
}

function rateLimitHeaders(remainingTokens: number, resetTokens: string): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-limit-tokens': '30000',
    'x-ratelimit-remaining-requests': '499',
    'x-ratelimit-remaining-tokens': String(remainingTokens),
    'x-ratelimit-reset-requests': '120ms',
    'x-ratelimit-reset-tokens': resetTokens,
  };
}

function formatWait(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)}ms` : `${Number(seconds.toFixed(3))}s`;
}

function errorDefaults(kind: OpenAiMockErrorKind, request: OpenAiMockRequest, retryAfter: number | undefined): ErrorDefaults {
  const model = request.model;
  switch (kind) {
    case 'rate_limit': {
      const wait = retryAfter === undefined ? '644ms' : formatWait(retryAfter);
      return {
        status: 429,
        message: `Rate limit reached for ${model} in organization org-mock on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in ${wait}. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
        headers: rateLimitHeaders(63, wait),
      };
    }
    case 'request_too_large':
      return {
        status: 429,
        message: `Request too large for ${model} in organization org-mock on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
        headers: rateLimitHeaders(30000, '0s'),
      };
    case 'quota':
      return {
        status: 429,
        message:
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      };
    case 'overloaded':
      return {
        status: 503,
        message: 'The server is overloaded or not ready yet.',
        type: 'service_unavailable_error',
        param: null,
        code: 'server_is_overloaded',
      };
    case 'server':
      return { status: 500, message: SERVER_ERROR_MESSAGE, type: 'server_error', param: null, code: null };
    case 'auth': {
      const auth = request.recorded.headers.authorization ?? '';
      return {
        status: 401,
        message: incorrectKey(auth.replace(/^Bearer\s+/i, '')),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      };
    }
    case 'not_found':
      return { status: 404, message: modelNotFound(model), type: 'invalid_request_error', param: null, code: 'model_not_found' };
    case 'context_length':
      return {
        status: 400,
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      };
    case 'invalid_request':
      return {
        status: 400,
        message: "Invalid value for 'temperature': expected a number between 0 and 2.",
        type: 'invalid_request_error',
        param: 'temperature',
        code: 'invalid_value',
      };
    case 'bad_gateway_html':
      return { status: 502, message: 'Bad Gateway', type: 'server_error', param: null, code: null, html: BAD_GATEWAY_HTML };
    default:
      return { status: 500, message: `mock scenario: unknown error kind ${JSON.stringify(kind)}`, type: 'server_error', param: null, code: null };
  }
}

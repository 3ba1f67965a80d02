import type { ChatRequest, ContentPart, Message, ResponseFormat, ToolChoice } from '../llm/chat-request.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../llm/chat-response.js';
import { parseToolArguments } from '../llm/chat-response.js';
import { classifyStreamError, classifyThrown, truncatedStreamError } from '../llm/classify.js';
import { LlmError } from '../llm/llm-error.js';
import type { RateLimitInfo } from '../llm/rate-limit-headers.js';
import { parseRateLimitHeaders } from '../llm/rate-limit-headers.js';
import type { FinishEvent, StartEvent, StreamEvent } from '../llm/stream-events.js';
import { joinUrl, malformedError, parseFrame, readJson, send, tooLargeError, type HttpCallContext } from './http.js';
import type { ChatProvider, ProviderCall } from './provider.js';
import { fetchTransport, type ResponseHeaders, type Transport, type TransportResponse } from './transport.js';
import { FrameTooLargeError } from './frame-too-large.js';
import { SseParser, type SseEnd, type SseEvent } from './sse-parser.js';
import { providerSecrets, scrubSecrets } from './secret-scrub.js';

/** OpenAI's public endpoint, the default `baseURL`. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Azure OpenAI settings: deployment URLs, `?api-version=`, and the `api-key` header. */
export interface AzureOpenAiOptions {
  /** The `api-version` query parameter, e.g. `2024-10-21`. */
  apiVersion: string;
}

/** Options of {@link openai}. */
export interface OpenAiOptions {
  /**
   * Sent as `Authorization: Bearer <key>` (Azure: `api-key: <key>`). Optional: local
   * OpenAI-compatible servers (vLLM, LM Studio, Ollama `/v1`) usually need none.
   * Surrounding whitespace is trimmed (keys read from files often end with a newline).
   */
  apiKey?: string;
  /**
   * The API root, up to and including the version segment: `https://api.openai.com/v1` (default),
   * `http://localhost:11434/v1`, `https://api.groq.com/openai/v1`, `https://openrouter.ai/api/v1`…
   * For Azure, the resource endpoint (`https://my-res.openai.azure.com`; `/openai` is added when
   * the URL has no path) or the full `…/openai` root.
   */
  baseURL?: string;
  /** A label for events, metrics and errors (default `openai`), e.g. `groq`, `my-vllm`. */
  name?: string;
  /** Extra request headers (names are case-insensitive; these win over the defaults). */
  headers?: Record<string, string>;
  /** Sent as `OpenAI-Organization`. */
  organization?: string;
  /** Sent as `OpenAI-Project`. */
  project?: string;
  /** Talk to Azure OpenAI: the call's `model` is the deployment name. */
  azure?: AzureOpenAiOptions;
  /**
   * Ask for `stream_options: {include_usage: true}` when streaming (default true). Turn it off for
   * servers that reject `stream_options`; streams then carry no usage.
   */
  includeUsage?: boolean;
  /**
   * The body field for `ChatRequest.maxTokens`. Default: `max_completion_tokens` for OpenAI's own
   * endpoint and Azure (where `max_tokens` is deprecated and refused by reasoning models),
   * `max_tokens` for any other base URL (the field every compatible server understands).
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
  /** Send `ChatRequest.metadata` as the body's `metadata` (default false: it is for logs only). */
  sendMetadata?: boolean;
  /** How HTTP is sent (default global `fetch`). */
  transport?: Transport;
  /** Epoch-ms clock that anchors absolute times in rate-limit headers (default `Date.now`). */
  now?: () => number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * A provider for the OpenAI Chat Completions API (`POST {baseURL}/chat/completions`) and every
 * server that speaks it: vLLM, LM Studio, Groq, Together, OpenRouter, Ollama `/v1`, Azure OpenAI.
 * No SDK: plain HTTP through `options.transport`. It never retries; every failure is an `LlmError`
 * whose message never contains the API key.
 */
export function openai(options: OpenAiOptions = {}): ChatProvider {
  const name = options.name ?? 'openai';
  const apiKey = options.apiKey?.trim() || undefined;
  const transport = options.transport ?? fetchTransport;
  const now = options.now ?? Date.now;
  const includeUsage = options.includeUsage ?? true;
  const azure = options.azure;
  if (apiKey && hasControlCharacter(apiKey)) {
    // Said here, where the message can stay key-free, rather than as fetch's "invalid header value".
    throw new TypeError(`${name}: apiKey contains control characters`);
  }
  const baseURL = resolveBaseUrl(options.baseURL, azure, name);
  const maxTokensField =
    options.maxTokensField ?? (azure || baseURL === OPENAI_BASE_URL ? 'max_completion_tokens' : 'max_tokens');
  const headers = buildHeaders(options, apiKey);
  const secrets = providerSecrets(apiKey, options.headers);
  const chatUrl = (model: string): string =>
    azure
      ? `${joinUrl(baseURL, `deployments/${encodeURIComponent(model)}/chat/completions`)}?api-version=${encodeURIComponent(azure.apiVersion)}`
      : joinUrl(baseURL, 'chat/completions');

  const context = (request: ChatRequest, call: ProviderCall): HttpCallContext => ({
    provider: name,
    model: call.model,
    transport,
    signal: request.signal && request.signal !== call.signal ? AbortSignal.any([call.signal, request.signal]) : call.signal,
    now,
  });

  const serialize = (request: ChatRequest, model: string, stream: boolean): string => {
    try {
      return JSON.stringify(toOpenAiBody(request, { model, stream, includeUsage, maxTokensField, name, sendMetadata: options.sendMetadata === true }));
    } catch (error) {
      throw new LlmError({ kind: 'invalid_request', message: `${name}: the request cannot be serialized`, provider: name, model, cause: error });
    }
  };

  return {
    name,
    protocol: 'openai',

    async chat(request, call) {
      const ctx = context(request, call);
      try {
        const body = serialize(request, call.model, false);
        const response = await send(ctx, { url: chatUrl(call.model), headers, body });
        const json = await readJson(ctx, response);
        return parseCompletion(json, ctx, response.headers, now());
      } catch (error) {
        throw scrubSecrets(error, ctx, secrets);
      }
    },

    stream(request, call) {
      const ctx = context(request, call);
      const open = () => send(ctx, { url: chatUrl(call.model), headers, body: serialize(request, call.model, true) });
      return readChunks(ctx, open, includeUsage, now, secrets);
    },
  };
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function resolveBaseUrl(given: string | undefined, azure: AzureOpenAiOptions | undefined, name: string): string {
  if (given === undefined) {
    if (azure) throw new TypeError(`${name}: azure needs a baseURL (https://<resource>.openai.azure.com)`);
    return OPENAI_BASE_URL;
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new TypeError(`${name}: baseURL is not a valid URL`);
  }
  const base = given.replace(/\/+$/, '');
  return azure && (url.pathname === '' || url.pathname === '/') ? `${base}/openai` : base;
}

function buildHeaders(options: OpenAiOptions, apiKey: string | undefined): Record<string, string> {
  // `accept: application/json` for streams too, as the official SDK sends it: every compatible
  // server is tested against that client, and the body's `stream: true` is what selects SSE.
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey) {
    if (options.azure) headers['api-key'] = apiKey;
    else headers.authorization = `Bearer ${apiKey}`;
  }
  if (options.organization) headers['openai-organization'] = options.organization;
  if (options.project) headers['openai-project'] = options.project;
  for (const [key, value] of Object.entries(options.headers ?? {})) headers[key.toLowerCase()] = value;
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Request

/** How {@link toOpenAiBody} shapes the body. */
export interface OpenAiBodyOptions {
  model: string;
  stream: boolean;
  /** Add `stream_options: {include_usage: true}` to a streaming body. */
  includeUsage: boolean;
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
  /** The provider's name: `providerOptions[name]` is merged after `providerOptions.openai`. */
  name: string;
  sendMetadata: boolean;
}

/**
 * The Chat Completions body for a unified request: messages (system prompt first, images as
 * `image_url` parts), tools, tool choice, sampling, `response_format`, then
 * `providerOptions.openai` and `providerOptions[name]` merged over it (`model` and `stream` stay).
 */
export function toOpenAiBody(request: ChatRequest, o: OpenAiBodyOptions): Record<string, unknown> {
  const body: Json = { model: o.model, messages: toWireMessages(request) };
  if (request.tools?.length) {
    body.tools = request.tools.map((tool) => {
      const fn: Json = { name: tool.name };
      if (tool.description !== undefined) fn.description = tool.description;
      fn.parameters = tool.parameters;
      if (tool.strict !== undefined) fn.strict = tool.strict;
      return { type: 'function', function: fn };
    });
  }
  if (request.toolChoice !== undefined) body.tool_choice = toWireToolChoice(request.toolChoice);
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.maxTokens !== undefined) body[o.maxTokensField] = request.maxTokens;
  if (request.stop?.length) body.stop = request.stop;
  const format = request.responseFormat && toWireResponseFormat(request.responseFormat);
  if (format) body.response_format = format;
  if (o.sendMetadata && request.metadata) body.metadata = request.metadata;

  // Protocol-wide options first, then the ones addressed to this target by name.
  const extra = request.providerOptions;
  if (extra) {
    Object.assign(body, extra.openai);
    if (o.name !== 'openai') Object.assign(body, extra[o.name]);
  }
  body.model = o.model;
  if (o.stream) {
    body.stream = true;
    if (o.includeUsage) body.stream_options = { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true };
  } else {
    delete body.stream;
    delete body.stream_options;
  }
  return body;
}

function toWireToolChoice(choice: ToolChoice): unknown {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

function toWireResponseFormat(format: ResponseFormat): Json | undefined {
  switch (format.type) {
    case 'json':
      return { type: 'json_object' };
    case 'json_schema': {
      const schema: Json = { name: format.name, schema: format.schema };
      if (format.strict !== undefined) schema.strict = format.strict;
      if (format.description !== undefined) schema.description = format.description;
      return { type: 'json_schema', json_schema: schema };
    }
    default:
      return undefined; // free text is the default; not every compatible server knows `{type:'text'}`
  }
}

function toWirePart(part: ContentPart): Json {
  if (part.type === 'text') return { type: 'text', text: part.text };
  const url = 'url' in part ? part.url : `data:${part.mediaType};base64,${part.data}`;
  return { type: 'image_url', image_url: part.detail ? { url, detail: part.detail } : { url } };
}

const joinText = (parts: readonly ContentPart[]): string =>
  parts.map((p) => (p.type === 'text' ? p.text : '')).join('');

function toWireMessages(request: ChatRequest): Json[] {
  const out: Json[] = [];
  if (request.system) out.push({ role: 'system', content: request.system });
  // Tool messages take text only, and must follow their assistant turn back to back; images a
  // tool returned go into one user message after the run of tool messages.
  let toolImages: Json[] = [];
  const flushToolImages = () => {
    if (toolImages.length) out.push({ role: 'user', content: toolImages });
    toolImages = [];
  };
  for (const m of request.messages) {
    if (m.role !== 'tool') flushToolImages();
    out.push(toWireMessage(m, toolImages));
  }
  flushToolImages();
  return out;
}

function toWireMessage(m: Message, toolImages: Json[]): Json {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: typeof m.content === 'string' ? m.content : m.content.map(toWirePart) };
    case 'assistant': {
      const text = m.content === undefined ? '' : typeof m.content === 'string' ? m.content : joinText(m.content);
      if (!m.toolCalls?.length) return { role: 'assistant', content: text };
      return {
        role: 'assistant',
        content: text === '' ? null : text,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: c.rawArguments ?? JSON.stringify(c.arguments ?? {}) },
        })),
      };
    }
    case 'tool': {
      if (typeof m.content === 'string') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
      const images = m.content.filter((p) => p.type === 'image');
      if (images.length) {
        toolImages.push({ type: 'text', text: `Images returned by tool call ${m.toolCallId}:` }, ...images.map(toWirePart));
      }
      return { role: 'tool', tool_call_id: m.toolCallId, content: joinText(m.content) };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

function readUsage(v: unknown): Usage | undefined {
  if (!isObject(v)) return undefined;
  const input = num(v.prompt_tokens);
  const output = num(v.completion_tokens);
  if (input === undefined && output === undefined) return undefined;
  const usage: Usage = {
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    totalTokens: num(v.total_tokens) ?? (input ?? 0) + (output ?? 0),
  };
  const cached = isObject(v.prompt_tokens_details) ? num(v.prompt_tokens_details.cached_tokens) : undefined;
  const reasoning = isObject(v.completion_tokens_details) ? num(v.completion_tokens_details.reasoning_tokens) : undefined;
  if (cached !== undefined) usage.cachedInputTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}

/**
 * The unified finish reason. A refusal is `content_filter`. Some compatible servers say `stop`
 * after tool calls; the calls are what the caller must act on, so that is `tool_calls`.
 */
function mapFinish(raw: string | undefined, hasToolCalls: boolean, refused: boolean): FinishReason {
  if (refused) return 'content_filter';
  switch (raw) {
    case 'stop':
      return hasToolCalls ? 'tool_calls' : 'stop';
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    case 'error':
      return 'error';
    default:
      return 'other';
  }
}

/** Reasoning text from compatible servers (DeepSeek, vLLM: `reasoning_content`; OpenRouter, Groq: `reasoning`). */
const reasoningOf = (v: Json): string | undefined => str(v.reasoning_content) ?? str(v.reasoning);

function firstChoice(choices: unknown): Json | undefined {
  if (!Array.isArray(choices)) return undefined;
  for (const c of choices) if (isObject(c) && (c.index === 0 || c.index === undefined)) return c;
  return undefined;
}

function readToolCalls(v: unknown): ToolCall[] {
  if (!Array.isArray(v)) return [];
  const calls: ToolCall[] = [];
  for (const c of v) {
    if (!isObject(c) || !isObject(c.function)) continue;
    const args = c.function.arguments;
    // Arguments are a JSON string on the wire; a few compatible servers send the object itself.
    const raw = typeof args === 'string' ? args : args === undefined ? '' : JSON.stringify(args);
    calls.push({
      id: str(c.id) ?? '',
      name: str(c.function.name) ?? '',
      arguments: typeof args === 'string' || args === undefined ? parseToolArguments(raw) : args,
      rawArguments: raw,
    });
  }
  return calls;
}

function parseCompletion(json: unknown, ctx: HttpCallContext, headers: ResponseHeaders, now: number): ChatResponse {
  if (isObject(json) && json.error && !Array.isArray(json.choices)) {
    // Some compatible servers answer 200 with an error body.
    throw classifyStreamError(ctx.provider, json, { model: ctx.model, requestId: headers.get('x-request-id') ?? undefined });
  }
  const choice = isObject(json) ? firstChoice(json.choices) : undefined;
  const message = choice?.message;
  if (!isObject(json) || !choice || !isObject(message)) throw malformedError(ctx, 'the response has no choices[0].message');

  const content = str(message.content) ?? '';
  const refusal = str(message.refusal);
  const toolCalls = readToolCalls(message.tool_calls);
  const raw = str(choice.finish_reason);
  const response: ChatResponse = {
    text: content === '' && refusal ? refusal : content,
    toolCalls,
    finishReason: mapFinish(raw, toolCalls.length > 0, !!refusal),
  };
  const rawFinish = refusal ? 'refusal' : raw;
  if (rawFinish !== undefined) response.rawFinishReason = rawFinish;
  const usage = readUsage(json.usage);
  if (usage) response.usage = usage;
  const id = str(json.id);
  if (id) response.id = id;
  const model = str(json.model);
  if (model) response.model = model;
  const rateLimit = parseRateLimitHeaders(headers, now);
  if (rateLimit) response.rateLimit = rateLimit;
  const reasoning = reasoningOf(message);
  if (reasoning) response.reasoning = reasoning;
  return response;
}

interface OpenCall {
  id: string;
  name: string;
  raw: string;
}

/**
 * Turns the SSE body into events. `[DONE]` is the terminal frame. A body that ends cleanly without
 * it is still complete when a `finish_reason` arrived and, if usage was requested, the usage chunk
 * too (all that `[DONE]` would add is the sentinel); otherwise it is a truncated stream.
 */
async function* readChunks(
  ctx: HttpCallContext,
  open: () => Promise<TransportResponse>,
  usageExpected: boolean,
  now: () => number,
  secrets: readonly string[],
): AsyncGenerator<StreamEvent, void> {
  // One generator from the request to the last event (no wrapper to delegate through): each event
  // costs one async step.
  try {
    const response = await open();
    if (response.headers.get('content-type')?.startsWith('application/json')) {
      // A server that ignores `stream: true` (or answers an error with 200) sends one JSON body.
      yield* completionEvents(parseCompletion(await readJson(ctx, response), ctx, response.headers, now()));
      return;
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const rateLimit: RateLimitInfo | undefined = parseRateLimitHeaders(response.headers, now());
    const calls = new Map<number, OpenCall>();
    let lastIndex = -1;
    let started = false;
    let finishRaw: string | undefined;
    let sawUsage = false;
    let refused = false;
    let hadToolCalls = false;

    // The SSE parser is driven here rather than through a generator of frames: a stream's events
    // then cost one async step each, not three (a chunk usually carries several frames).
    const parser = new SseParser();
    const batch: SseEvent[] = [];
    const emit = (event: SseEvent) => void batch.push(event);
    const body = response.body[Symbol.asyncIterator]();
    let finished = false;
    try {
      reading: for (;;) {
        let end: SseEnd | undefined;
        let step: IteratorResult<Uint8Array>;
        try {
          step = await body.next();
        } catch (error) {
          throw classifyThrown(error, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
        }
        try {
          if (step.done) {
            finished = true;
            end = parser.end(emit);
          } else parser.push(step.value, emit);
        } catch (error) {
          throw error instanceof FrameTooLargeError ? tooLargeError(ctx, error.message) : error;
        }
        for (let i = 0; i < batch.length; i++) {
          // Frames already buffered must not outlive an abort.
          if (ctx.signal.aborted) throw classifyThrown(ctx.signal.reason, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
          const frame = batch[i]!;
          if (frame.data.startsWith('[DONE]')) break reading;
          if (frame.event !== undefined && frame.event !== 'message') {
            if (frame.event === 'error') throw streamError(ctx, frame.data, requestId);
            continue; // no other named events exist in this protocol
          }
          const chunk = parseFrame(ctx, frame.data);
          if (!isObject(chunk)) throw malformedError(ctx, 'stream frame is not a JSON object');
          if (chunk.error) throw classifyStreamError(ctx.provider, chunk, { model: ctx.model, requestId });

          if (!started) {
            started = true;
            const start: StartEvent = { type: 'start' };
            const id = str(chunk.id);
            const model = str(chunk.model);
            if (id) start.id = id;
            if (model) start.model = model;
            if (rateLimit) start.rateLimit = rateLimit;
            yield start;
          }

          const choice = firstChoice(chunk.choices);
          const delta = choice?.delta;
          if (isObject(delta) && finishRaw === undefined) {
            const text = delta.content;
            if (typeof text === 'string' && text !== '') yield { type: 'text', text };
            const refusal = delta.refusal;
            if (typeof refusal === 'string' && refusal !== '') {
              refused = true;
              yield { type: 'text', text: refusal };
            }
            const reasoning = reasoningOf(delta);
            if (reasoning) yield { type: 'reasoning', text: reasoning };
            if (Array.isArray(delta.tool_calls)) {
              for (const tc of delta.tool_calls) {
                if (!isObject(tc)) continue;
                const fn = isObject(tc.function) ? tc.function : undefined;
                const id = str(tc.id);
                let index = num(tc.index);
                if (index === undefined) {
                  // No index (a few compatible servers): a new id is a new call, else the last call goes on.
                  const known = id === undefined ? undefined : [...calls].find(([, c]) => c.id === id)?.[0];
                  index = known ?? (id !== undefined || lastIndex < 0 ? lastIndex + 1 : lastIndex);
                }
                let call = calls.get(index);
                if (!call) {
                  call = { id: id ?? '', name: str(fn?.name) ?? '', raw: '' };
                  calls.set(index, call);
                  if (index > lastIndex) lastIndex = index;
                  hadToolCalls = true;
                  yield { type: 'tool-call-start', index, id: call.id, name: call.name };
                }
                const args = fn?.arguments;
                const piece = typeof args === 'string' ? args : args === undefined || args === null ? '' : JSON.stringify(args);
                if (piece !== '') {
                  call.raw += piece;
                  yield { type: 'tool-call-delta', index, argumentsDelta: piece };
                }
              }
            }
          }
          const reason = choice ? str(choice.finish_reason) : undefined;
          if (reason && finishRaw === undefined) {
            finishRaw = reason;
            yield* endToolCalls(calls);
          }
          if (chunk.usage !== undefined && chunk.usage !== null) {
            const usage = readUsage(chunk.usage);
            if (usage) {
              sawUsage = true;
              yield { type: 'usage', usage };
            }
          }
        }
        batch.length = 0;
        if (end) {
          if (ctx.signal.aborted) throw classifyThrown(ctx.signal.reason, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
          const complete = !end.truncated && finishRaw !== undefined && (sawUsage || !usageExpected);
          if (!complete) throw truncatedStreamError({ provider: ctx.provider, model: ctx.model });
          break;
        }
      }
    } finally {
      // Stopped before the body ended ([DONE], an error, the consumer left): release the connection.
      if (!finished) await body.return?.();
    }

    if (!started) {
      const start: StartEvent = { type: 'start' };
      if (rateLimit) start.rateLimit = rateLimit;
      yield start;
    }
    yield* endToolCalls(calls);
    const finish: FinishEvent = { type: 'finish', finishReason: mapFinish(finishRaw, hadToolCalls, refused) };
    const rawFinish = refused ? 'refusal' : finishRaw;
    if (rawFinish !== undefined) finish.rawFinishReason = rawFinish;
    yield finish;
  } catch (error) {
    throw scrubSecrets(error, ctx, secrets);
  }
}

/** The events of a whole answer, for a stream request that got a JSON body. */
function* completionEvents(response: ChatResponse): Generator<StreamEvent> {
  const start: StartEvent = { type: 'start' };
  if (response.id) start.id = response.id;
  if (response.model) start.model = response.model;
  if (response.rateLimit) start.rateLimit = response.rateLimit;
  yield start;
  if (response.reasoning) yield { type: 'reasoning', text: response.reasoning };
  if (response.text) yield { type: 'text', text: response.text };
  for (const [index, c] of response.toolCalls.entries()) {
    yield { type: 'tool-call-start', index, id: c.id, name: c.name };
    if (c.rawArguments) yield { type: 'tool-call-delta', index, argumentsDelta: c.rawArguments };
    yield { type: 'tool-call-end', index, id: c.id, name: c.name, arguments: c.arguments, rawArguments: c.rawArguments };
  }
  if (response.usage) yield { type: 'usage', usage: response.usage };
  const finish: FinishEvent = { type: 'finish', finishReason: response.finishReason };
  if (response.rawFinishReason !== undefined) finish.rawFinishReason = response.rawFinishReason;
  yield finish;
}

function* endToolCalls(calls: Map<number, OpenCall>): Generator<StreamEvent> {
  if (calls.size === 0) return;
  for (const index of [...calls.keys()].sort((a, b) => a - b)) {
    const c = calls.get(index)!;
    yield { type: 'tool-call-end', index, id: c.id, name: c.name, arguments: parseToolArguments(c.raw), rawArguments: c.raw };
  }
  calls.clear();
}

function streamError(ctx: HttpCallContext, data: string, requestId: string | undefined): LlmError {
  let payload: unknown = data;
  try {
    payload = JSON.parse(data);
  } catch {
    // the raw text is classified as the message
  }
  return classifyStreamError(ctx.provider, payload, { model: ctx.model, requestId });
}

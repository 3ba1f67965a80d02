import type { ChatRequest, ContentPart, TextPart, ToolDefinition } from '../llm/chat-request.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../llm/chat-response.js';
import { classifyStreamError, truncatedStreamError } from '../llm/classify.js';
import { LlmError } from '../llm/llm-error.js';
import type { FinishEvent, StreamEvent } from '../llm/stream-events.js';
import { joinUrl, malformedError, ndjsonValues, readJson, send, type HttpCallContext } from './http.js';
import type { ChatProvider, ProviderCall } from './provider.js';
import { fetchTransport, type Transport, type TransportResponse } from './transport.js';
import { providerSecrets, scrubSecrets } from './secret-scrub.js';

/** Where a local Ollama listens when `OLLAMA_HOST` is not set. */
export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';

/** Options of {@link ollama}. */
export interface OllamaOptions {
  /**
   * The server: `http://127.0.0.1:11434` by default. Accepts `OLLAMA_HOST`-style values
   * (`0.0.0.0:11434`, `my-host`, `https://ollama.com`, with or without a trailing `/api`).
   */
  baseURL?: string;
  /** Sent as `Authorization: Bearer …` (ollama.com cloud); a local server needs none. */
  apiKey?: string;
  /** The provider's label in events, metrics and errors. Default `ollama`. */
  name?: string;
  /** Extra request headers (they win over the adapter's own). */
  headers?: Record<string, string>;
  /** How long the model stays loaded after the request (`keep_alive`: `'5m'`, seconds, `-1`, `0`). */
  keepAlive?: string | number;
  /** The HTTP seam; global `fetch` by default. */
  transport?: Transport;
}

/**
 * Turns an `OLLAMA_HOST`-style value into a base URL, as the Ollama CLI reads it: a missing
 * scheme means `http`, a missing port means 11434 for plain host names (80 / 443 when a scheme
 * was given), and a trailing `/api` is dropped (the adapter adds `/api/chat`).
 */
export function normalizeOllamaHost(host: string | undefined): string {
  const raw = (host ?? '').trim();
  if (raw === '') return OLLAMA_DEFAULT_BASE_URL;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `http://${raw}`);
  } catch {
    return raw.replace(/\/+$/, '');
  }
  // `new URL` drops default ports, so an explicit `:80` stays as typed only when a scheme is present.
  if (!hasScheme && url.port === '' && !/:\d+(?:\/|$)/.test(raw)) url.port = '11434';
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

// ---- the wire request -------------------------------------------------------------------------

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface OllamaWireMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  images?: string[];
  tool_calls?: { id?: string; function: { name: string; arguments: Json } }[];
  tool_name?: string;
  tool_call_id?: string;
}

function invalid(message: string, name: string, model: string, code: string): LlmError {
  return new LlmError({ kind: 'invalid_request', message: `${name}: ${message}`, provider: name, model, code });
}

/** Splits content parts into Ollama's one text string and its base64 `images`. */
function splitParts(
  content: string | (ContentPart | TextPart)[] | undefined,
  who: { name: string; model: string },
): { content: string; images: string[] } {
  if (content === undefined) return { content: '', images: [] };
  if (typeof content === 'string') return { content, images: [] };
  const texts: string[] = [];
  const images: string[] = [];
  for (const part of content) {
    if (part.type === 'text') {
      texts.push(part.text);
    } else if ('data' in part) {
      images.push(part.data);
    } else {
      const data = /^data:[^,]*;base64,(.*)$/s.exec(part.url);
      // The native API takes inline base64 only; fetching a remote image is not the adapter's job.
      if (!data) throw invalid('images must be inline (base64 or a data: URL); Ollama cannot fetch image URLs', who.name, who.model, 'unsupported_image_url');
      images.push(data[1]!);
    }
  }
  return { content: texts.join('\n'), images };
}

/** Tool arguments as the object Ollama expects (its Go type is a map). */
function argumentObject(args: unknown, raw: string | undefined): Json {
  if (isObject(args)) return args;
  if (raw !== undefined) {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (isObject(parsed)) return parsed;
    } catch {
      // fall through: an unparseable call is sent without arguments
    }
  }
  return {};
}

function toWireMessages(request: ChatRequest, who: { name: string; model: string }): OllamaWireMessage[] {
  const out: OllamaWireMessage[] = [];
  const toolNames = new Map<string, string>();
  if (request.system !== undefined && request.system !== '') out.push({ role: 'system', content: request.system });
  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
        out.push({ role: 'system', content: message.content });
        break;
      case 'user': {
        const { content, images } = splitParts(message.content, who);
        out.push(images.length > 0 ? { role: 'user', content, images } : { role: 'user', content });
        break;
      }
      case 'assistant': {
        const wire: OllamaWireMessage = { role: 'assistant', content: splitParts(message.content, who).content };
        if (message.toolCalls && message.toolCalls.length > 0) {
          wire.tool_calls = message.toolCalls.map((call) => {
            toolNames.set(call.id, call.name);
            return { id: call.id, function: { name: call.name, arguments: argumentObject(call.arguments, call.rawArguments) } };
          });
        }
        out.push(wire);
        break;
      }
      case 'tool': {
        const { content, images } = splitParts(message.content, who);
        const wire: OllamaWireMessage = { role: 'tool', content, tool_call_id: message.toolCallId };
        const toolName = message.name ?? toolNames.get(message.toolCallId);
        if (toolName !== undefined) wire.tool_name = toolName;
        if (images.length > 0) wire.images = images;
        out.push(wire);
        break;
      }
    }
  }
  return out;
}

function toWireTools(request: ChatRequest): Json[] | undefined {
  const choice = request.toolChoice;
  if (!request.tools || request.tools.length === 0 || choice === 'none') return undefined;
  // Ollama has no tool_choice: a named choice is approximated by offering only that tool;
  // `required` cannot be enforced and is sent as `auto`.
  let tools: ToolDefinition[] = request.tools;
  if (typeof choice === 'object') tools = tools.filter((t) => t.name === choice.name);
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description !== undefined && { description: t.description }), parameters: t.parameters },
  }));
}

/**
 * The `POST /api/chat` body for a request (exported for tests and for the gateway's fast paths).
 * `providerOptions.ollama` (and `providerOptions[name]` for a renamed provider) is merged in last;
 * its `options` object is merged into the generated `options` instead of replacing them. `model`
 * and `stream` always stay the adapter's. Throws an `invalid_request` `LlmError` for content the
 * native API cannot carry (image URLs).
 */
export function toOllamaRequest(
  request: ChatRequest,
  model: string,
  stream: boolean,
  settings: { name?: string; keepAlive?: string | number } = {},
): Json {
  const name = settings.name ?? 'ollama';
  const body: Json = { model, messages: toWireMessages(request, { name, model }), stream };
  const tools = toWireTools(request);
  if (tools && tools.length > 0) body.tools = tools;

  const options: Json = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.topP !== undefined) options.top_p = request.topP;
  if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
  if (request.stop && request.stop.length > 0) options.stop = request.stop;

  const format = request.responseFormat;
  if (format?.type === 'json') body.format = 'json';
  else if (format?.type === 'json_schema') body.format = format.schema;
  if (settings.keepAlive !== undefined) body.keep_alive = settings.keepAlive;

  const extras = [request.providerOptions?.ollama, name === 'ollama' ? undefined : request.providerOptions?.[name]];
  for (const extra of extras) {
    if (!extra) continue;
    const { options: extraOptions, ...rest } = extra;
    Object.assign(body, rest);
    if (isObject(extraOptions)) Object.assign(options, extraOptions);
  }
  if (Object.keys(options).length > 0) body.options = options;
  body.model = model;
  body.stream = stream;
  return body;
}

// ---- the wire response ------------------------------------------------------------------------

interface WireToolCall {
  id?: string;
  name: string;
  arguments: unknown;
  rawArguments: string;
}

/** One `/api/chat` object (a stream line or the whole non-streaming answer), narrowed. */
interface WireChunk {
  model?: string;
  content: string;
  thinking: string;
  toolCalls: WireToolCall[];
  done: boolean;
  doneReason?: string;
  usage?: Usage;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function readToolCall(value: unknown): WireToolCall | undefined {
  if (!isObject(value) || !isObject(value.function) || typeof value.function.name !== 'string') return undefined;
  const args = value.function.arguments;
  let parsed: unknown = args ?? {};
  let raw: string;
  if (typeof args === 'string') {
    // Not what Ollama sends, but some compatible servers pass the JSON text through.
    raw = args;
    try {
      parsed = JSON.parse(args) as unknown;
    } catch {
      parsed = undefined;
    }
  } else {
    raw = JSON.stringify(parsed);
  }
  const call: WireToolCall = { name: value.function.name, arguments: parsed, rawArguments: raw };
  if (typeof value.id === 'string' && value.id !== '') call.id = value.id;
  return call;
}

function readChunk(ctx: Pick<HttpCallContext, 'provider' | 'model'>, value: unknown): WireChunk {
  if (!isObject(value) || typeof value.done !== 'boolean') {
    throw malformedError(ctx, `not an /api/chat object: ${JSON.stringify(value)?.slice(0, 120)}`);
  }
  const message = isObject(value.message) ? value.message : {};
  const toolCalls: WireToolCall[] = [];
  if (Array.isArray(message.tool_calls)) {
    for (const raw of message.tool_calls) {
      const call = readToolCall(raw);
      if (!call) throw malformedError(ctx, `invalid tool call: ${JSON.stringify(raw)?.slice(0, 120)}`);
      toolCalls.push(call);
    }
  }
  const chunk: WireChunk = {
    content: typeof message.content === 'string' ? message.content : '',
    thinking: typeof message.thinking === 'string' ? message.thinking : '',
    toolCalls,
    done: value.done,
  };
  if (typeof value.model === 'string') chunk.model = value.model;
  if (typeof value.done_reason === 'string' && value.done_reason !== '') chunk.doneReason = value.done_reason;
  const input = num(value.prompt_eval_count);
  const output = num(value.eval_count);
  // Ollama omits a zero count (`omitempty`): a fully cached prompt has no prompt_eval_count.
  if (value.done && (input !== undefined || output !== undefined)) {
    chunk.usage = { inputTokens: input ?? 0, outputTokens: output ?? 0, totalTokens: (input ?? 0) + (output ?? 0) };
  }
  return chunk;
}

/** Ollama's `done_reason` (`stop`, `length`, `load`, `unload`, …) as a {@link FinishReason}. */
function toFinishReason(raw: string | undefined, hasToolCalls: boolean): FinishReason {
  // Ollama says `stop` after a tool call; the unified model (like Ollama's own /v1) says tool_calls.
  if (hasToolCalls && (raw === undefined || raw === 'stop')) return 'tool_calls';
  if (raw === undefined || raw === 'stop') return 'stop';
  if (raw === 'length') return 'length';
  return 'other';
}

function newToolCallId(): string {
  return `call_${crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

function combineSignals(call: ProviderCall, request: ChatRequest): AbortSignal {
  if (!request.signal || request.signal === call.signal) return call.signal;
  return AbortSignal.any([call.signal, request.signal]);
}

/**
 * A {@link ChatProvider} for Ollama's native `POST /api/chat` (local servers and ollama.com):
 * NDJSON streaming, tool calls with object arguments, `thinking` as reasoning, `{"error": "…"}`
 * bodies and mid-stream error lines classified into the error kinds. Never retries.
 */
export function ollama(options: OllamaOptions = {}): ChatProvider {
  const name = options.name ?? 'ollama';
  const url = joinUrl(normalizeOllamaHost(options.baseURL), 'api/chat');
  const transport = options.transport ?? fetchTransport;

  const headersFor = (stream: boolean): Record<string, string> => ({
    'content-type': 'application/json',
    accept: stream ? 'application/x-ndjson' : 'application/json',
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    ...options.headers,
  });

  const secrets = providerSecrets(options.apiKey, options.headers);

  const start = (request: ChatRequest, call: ProviderCall, stream: boolean) => {
    const ctx: HttpCallContext = { provider: name, model: call.model, transport, signal: combineSignals(call, request) };
    const body = JSON.stringify(toOllamaRequest(request, call.model, stream, { name, keepAlive: options.keepAlive }));
    return { ctx, response: send(ctx, { url, headers: headersFor(stream), body }) };
  };

  return {
    name,
    protocol: 'ollama',

    async chat(request, call) {
      const { ctx, response } = start(request, call, false);
      try {
        return await answer(ctx, await response, call);
      } catch (error) {
        throw scrubSecrets(error, ctx, secrets);
      }
    },

    stream(request, call): AsyncGenerator<StreamEvent, void, undefined> {
      return events(request, call);
    },
  };

  async function answer(ctx: HttpCallContext, response: TransportResponse, call: ProviderCall): Promise<ChatResponse> {
    const json = await readJson(ctx, response);
    if (isObject(json) && json.error !== undefined) throw classifyStreamError(name, json, { model: call.model });
    const chunk = readChunk(ctx, json);
    const toolCalls: ToolCall[] = chunk.toolCalls.map((c) => ({
      id: c.id ?? newToolCallId(),
      name: c.name,
      arguments: c.arguments,
      rawArguments: c.rawArguments,
    }));
    const result: ChatResponse = { text: chunk.content, toolCalls, finishReason: toFinishReason(chunk.doneReason, toolCalls.length > 0) };
    if (chunk.doneReason !== undefined) result.rawFinishReason = chunk.doneReason;
    if (chunk.usage) result.usage = chunk.usage;
    if (chunk.model !== undefined) result.model = chunk.model;
    if (chunk.thinking) result.reasoning = chunk.thinking;
    return result;
  }

  // One generator from the request to the last event (no delegating wrapper): each event costs one async step.
  async function* events(request: ChatRequest, call: ProviderCall): AsyncGenerator<StreamEvent, void, undefined> {
    const { ctx, response } = start(request, call, true);
    try {
      const values = ndjsonValues(ctx, await response);
      let started = false;
      let toolIndex = 0;
      // Leaving this loop early (an error, a return, the consumer's break) closes `values`, which
      // cancels the body and releases the connection.
      for await (const value of values) {
        if (isObject(value) && value.error !== undefined) throw classifyStreamError(name, value, { model: call.model });
        const chunk = readChunk(ctx, value);
        if (!started) {
          started = true;
          yield chunk.model === undefined ? { type: 'start' } : { type: 'start', model: chunk.model };
        }
        if (chunk.thinking) yield { type: 'reasoning', text: chunk.thinking };
        if (chunk.content) yield { type: 'text', text: chunk.content };
        for (const c of chunk.toolCalls) {
          const index = toolIndex++;
          const id = c.id ?? newToolCallId();
          yield { type: 'tool-call-start', index, id, name: c.name };
          yield { type: 'tool-call-delta', index, argumentsDelta: c.rawArguments };
          yield { type: 'tool-call-end', index, id, name: c.name, arguments: c.arguments, rawArguments: c.rawArguments };
        }
        if (chunk.done) {
          if (chunk.usage) yield { type: 'usage', usage: chunk.usage };
          const finish: FinishEvent = { type: 'finish', finishReason: toFinishReason(chunk.doneReason, toolIndex > 0) };
          if (chunk.doneReason !== undefined) finish.rawFinishReason = chunk.doneReason;
          yield finish;
          // The terminal object: stop here rather than wait on a server that keeps the body open.
          return;
        }
      }
      throw truncatedStreamError({ provider: name, model: call.model });
    } catch (error) {
      throw scrubSecrets(error, ctx, secrets);
    }
  }
}

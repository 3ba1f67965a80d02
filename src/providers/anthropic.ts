import type {
  AssistantMessage,
  AssistantToolCall,
  ChatRequest,
  ContentPart,
  ImagePart,
  ToolChoice,
  ToolMessage,
} from '../llm/chat-request.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../llm/chat-response.js';
import { parseToolArguments } from '../llm/chat-response.js';
import { classifyStreamError, truncatedStreamError } from '../llm/classify.js';
import type { LlmError } from '../llm/llm-error.js';
import { parseRateLimitHeaders } from '../llm/rate-limit-headers.js';
import type { FinishEvent, StartEvent, StreamEvent } from '../llm/stream-events.js';
import { joinUrl, malformedError, parseFrame, readJson, send, sseEvents, type HttpCallContext } from './http.js';
import type { ChatProvider, ProviderCall } from './provider.js';
import { fetchTransport, type Transport, type TransportResponse } from './transport.js';
import { providerSecrets, scrubSecrets } from './secret-scrub.js';

/**
 * An `anthropic-version` header value. `2023-06-01` is the long-standing default; `2026-10-21`
 * (and any later date) rejects `temperature`, `top_p` and `top_k`, so they are not sent.
 */
export type AnthropicVersion = '2023-06-01' | '2026-10-21' | (string & {});

/** Options of {@link anthropic}. */
export interface AnthropicOptions {
  /** Sent as `x-api-key`. Never appears in errors. */
  apiKey?: string;
  /** Default `https://api.anthropic.com` (the adapter appends `/v1/messages`). */
  baseURL?: string;
  /** The provider's label in events, metrics and errors. Default `anthropic`. */
  name?: string;
  /** The `anthropic-version` header. Default `2023-06-01`. */
  version?: AnthropicVersion;
  /** Extra headers on every request (e.g. `anthropic-beta`); they override the defaults. */
  headers?: Record<string, string>;
  /** `max_tokens` when the request sets none (the API requires it). Default {@link ANTHROPIC_DEFAULT_MAX_TOKENS}. */
  defaultMaxTokens?: number;
  /** Default: global `fetch`. */
  transport?: Transport;
  /** Epoch ms that anchors the RFC 3339 reset times of rate-limit headers. Default `Date.now`. */
  now?: () => number;
}

/** The `max_tokens` sent when neither the request nor the options set one. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/** The first API version that rejects sampling parameters. Versions are dates, so they compare as strings. */
const NO_SAMPLING_SINCE = '2026-10-21';
const SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k'] as const;

type Json = Record<string, unknown>;
type Block = { type: string } & Json;
interface WireMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A provider for the Anthropic Messages API (`POST /v1/messages`), streaming and not. It maps the
 * unified request onto the wire (system prompts to `system`, tool results to user turns, same-role
 * turns merged), never retries, and throws every failure as a classified `LlmError`.
 */
export function anthropic(options: AnthropicOptions = {}): ChatProvider {
  const name = options.name ?? 'anthropic';
  const url = joinUrl(options.baseURL ?? 'https://api.anthropic.com', '/v1/messages');
  const version = options.version ?? '2023-06-01';
  const now = options.now ?? Date.now;
  const transport = options.transport ?? fetchTransport;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': version,
    ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
    ...options.headers,
  };
  const settings: BodySettings = {
    name,
    maxTokens: options.defaultMaxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    sampling: version < NO_SAMPLING_SINCE,
  };
  const context = (call: ProviderCall): HttpCallContext => ({ provider: name, model: call.model, transport, signal: call.signal, now });
  const secrets = providerSecrets(options.apiKey, options.headers);
  const fail = (error: unknown, ctx: HttpCallContext): LlmError => scrubSecrets(error, ctx, secrets);

  return {
    name,
    protocol: 'anthropic',

    async chat(request, call) {
      const ctx = context(call);
      try {
        const body = JSON.stringify(toWireRequest(request, call.model, false, settings));
        const response = await send(ctx, { url, headers, body });
        const rateLimit = parseRateLimitHeaders(response.headers, now());
        const result = fromWireMessage(await readJson(ctx, response), ctx, response.headers.get('request-id'));
        if (rateLimit) result.rateLimit = rateLimit;
        return result;
      } catch (error) {
        throw fail(error, ctx);
      }
    },

    async *stream(request, call) {
      const ctx = context(call);
      try {
        const body = JSON.stringify(toWireRequest(request, call.model, true, settings));
        const response = await send(ctx, { url, headers, body });
        yield* streamEvents(ctx, response, now());
      } catch (error) {
        throw fail(error, ctx);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Request

interface BodySettings {
  name: string;
  maxTokens: number;
  /** False from API version 2026-10-21 on: temperature / top_p / top_k are rejected there. */
  sampling: boolean;
}

function toWireRequest(request: ChatRequest, model: string, stream: boolean, settings: BodySettings): Json {
  const system: string[] = request.system ? [request.system] : [];
  const messages: WireMessage[] = [];
  // Anthropic requires alternating roles: consecutive same-role turns (and tool results, which
  // are user turns) are merged into one.
  const push = (role: WireMessage['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
        system.push(message.content);
        break;
      case 'user':
        push('user', contentBlocks(message.content));
        break;
      case 'assistant':
        push('assistant', assistantBlocks(message));
        break;
      case 'tool':
        push('user', [toolResultBlock(message)]);
        break;
    }
  }

  const body: Json = {
    model,
    max_tokens: request.maxTokens ?? settings.maxTokens,
    messages: messages.map(wireMessage),
  };
  if (system.length === 1) body.system = system[0];
  else if (system.length > 1) body.system = system.map((text) => ({ type: 'text', text }));
  if (request.tools?.length) {
    body.tools = request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: tool.parameters,
      ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
    }));
    // tool_choice without tools is a 400.
    if (request.toolChoice !== undefined) body.tool_choice = toolChoice(request.toolChoice);
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.stop?.length) body.stop_sequences = request.stop;
  if (request.responseFormat?.type === 'json_schema') {
    body.output_config = { format: { type: 'json_schema', schema: request.responseFormat.schema } };
  }
  Object.assign(
    body,
    request.providerOptions?.anthropic,
    settings.name === 'anthropic' ? undefined : request.providerOptions?.[settings.name],
  );
  body.model = model;
  if (stream) body.stream = true;
  else delete body.stream;
  if (!settings.sampling) for (const field of SAMPLING_FIELDS) delete body[field];
  return body;
}

/** A wire message; tool results go first in a user turn (the API requires it), a lone text block as a string. */
function wireMessage({ role, content }: WireMessage): Json {
  if (role === 'user') content.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'));
  const only = content.length === 1 ? content[0] : undefined;
  return { role, content: only?.type === 'text' ? only.text : content };
}

function contentBlocks(content: string | readonly ContentPart[]): Block[] {
  if (typeof content === 'string') return textBlocks(content);
  return content.flatMap((part) => (part.type === 'text' ? textBlocks(part.text) : [imageBlock(part)]));
}

/** The API rejects empty text blocks, so empty text is dropped. */
function textBlocks(text: string): Block[] {
  return text === '' ? [] : [{ type: 'text', text }];
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(part: ImagePart): Block {
  if (!('url' in part)) return { type: 'image', source: { type: 'base64', media_type: part.mediaType, data: part.data } };
  const data = DATA_URL.exec(part.url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
  return { type: 'image', source: { type: 'url', url: part.url } };
}

function assistantBlocks(message: AssistantMessage): Block[] {
  const blocks = message.content === undefined ? [] : contentBlocks(message.content);
  for (const call of message.toolCalls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call) });
  }
  return blocks;
}

/** `input` must be a JSON object: the parsed arguments, else the raw JSON if it is one, else `{}`. */
function toolInput(call: AssistantToolCall): Json {
  if (isObject(call.arguments)) return call.arguments;
  const parsed = call.rawArguments === undefined ? undefined : parseToolArguments(call.rawArguments);
  return isObject(parsed) ? parsed : {};
}

function toolResultBlock(message: ToolMessage): Block {
  const block: Block = {
    type: 'tool_result',
    tool_use_id: message.toolCallId,
    content: typeof message.content === 'string' ? message.content : contentBlocks(message.content),
  };
  if (message.isError) block.is_error = true;
  return block;
}

function toolChoice(choice: ToolChoice): Json {
  if (typeof choice === 'object') return { type: 'tool', name: choice.name };
  return { type: choice === 'required' ? 'any' : choice };
}

// ---------------------------------------------------------------------------------------------
// Response

/**
 * `model_context_window_exceeded` is a 200 whose output stopped at the model's window, like
 * `max_tokens`: the partial answer is returned as `length` (raw reason kept), not thrown.
 */
function finishReason(raw: string | undefined): FinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'other'; // pause_turn, and reasons added after this was written
  }
}

/** Total input = uncached + cache writes + cache reads; the cached part is the cache reads. */
function toUsage(wire: Json): Usage {
  const inputTokens =
    count(wire.input_tokens) + count(wire.cache_creation_input_tokens) + count(wire.cache_read_input_tokens);
  const outputTokens = count(wire.output_tokens);
  const usage: Usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  if (typeof wire.cache_read_input_tokens === 'number') usage.cachedInputTokens = wire.cache_read_input_tokens;
  const details = wire.output_tokens_details;
  if (isObject(details) && typeof details.thinking_tokens === 'number') usage.reasoningTokens = details.thinking_tokens;
  return usage;
}

function withFinish(response: { finishReason: FinishReason; rawFinishReason?: string }, raw: string | undefined) {
  response.finishReason = finishReason(raw);
  if (raw !== undefined) response.rawFinishReason = raw;
}

function fromWireMessage(json: unknown, ctx: HttpCallContext, requestId: string | null): ChatResponse {
  if (isObject(json) && json.type === 'error') {
    throw classifyStreamError(ctx.provider, json, { model: ctx.model, requestId: requestId ?? undefined });
  }
  if (!isObject(json) || !Array.isArray(json.content)) throw malformedError(ctx, 'message without a content array');
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const block of json.content) {
    if (!isObject(block)) continue;
    if (block.type === 'text') text += str(block.text) ?? '';
    else if (block.type === 'thinking') reasoning += str(block.thinking) ?? '';
    else if (block.type === 'tool_use') {
      const input = isObject(block.input) ? block.input : {};
      toolCalls.push({ id: str(block.id) ?? '', name: str(block.name) ?? '', arguments: input, rawArguments: JSON.stringify(input) });
    }
    // redacted_thinking, server tool blocks and future block types carry nothing for the unified model.
  }
  const response: ChatResponse = { text, toolCalls, finishReason: 'other' };
  withFinish(response, str(json.stop_reason));
  if (isObject(json.usage)) response.usage = toUsage(json.usage);
  if (typeof json.id === 'string') response.id = json.id;
  if (typeof json.model === 'string') response.model = json.model;
  if (reasoning) response.reasoning = reasoning;
  return response;
}

interface OpenToolCall {
  id: string;
  name: string;
  raw: string;
  /** The `input` of `content_block_start`, used when no `input_json_delta` follows. */
  initial: unknown;
}

/**
 * The stream's events. `finish` is emitted only on `message_stop` (the terminal event); a body
 * that ends before it is a truncated stream. Tool calls are keyed by content block index.
 */
async function* streamEvents(
  ctx: HttpCallContext,
  response: TransportResponse,
  now: number,
): AsyncGenerator<StreamEvent, void> {
  const requestId = response.headers.get('request-id') ?? undefined;
  const rateLimit = parseRateLimitHeaders(response.headers, now);
  const tools = new Map<number, OpenToolCall>();
  const usage: Json = {};
  let stopReason: string | undefined;

  for await (const sse of sseEvents(ctx, response)) {
    // A body already buffered must not outlive the caller's abort.
    ctx.signal.throwIfAborted();
    if (sse.event === 'ping') continue;
    const frame = parseFrame(ctx, sse.data);
    if (!isObject(frame)) throw malformedError(ctx, `stream frame is not an object: ${sse.data.slice(0, 120)}`);
    const index = count(frame.index);
    switch (frame.type ?? sse.event) {
      case 'message_start': {
        const message = isObject(frame.message) ? frame.message : {};
        const start: StartEvent = { type: 'start' };
        if (typeof message.id === 'string') start.id = message.id;
        if (typeof message.model === 'string') start.model = message.model;
        if (rateLimit) start.rateLimit = rateLimit;
        yield start;
        if (isObject(message.usage)) {
          Object.assign(usage, message.usage);
          yield { type: 'usage', usage: toUsage(usage) };
        }
        break;
      }
      case 'content_block_start': {
        const block = isObject(frame.content_block) ? frame.content_block : {};
        if (block.type === 'tool_use') {
          const call = { id: str(block.id) ?? '', name: str(block.name) ?? '', raw: '', initial: block.input };
          tools.set(index, call);
          yield { type: 'tool-call-start', index, id: call.id, name: call.name };
        } else {
          // A block may open with content (usually empty).
          const text = block.type === 'text' ? str(block.text) : undefined;
          const thinking = block.type === 'thinking' ? str(block.thinking) : undefined;
          if (text) yield { type: 'text', text };
          if (thinking) yield { type: 'reasoning', text: thinking };
        }
        break;
      }
      case 'content_block_delta': {
        const delta = isObject(frame.delta) ? frame.delta : {};
        if (delta.type === 'text_delta') {
          const text = str(delta.text);
          if (text) yield { type: 'text', text };
        } else if (delta.type === 'thinking_delta') {
          const text = str(delta.thinking);
          if (text) yield { type: 'reasoning', text };
        } else if (delta.type === 'input_json_delta') {
          const call = tools.get(index);
          const json = str(delta.partial_json);
          if (call && json) {
            call.raw += json;
            yield { type: 'tool-call-delta', index, argumentsDelta: json };
          }
        }
        // signature_delta, citations_delta and future deltas carry nothing for the unified model.
        break;
      }
      case 'content_block_stop': {
        const call = tools.get(index);
        if (call) {
          tools.delete(index);
          const raw = call.raw !== '' ? call.raw : JSON.stringify(isObject(call.initial) ? call.initial : {});
          yield { type: 'tool-call-end', index, id: call.id, name: call.name, arguments: parseToolArguments(raw), rawArguments: raw };
        }
        break;
      }
      case 'message_delta': {
        const delta = isObject(frame.delta) ? frame.delta : {};
        stopReason = str(delta.stop_reason) ?? stopReason;
        if (isObject(frame.usage)) {
          // Cumulative totals: overwrite, never add; absent or null fields keep earlier values.
          for (const [key, value] of Object.entries(frame.usage)) if (value != null) usage[key] = value;
          yield { type: 'usage', usage: toUsage(usage) };
        }
        break;
      }
      case 'message_stop': {
        const finish: FinishEvent = { type: 'finish', finishReason: 'other' };
        withFinish(finish, stopReason);
        yield finish;
        return;
      }
      case 'error':
        throw classifyStreamError(ctx.provider, frame, { model: ctx.model, requestId });
      default:
        break; // unknown events are ignored, as the API's versioning policy asks
    }
  }
  throw truncatedStreamError({ provider: ctx.provider, model: ctx.model });
}

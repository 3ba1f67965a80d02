import type { ChatRequest, ContentPart, ImagePart, ToolChoice, AssistantToolCall } from '../llm/chat-request.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../llm/chat-response.js';
import { classifyStreamError, truncatedStreamError } from '../llm/classify.js';
import { LlmError } from '../llm/llm-error.js';
import { parseRateLimitHeaders } from '../llm/rate-limit-headers.js';
import type { ReasoningEvent, StartEvent, StreamEvent, TextEvent } from '../llm/stream-events.js';
import { joinUrl, malformedError, parseFrame, readJson, send, sseEvents, type HttpCallContext } from './http.js';
import type { ChatProvider, ProviderCall } from './provider.js';
import { fetchTransport, type Transport } from './transport.js';
import { providerSecrets, scrubSecrets } from './secret-scrub.js';

/** The Gemini API's public endpoint, API version included. */
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

/**
 * Google's documented sentinel for a replayed `functionCall` whose `thoughtSignature` is unknown.
 * Gemini 3 rejects replayed calls without a signature (HTTP 400), and the unified model has no
 * field to carry the real one across turns.
 */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

/** Options of {@link gemini}. */
export interface GeminiOptions {
  /** Sent in the `x-goog-api-key` header (never in the URL). Surrounding whitespace is trimmed. */
  apiKey?: string;
  /** Defaults to {@link GEMINI_BASE_URL}; must include the API version (`…/v1beta`). */
  baseURL?: string;
  /** The provider's label in errors, events and metrics. Defaults to `gemini`. */
  name?: string;
  /** Extra request headers (a proxy's auth, tracing). */
  headers?: Record<string, string>;
  transport?: Transport;
  /** Epoch ms, for anchoring absolute times in response headers. Defaults to `Date.now`. */
  now?: () => number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const HEADER_SAFE = /^[\x21-\x7e]*$/;

/**
 * A {@link ChatProvider} for Google's Gemini API (`generateContent` and
 * `streamGenerateContent?alt=sse`), on `fetch`, without the SDK.
 *
 * Mapping decisions worth knowing:
 * - `system` and every system message (wherever it stands) become `systemInstruction`.
 * - Tool results are `functionResponse` parts of a `user` turn; consecutive tool messages share
 *   one turn (Gemini wants all answers to parallel calls together). A string result is sent as
 *   `{ content }`, a failed one (`isError`) as `{ error }`. Images in a result follow as parts.
 * - Tool schemas go out as `parametersJsonSchema` and JSON-schema response formats as
 *   `responseJsonSchema`: both take plain JSON Schema, where `parameters` / `responseSchema`
 *   reject common keywords such as `additionalProperties`.
 * - Replayed tool calls carry {@link SKIP_THOUGHT_SIGNATURE} on the first call of each turn.
 * - `providerOptions.gemini` is merged into the body; object values are merged one level deep, so
 *   `{ generationConfig: { thinkingConfig: { includeThoughts: true } } }` keeps `maxOutputTokens`.
 *   A value of `undefined` removes a field the adapter set.
 * - Only the first candidate is read.
 * - Finish reasons: `STOP` → `stop` (`tool_calls` when the answer has function calls),
 *   `MAX_TOKENS` → `length`; `SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`
 *   and the `IMAGE_*` safety reasons → `content_filter`; `MALFORMED_FUNCTION_CALL`,
 *   `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`, `MALFORMED_RESPONSE` → `error`; anything else
 *   (`OTHER`, `LANGUAGE`, `NO_IMAGE`, …) → `other`. A blocked prompt (`promptFeedback.blockReason`,
 *   no candidates) is an empty answer with `content_filter` and the block reason as the raw reason.
 * - Usage: input = `promptTokenCount` + `toolUsePromptTokenCount`, output = `candidatesTokenCount`
 *   + `thoughtsTokenCount` (reasoning), cached = `cachedContentTokenCount`.
 * - Calls without an `id` get a generated `call_…` id.
 */
export function gemini(options: GeminiOptions = {}): ChatProvider {
  const name = options.name ?? 'gemini';
  const base = options.baseURL ?? GEMINI_BASE_URL;
  const transport = options.transport ?? fetchTransport;
  const now = options.now ?? Date.now;
  const apiKey = options.apiKey?.trim();

  const context = (call: ProviderCall): HttpCallContext => ({ provider: name, model: call.model, transport, signal: call.signal, now });
  // An upstream message may quote the key or a header in a shape `redactSecrets` cannot know.
  const secrets = providerSecrets(apiKey, options.headers);
  const fail = (error: unknown, ctx: HttpCallContext): LlmError => scrubSecrets(error, ctx, secrets);

  const prepare = (request: ChatRequest, call: ProviderCall, method: string) => {
    // fetch would reject such a key with an error message that quotes it.
    if (apiKey !== undefined && !HEADER_SAFE.test(apiKey)) {
      throw new LlmError({
        kind: 'auth',
        message: `${name}: the API key contains characters not allowed in an HTTP header`,
        provider: name,
        model: call.model,
      });
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (apiKey) headers['x-goog-api-key'] = apiKey;
    const model = call.model.includes('/') ? call.model : `models/${call.model}`;
    return {
      url: joinUrl(base, `${model}:${method}`),
      headers,
      body: JSON.stringify(toGeminiRequest(request, (message) => invalidRequest(name, call.model, message))),
    };
  };

  return {
    name,
    protocol: 'gemini',

    async chat(request, call) {
      const ctx = context(call);
      try {
        return await chatOnce(request, call, ctx);
      } catch (error) {
        throw fail(error, ctx);
      }
    },

    async *stream(request, call) {
      const ctx = context(call);
      try {
        yield* streamOnce(request, call, ctx);
      } catch (error) {
        throw fail(error, ctx);
      }
    },
  };

  async function chatOnce(request: ChatRequest, call: ProviderCall, ctx: HttpCallContext): Promise<ChatResponse> {
    const response = await send(ctx, prepare(request, call, 'generateContent'));
    const json = await readJson(ctx, response);
    if (isObject(json) && isObject(json.error)) throw classifyStreamError(name, json, { model: call.model });
    const chunk = readChunk(ctx, json);
    if (!chunk.candidate && chunk.blockReason === undefined) {
      throw malformedError(ctx, 'response has neither candidates nor promptFeedback.blockReason');
    }
    let text = '';
    let reasoning = '';
    const toolCalls: ToolCall[] = [];
    for (const part of chunk.parts) {
      if (part.type === 'text') text += part.text;
      else if (part.type === 'reasoning') reasoning += part.text;
      else toolCalls.push({ id: part.id ?? newCallId(), name: part.name, arguments: part.args, rawArguments: JSON.stringify(part.args) });
    }
    const result: ChatResponse = { text, toolCalls, ...finishOf(chunk.finishReason, chunk.blockReason, toolCalls.length > 0) };
    if (chunk.usage) result.usage = chunk.usage;
    if (chunk.id !== undefined) result.id = chunk.id;
    if (chunk.model !== undefined) result.model = chunk.model;
    const rateLimit = parseRateLimitHeaders(response.headers, now());
    if (rateLimit) result.rateLimit = rateLimit;
    if (reasoning) result.reasoning = reasoning;
    return result;
  }

  async function* streamOnce(request: ChatRequest, call: ProviderCall, ctx: HttpCallContext): AsyncGenerator<StreamEvent> {
    const response = await send(ctx, prepare(request, call, 'streamGenerateContent?alt=sse'));
    const rateLimit = parseRateLimitHeaders(response.headers, now());
    const events = sseEvents(ctx, response);
    let started = false;
    let calls = 0;
    let finishReason: string | undefined;
    let blockReason: string | undefined;
    let usage: Usage | undefined;
    try {
      for (;;) {
        const next = await events.next();
        if (next.done) {
          if (next.value.truncated || (finishReason === undefined && blockReason === undefined)) {
            throw truncatedStreamError({ provider: name, model: call.model });
          }
          break;
        }
        const frame = parseFrame(ctx, next.value.data);
        if (isObject(frame) && isObject(frame.error)) throw classifyStreamError(name, frame, { model: call.model });
        const chunk = readChunk(ctx, frame);
        if (!started) {
          started = true;
          const start: StartEvent = { type: 'start' };
          if (chunk.id !== undefined) start.id = chunk.id;
          if (chunk.model !== undefined) start.model = chunk.model;
          if (rateLimit) start.rateLimit = rateLimit;
          yield start;
        }
        for (const part of chunk.parts) {
          if (part.type !== 'call') {
            if (part.text) yield part;
            continue;
          }
          // Gemini sends each function call whole, in one part.
          const index = calls++;
          const id = part.id ?? newCallId();
          const raw = JSON.stringify(part.args);
          yield { type: 'tool-call-start', index, id, name: part.name };
          yield { type: 'tool-call-delta', index, argumentsDelta: raw };
          yield { type: 'tool-call-end', index, id, name: part.name, arguments: part.args, rawArguments: raw };
        }
        usage = chunk.usage ?? usage; // running totals: the latest wins
        finishReason = chunk.finishReason ?? finishReason;
        blockReason = chunk.blockReason ?? blockReason;
      }
    } finally {
      await events.return({ truncated: false });
    }
    if (usage) yield { type: 'usage', usage };
    yield { type: 'finish', ...finishOf(finishReason, blockReason, calls > 0) };
  }
}

// ---------------------------------------------------------------------------------------------
// Request

type GeminiPart = Json;
interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** Builds the `generateContent` body. `fail` makes the error for a request Gemini cannot express. */
function toGeminiRequest(request: ChatRequest, fail: (message: string) => LlmError): Json {
  const system: GeminiPart[] = request.system ? [{ text: request.system }] : [];
  const contents: GeminiContent[] = [];
  const callNames = new Map<string, string>();
  let toolTurn: GeminiContent | undefined;

  for (const message of request.messages) {
    if (message.role === 'tool') {
      const name = message.name ?? callNames.get(message.toolCallId);
      if (name === undefined) {
        throw fail(`tool result ${JSON.stringify(message.toolCallId)} has no name and answers no earlier tool call`);
      }
      const text = typeof message.content === 'string' ? message.content : textOf(message.content);
      const parts: GeminiPart[] = [
        { functionResponse: { name, response: message.isError ? { error: text } : { content: text } } },
      ];
      if (typeof message.content !== 'string') {
        for (const part of message.content) if (part.type === 'image') parts.push(imagePart(part));
      }
      if (toolTurn) toolTurn.parts.push(...parts);
      else contents.push((toolTurn = { role: 'user', parts }));
      continue;
    }
    toolTurn = undefined;
    switch (message.role) {
      case 'system':
        if (message.content) system.push({ text: message.content });
        break;
      case 'user':
        contents.push({
          role: 'user',
          parts: typeof message.content === 'string' ? [{ text: message.content }] : message.content.map(contentPart),
        });
        break;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = typeof message.content === 'string' ? message.content : textOf(message.content ?? []);
        if (text) parts.push({ text });
        for (const [i, call] of (message.toolCalls ?? []).entries()) {
          callNames.set(call.id, call.name);
          const part: GeminiPart = { functionCall: { name: call.name, args: argsObject(call) } };
          if (i === 0) part.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
          parts.push(part);
        }
        // Gemini rejects a turn without parts; an empty assistant turn says nothing anyway.
        if (parts.length > 0) contents.push({ role: 'model', parts });
        break;
      }
    }
  }

  const body: Json = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (request.tools && request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((tool) => {
          const declaration: Json = { name: tool.name, parametersJsonSchema: tool.parameters };
          if (tool.description !== undefined) declaration.description = tool.description;
          return declaration;
        }),
      },
    ];
    if (request.toolChoice !== undefined) body.toolConfig = { functionCallingConfig: callingConfig(request.toolChoice) };
  }

  const config: Json = {};
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.topP !== undefined) config.topP = request.topP;
  if (request.maxTokens !== undefined) config.maxOutputTokens = request.maxTokens;
  if (request.stop && request.stop.length > 0) config.stopSequences = request.stop;
  const format = request.responseFormat;
  if (format && format.type !== 'text') {
    config.responseMimeType = 'application/json';
    if (format.type === 'json_schema') config.responseJsonSchema = format.schema;
  }
  if (Object.keys(config).length > 0) body.generationConfig = config;

  for (const [key, value] of Object.entries(request.providerOptions?.gemini ?? {})) {
    const current = body[key];
    body[key] = isObject(current) && isObject(value) ? { ...current, ...value } : value;
  }
  return body;
}

function callingConfig(choice: ToolChoice): Json {
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required') return { mode: 'ANY' };
  return { mode: 'ANY', allowedFunctionNames: [choice.name] };
}

function contentPart(part: ContentPart): GeminiPart {
  return part.type === 'text' ? { text: part.text } : imagePart(part);
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;
const IMAGE_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

function imagePart(part: ImagePart): GeminiPart {
  if (!('url' in part)) return { inlineData: { mimeType: part.mediaType, data: part.data } };
  const data = DATA_URL.exec(part.url);
  if (data) return { inlineData: { mimeType: data[1], data: data[2] } };
  const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(part.url)?.[1]?.toLowerCase();
  const mimeType = extension === undefined ? undefined : IMAGE_TYPES[extension];
  return { fileData: mimeType ? { mimeType, fileUri: part.url } : { fileUri: part.url } };
}

function textOf(parts: readonly ContentPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** Gemini's `args` must be an object: take the parsed arguments, else the raw JSON, else `{}`. */
function argsObject(call: AssistantToolCall): Json {
  if (isObject(call.arguments)) return call.arguments;
  if (call.rawArguments !== undefined) {
    try {
      const parsed: unknown = JSON.parse(call.rawArguments);
      if (isObject(parsed)) return parsed;
    } catch {
      // fall through: an unparseable replay is sent without arguments
    }
  }
  return {};
}

function invalidRequest(provider: string, model: string, message: string): LlmError {
  return new LlmError({ kind: 'invalid_request', message: `${provider}: ${message}`, provider, model });
}

// ---------------------------------------------------------------------------------------------
// Response

interface CallPart {
  type: 'call';
  id?: string;
  name: string;
  args: Json;
}
type ChunkPart = TextEvent | ReasoningEvent | CallPart;

interface Chunk {
  /** The parts of the first candidate, in order. */
  parts: ChunkPart[];
  candidate: boolean;
  finishReason?: string;
  blockReason?: string;
  usage?: Usage;
  id?: string;
  model?: string;
}

/** Reads one `GenerateContentResponse` (a whole answer, or one stream chunk). */
function readChunk(ctx: Pick<HttpCallContext, 'provider' | 'model'>, json: unknown): Chunk {
  if (!isObject(json)) throw malformedError(ctx, 'response is not a JSON object');
  const chunk: Chunk = { parts: [], candidate: false };
  const candidate: unknown = Array.isArray(json.candidates) ? json.candidates[0] : undefined;
  if (isObject(candidate)) {
    chunk.candidate = true;
    chunk.finishReason = str(candidate.finishReason);
    const parts: unknown = isObject(candidate.content) ? candidate.content.parts : undefined;
    for (const part of Array.isArray(parts) ? parts : []) {
      if (!isObject(part)) continue;
      if (typeof part.text === 'string') {
        chunk.parts.push(part.thought === true ? { type: 'reasoning', text: part.text } : { type: 'text', text: part.text });
      } else if (isObject(part.functionCall)) {
        const { name, args, id } = part.functionCall;
        if (typeof name !== 'string' || name === '') throw malformedError(ctx, 'functionCall without a name');
        const call: CallPart = { type: 'call', name, args: isObject(args) ? args : {} };
        if (typeof id === 'string' && id !== '') call.id = id;
        chunk.parts.push(call);
      }
      // Other parts (inlineData, executableCode, …) have no place in the unified model.
    }
  }
  if (isObject(json.promptFeedback)) chunk.blockReason = str(json.promptFeedback.blockReason);
  chunk.usage = readUsage(json.usageMetadata);
  chunk.id = str(json.responseId);
  chunk.model = str(json.modelVersion);
  return chunk;
}

function readUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const input = count(u.promptTokenCount) + count(u.toolUsePromptTokenCount);
  const output = count(u.candidatesTokenCount) + count(u.thoughtsTokenCount);
  const usage: Usage = {
    inputTokens: input,
    outputTokens: output,
    totalTokens: typeof u.totalTokenCount === 'number' ? u.totalTokenCount : input + output,
  };
  if (typeof u.cachedContentTokenCount === 'number') usage.cachedInputTokens = u.cachedContentTokenCount;
  if (typeof u.thoughtsTokenCount === 'number') usage.reasoningTokens = u.thoughtsTokenCount;
  return usage;
}

const CONTENT_FILTER_REASONS = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);
const ERROR_REASONS = new Set(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS', 'MALFORMED_RESPONSE']);

function finishOf(
  raw: string | undefined,
  blockReason: string | undefined,
  hasToolCalls: boolean,
): { finishReason: FinishReason; rawFinishReason?: string } {
  if (raw === undefined) {
    return blockReason === undefined
      ? { finishReason: 'other' }
      : { finishReason: 'content_filter', rawFinishReason: blockReason };
  }
  let finishReason: FinishReason;
  if (raw === 'STOP') finishReason = hasToolCalls ? 'tool_calls' : 'stop';
  else if (raw === 'MAX_TOKENS') finishReason = 'length';
  else if (CONTENT_FILTER_REASONS.has(raw)) finishReason = 'content_filter';
  else if (ERROR_REASONS.has(raw)) finishReason = 'error';
  else finishReason = 'other';
  return { finishReason, rawFinishReason: raw };
}

function newCallId(): string {
  return `call_${globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

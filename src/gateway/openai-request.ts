import type {
  AssistantMessage,
  AssistantToolCall,
  ChatRequest,
  ContentPart,
  ImageDetail,
  Message,
  ResponseFormat,
  TextPart,
  ToolChoice,
  ToolDefinition,
} from '../llm/chat-request.js';
import { parseToolArguments } from '../llm/chat-response.js';

/** A field of the request body that is missing or wrong; the gateway answers 400 naming `param`. */
export class RequestFieldError extends Error {
  constructor(
    /** The field, as OpenAI names it: `messages[1].content`, `temperature`. */
    readonly param: string,
    message: string,
    /** OpenAI's error code: `missing_required_parameter`, `invalid_type`, `invalid_value`, `empty_array`, `unsupported_parameter`. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'RequestFieldError';
  }
}

/** A parsed chat completion request. */
export interface ParsedChatRequest {
  /** The `model` the client asked for (a route or a target name). */
  model: string;
  stream: boolean;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
  request: ChatRequest;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Sampling and output fields every OpenAI-protocol target understands; passed to them as they came.
const OPENAI_PASSTHROUGH = [
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'user',
  'parallel_tool_calls',
  'reasoning_effort',
  'service_tier',
  'store',
  'prediction',
  'verbosity',
  'safety_identifier',
  'prompt_cache_key',
] as const;

/** The type of a JSON value with its article: `an object`, `a string`, `null`. */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

const invalidType = (param: string, expected: string, value: unknown) =>
  new RequestFieldError(param, `Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`, 'invalid_type');
const invalidValue = (param: string, expected: string, value: unknown) =>
  new RequestFieldError(param, `Invalid value for '${param}': expected ${expected}, but got ${JSON.stringify(value)?.slice(0, 80)} instead.`, 'invalid_value');
const missing = (param: string) => new RequestFieldError(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter');

/** `value[key]`, named `param`; absent is `missing_required_parameter`. */
function required(value: Json, key: string, param: string): unknown {
  const field = value[key];
  if (field === undefined) throw missing(param);
  return field;
}

/** A required string field. */
const requiredText = (value: Json, key: string, param: string): string => text(required(value, key, param), param);

/** A required object field; `expected` describes it in the invalid-type message. */
function requiredObject(value: Json, key: string, param: string, expected = 'an object'): Json {
  const field = required(value, key, param);
  if (!isObject(field)) throw invalidType(param, expected, field);
  return field;
}

function optionalNumber(body: Json, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidType(key, 'a number', value);
  if (value < min || value > max) throw invalidValue(key, `a number from ${min} to ${max}`, value);
  return value;
}

function optionalCount(body: Json, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(key, 'an integer', value);
  if (value < 1) throw invalidValue(key, 'an integer >= 1', value);
  return value;
}

/**
 * Reads an OpenAI Chat Completions body into a provider-agnostic {@link ChatRequest}. Throws a
 * {@link RequestFieldError} naming the first field that is missing or wrong.
 */
export function parseChatCompletionBody(body: unknown): ParsedChatRequest {
  if (!isObject(body)) throw new RequestFieldError('', `The request body must be a JSON object, but got ${typeName(body)} instead.`, 'invalid_type');
  const model = body.model;
  if (model === undefined || model === null) throw missing('model');
  if (typeof model !== 'string') throw invalidType('model', 'a string', model);
  if (model === '') throw invalidValue('model', 'a non-empty string', model);

  if (body.messages === undefined || body.messages === null) throw missing('messages');
  if (!Array.isArray(body.messages)) throw invalidType('messages', 'an array', body.messages);
  if (body.messages.length === 0) {
    throw new RequestFieldError('messages', "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'empty_array');
  }
  const messages = body.messages.map((m, i) => parseMessage(m, `messages[${i}]`));

  const stream = body.stream ?? false;
  if (stream !== null && typeof stream !== 'boolean') throw invalidType('stream', 'a boolean', stream);
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!isObject(body.stream_options)) throw invalidType('stream_options', 'an object', body.stream_options);
    const flag = body.stream_options.include_usage;
    if (flag !== undefined && typeof flag !== 'boolean') throw invalidType('stream_options.include_usage', 'a boolean', flag);
    includeUsage = flag === true;
  }

  const n = body.n;
  if (n !== undefined && n !== null && n !== 1) throw invalidValue('n', '1 (one choice per request)', n);
  checkNoLogprobs(body);

  const request: ChatRequest = { messages };
  const temperature = optionalNumber(body, 'temperature', 0, 2);
  if (temperature !== undefined) request.temperature = temperature;
  const topP = optionalNumber(body, 'top_p', 0, 1);
  if (topP !== undefined) request.topP = topP;
  // Both are checked; the newer name wins when both are sent.
  const maxCompletionTokens = optionalCount(body, 'max_completion_tokens');
  const legacyMaxTokens = optionalCount(body, 'max_tokens');
  const maxTokens = maxCompletionTokens ?? legacyMaxTokens;
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  const stop = parseStop(body.stop);
  if (stop) request.stop = stop;
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalidType('tools', 'an array', body.tools);
    if (body.tools.length > 0) request.tools = body.tools.map((t, i) => parseTool(t, `tools[${i}]`));
  }
  if (body.tool_choice !== undefined && body.tool_choice !== null) request.toolChoice = parseToolChoice(body.tool_choice);
  if (body.response_format !== undefined && body.response_format !== null) request.responseFormat = parseResponseFormat(body.response_format);
  if (body.metadata !== undefined && body.metadata !== null) request.metadata = parseMetadata(body.metadata);
  let extra: Json | undefined;
  for (const key of OPENAI_PASSTHROUGH) {
    if (body[key] !== undefined) (extra ??= {})[key] = body[key];
  }
  if (extra) request.providerOptions = { openai: extra };
  return { model, stream: stream === true, includeUsage, request };
}

/**
 * `logprobs: true` and `top_logprobs` are refused: the unified response has no place for log
 * probabilities (and only OpenAI-protocol targets could give them), so the answer would say
 * `"logprobs": null` after the upstream was paid for them. `logprobs: false` asks for nothing.
 */
function checkNoLogprobs(body: Json): void {
  const unsupported = (param: string) =>
    new RequestFieldError(param, `Unsupported parameter: '${param}'. This gateway does not return log probabilities; remove '${param}' from the request.`, 'unsupported_parameter');
  const logprobs = body.logprobs;
  if (logprobs !== undefined && logprobs !== null && typeof logprobs !== 'boolean') throw invalidType('logprobs', 'a boolean', logprobs);
  if (logprobs === true) throw unsupported('logprobs');
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) throw unsupported('top_logprobs');
}

/** `metadata`: string values only; a wrong value is named by its key. */
function parseMetadata(value: unknown): Record<string, string> {
  if (!isObject(value)) throw invalidType('metadata', 'an object of string values', value);
  for (const [key, field] of Object.entries(value)) {
    if (typeof field !== 'string') throw invalidType(`metadata.${key.length > 64 ? `${key.slice(0, 64)}…` : key}`, 'a string', field);
  }
  return value as Record<string, string>;
}

function parseStop(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) throw invalidType('stop', 'a string or an array of strings', value);
  if (value.length > 4) throw invalidValue('stop', 'at most 4 sequences', value);
  return value.length ? (value as string[]) : undefined;
}

function text(value: unknown, param: string): string {
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  return value;
}

function parseMessage(value: unknown, at: string): Message {
  if (!isObject(value)) throw invalidType(at, 'an object', value);
  const role = value.role;
  if (role === undefined) throw missing(`${at}.role`);
  switch (role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textContent(value.content, `${at}.content`) };
    case 'user': {
      const content = value.content;
      if (content === undefined || content === null) throw missing(`${at}.content`);
      if (typeof content === 'string') return { role: 'user', content };
      if (!Array.isArray(content)) throw invalidType(`${at}.content`, 'a string or an array of content parts', content);
      return { role: 'user', content: content.map((p, i) => parsePart(p, `${at}.content[${i}]`)) };
    }
    case 'assistant':
      return parseAssistant(value, at);
    case 'tool': {
      const id = value.tool_call_id;
      if (id === undefined) throw missing(`${at}.tool_call_id`);
      const message: Message = { role: 'tool', toolCallId: text(id, `${at}.tool_call_id`), content: toolContent(value.content, `${at}.content`) };
      if (typeof value.name === 'string') message.name = value.name;
      return message;
    }
    default:
      throw invalidValue(`${at}.role`, "one of 'system', 'developer', 'user', 'assistant', 'tool'", role);
  }
}

/** System text: a string or text parts, joined. */
function textContent(content: unknown, at: string): string {
  if (content === undefined || content === null) throw missing(at);
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidType(at, 'a string or an array of text parts', content);
  return content.map((p, i) => textPart(p, `${at}[${i}]`).text).join('');
}

function textPart(part: unknown, at: string): TextPart {
  if (!isObject(part)) throw invalidType(at, 'an object', part);
  if (required(part, 'type', `${at}.type`) !== 'text') throw invalidValue(`${at}.type`, "'text'", part.type);
  return { type: 'text', text: requiredText(part, 'text', `${at}.text`) };
}

function toolContent(content: unknown, at: string): string | ContentPart[] {
  if (content === undefined || content === null) throw missing(at);
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidType(at, 'a string or an array of content parts', content);
  return content.map((p, i) => parsePart(p, `${at}[${i}]`));
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function parsePart(part: unknown, at: string): ContentPart {
  if (!isObject(part)) throw invalidType(at, 'an object', part);
  switch (required(part, 'type', `${at}.type`)) {
    case 'text':
      return { type: 'text', text: requiredText(part, 'text', `${at}.text`) };
    case 'image_url': {
      const image = requiredObject(part, 'image_url', `${at}.image_url`, 'an object with a url');
      const url = requiredText(image, 'url', `${at}.image_url.url`);
      const detail = image.detail;
      if (detail !== undefined && detail !== 'auto' && detail !== 'low' && detail !== 'high') {
        throw invalidValue(`${at}.image_url.detail`, "one of 'auto', 'low', 'high'", detail);
      }
      // Inline images are kept as bytes so every protocol can send them (not all take data URLs).
      const data = DATA_URL.exec(url);
      const base = data ? { type: 'image' as const, data: data[2]!, mediaType: data[1]! } : { type: 'image' as const, url };
      return detail ? { ...base, detail: detail as ImageDetail } : base;
    }
    default:
      throw invalidValue(`${at}.type`, "'text' or 'image_url' (audio and file parts are not supported)", part.type);
  }
}

function parseAssistant(value: Json, at: string): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant' };
  const content = value.content;
  if (typeof content === 'string') message.content = content;
  else if (Array.isArray(content)) {
    message.content = content
      .map((p, i) => {
        // Earlier refusals come back as `refusal` parts: keep their text.
        if (isObject(p) && p.type === 'refusal') return { type: 'text' as const, text: requiredText(p, 'refusal', `${at}.content[${i}].refusal`) };
        return textPart(p, `${at}.content[${i}]`);
      })
      .filter((p) => p.text !== '');
  } else if (content !== undefined && content !== null) throw invalidType(`${at}.content`, 'a string, an array of text parts or null', content);
  const calls = value.tool_calls;
  if (calls !== undefined && calls !== null) {
    if (!Array.isArray(calls)) throw invalidType(`${at}.tool_calls`, 'an array', calls);
    if (calls.length) message.toolCalls = calls.map((c, i) => parseToolCall(c, `${at}.tool_calls[${i}]`));
  }
  if (message.content === undefined && !message.toolCalls) {
    throw new RequestFieldError(`${at}.content`, `Missing required parameter: '${at}.content' (or '${at}.tool_calls').`, 'missing_required_parameter');
  }
  return message;
}

function parseToolCall(value: unknown, at: string): AssistantToolCall {
  if (!isObject(value)) throw invalidType(at, 'an object', value);
  const id = requiredText(value, 'id', `${at}.id`);
  const fn = requiredObject(value, 'function', `${at}.function`);
  const name = requiredText(fn, 'name', `${at}.function.name`);
  const raw = fn.arguments === undefined ? '' : text(fn.arguments, `${at}.function.arguments`);
  return {
    id,
    name,
    arguments: parseToolArguments(raw) ?? raw,
    rawArguments: raw,
  };
}

function parseTool(value: unknown, at: string): ToolDefinition {
  if (!isObject(value)) throw invalidType(at, 'an object', value);
  if (required(value, 'type', `${at}.type`) !== 'function') throw invalidValue(`${at}.type`, "'function'", value.type);
  const fn = requiredObject(value, 'function', `${at}.function`);
  const name = requiredText(fn, 'name', `${at}.function.name`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw invalidValue(`${at}.function.name`, 'a name of letters, digits, _ and - (at most 64)', name);
  const tool: ToolDefinition = { name, parameters: { type: 'object', properties: {} } };
  if (fn.description !== undefined) tool.description = text(fn.description, `${at}.function.description`);
  if (fn.parameters !== undefined) {
    if (!isObject(fn.parameters)) throw invalidType(`${at}.function.parameters`, 'an object (a JSON Schema)', fn.parameters);
    tool.parameters = fn.parameters;
  }
  if (fn.strict !== undefined && fn.strict !== null) {
    if (typeof fn.strict !== 'boolean') throw invalidType(`${at}.function.strict`, 'a boolean', fn.strict);
    tool.strict = fn.strict;
  }
  return tool;
}

function parseToolChoice(value: unknown): ToolChoice {
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (typeof value === 'string') throw invalidValue('tool_choice', "'auto', 'none', 'required' or a named function", value);
  if (!isObject(value)) throw invalidType('tool_choice', 'a string or an object', value);
  if (required(value, 'type', 'tool_choice.type') !== 'function') throw invalidValue('tool_choice.type', "'function'", value.type);
  const fn = requiredObject(value, 'function', 'tool_choice.function');
  return { name: requiredText(fn, 'name', 'tool_choice.function.name') };
}

function parseResponseFormat(value: unknown): ResponseFormat {
  if (!isObject(value)) throw invalidType('response_format', 'an object', value);
  switch (required(value, 'type', 'response_format.type')) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json' };
    case 'json_schema': {
      const spec = requiredObject(value, 'json_schema', 'response_format.json_schema');
      const name = requiredText(spec, 'name', 'response_format.json_schema.name');
      const schema = spec.schema ?? { type: 'object' };
      if (!isObject(schema)) throw invalidType('response_format.json_schema.schema', 'an object', schema);
      const format: ResponseFormat = { type: 'json_schema', name, schema };
      if (typeof spec.strict === 'boolean') format.strict = spec.strict;
      if (typeof spec.description === 'string') format.description = spec.description;
      return format;
    }
    default:
      throw invalidValue('response_format.type', "one of 'text', 'json_object', 'json_schema'", value.type);
  }
}

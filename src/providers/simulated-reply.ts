import type { ChatRequest, ContentPart } from '../llm/chat-request.js';
import { parseToolArguments, type FinishReason, type ToolCall, type Usage } from '../llm/chat-response.js';
import { messageChars } from '../llm/message-chars.js';
import type { SeededRandom } from './seeded-random.js';

/** What a reply function knows about the call it answers. */
export interface ReplyInfo {
  /** The provider's name. */
  provider: string;
  model: string;
  /** The call's number on this provider, from 1. */
  call: number;
  /** Clock time when the call started. */
  now: number;
  /** A random source seeded for this call (the same call number with the same seed draws the same). */
  random: SeededRandom;
}

/** A tool call a reply makes. `arguments` is any JSON value (default `{}`). */
export interface ReplyToolCall {
  name: string;
  arguments?: unknown;
  /** Default `call_<call>_<index>`. */
  id?: string;
}

/** A reply with tool calls. */
export interface ReplyContent {
  text: string;
  toolCalls?: ReplyToolCall[];
}

/** What a successful answer says: fixed text, or a function of the request. */
export type ReplySpec = string | ((request: ChatRequest, info: ReplyInfo) => string | ReplyContent);

/** How a streamed answer is cut into chunks: a number of characters, or of words. */
export type ChunkSize = number | { chars: number } | { words: number };

/** One step of a streamed answer: a text chunk, or a whole tool call. */
export type ContentUnit = { text: string } | { toolCall: ToolCall; index: number };

/** A complete answer, ready to be returned whole or streamed unit by unit. */
export interface Answer {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  inputTokens: number;
  units: ContentUnit[];
}

/** Tokens for a text length: about four characters per token, as OpenAI's rule of thumb says. */
export const estimateTokens = (chars: number): number => Math.ceil(chars / 4);

function partsText(content: string | readonly ContentPart[] | readonly { type: 'text'; text: string }[] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  let out = '';
  for (const part of content) if (part.type === 'text') out += part.text;
  return out;
}


/** Input tokens of a request: its text (system, messages, tool calls, tool schemas) at four characters per token. */
export function requestTokens(request: ChatRequest): number {
  let chars = request.system?.length ?? 0;
  for (const message of request.messages) chars += messageChars(message);
  if (request.tools?.length) chars += JSON.stringify(request.tools).length;
  return estimateTokens(chars);
}

/** The text of the last user message (text parts joined), or `''`. */
export function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') return partsText(message.content);
  }
  return '';
}

/** Splits `text` into chunks of `size` characters (whole code points) or words (with their trailing space). */
export function chunkText(text: string, size: ChunkSize): string[] {
  if (text === '') return [];
  if (typeof size === 'number' || 'chars' in size) {
    const n = typeof size === 'number' ? size : size.chars;
    const points = Array.from(text);
    const out: string[] = [];
    for (let i = 0; i < points.length; i += n) out.push(points.slice(i, i + n).join(''));
    return out;
  }
  const words = text.match(/^\s+|\S+\s*/g) ?? [text];
  // Leading whitespace rides with the first word.
  if (words.length > 1 && words[0]!.trim() === '') words.splice(0, 2, words[0]! + words[1]!);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size.words) out.push(words.slice(i, i + size.words).join(''));
  return out;
}

/** Validates a {@link ChunkSize}; throws a `TypeError` naming it. */
export function checkChunkSize(size: ChunkSize, what = 'chunkSize'): void {
  const n = typeof size === 'number' ? size : typeof size === 'object' && size !== null ? ('chars' in size ? size.chars : size.words) : NaN;
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new TypeError(`${what}: expected an integer >= 1, { chars: n } or { words: n }, got ${JSON.stringify(size)}`);
  }
}

function toContent(value: string | ReplyContent): ReplyContent {
  if (typeof value === 'string') return { text: value };
  if (typeof value === 'object' && value !== null && typeof value.text === 'string') return value;
  throw new TypeError(`the reply function must return a string or { text, toolCalls? }, got ${JSON.stringify(value)}`);
}

/**
 * Builds the answer to a call: the reply's text and tool calls (ids `call_<call>_<index>` unless
 * given), cut to `request.maxTokens` (finish `length`), chunked for streaming. The default reply
 * echoes: `[<provider>/<model>] <last user text>`.
 */
export function buildAnswer(
  spec: ReplySpec | undefined,
  request: ChatRequest,
  info: ReplyInfo,
  chunkSize: ChunkSize,
  inputTokens: number,
): Answer {
  const content =
    spec === undefined
      ? { text: `[${info.provider}/${info.model}] ${lastUserText(request)}` }
      : typeof spec === 'string'
        ? { text: spec }
        : toContent(spec(request, info));
  let text = content.text;
  let toolCalls: ToolCall[] = (content.toolCalls ?? []).map((call, i) => {
    const rawArguments = JSON.stringify(call.arguments ?? {});
    return { id: call.id ?? `call_${info.call}_${i}`, name: call.name, arguments: parseToolArguments(rawArguments), rawArguments };
  });
  let finishReason: FinishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  const max = request.maxTokens;
  if (max !== undefined && estimateTokens(outputChars(text, toolCalls)) > max) {
    text = Array.from(text).slice(0, max * 4).join('');
    toolCalls = [];
    finishReason = 'length';
  }
  const units: ContentUnit[] = chunkText(text, chunkSize).map((chunk) => ({ text: chunk }));
  toolCalls.forEach((toolCall, index) => units.push({ toolCall, index }));
  return { text, toolCalls, finishReason, inputTokens, units };
}

function outputChars(text: string, toolCalls: readonly ToolCall[]): number {
  let n = text.length;
  for (const call of toolCalls) n += call.name.length + call.rawArguments.length;
  return n;
}

/** The text and tool calls of the first `units` units of an answer (what a stream sent so far). */
export function partialContent(answer: Answer, units = answer.units.length): { text: string; toolCalls: ToolCall[] } {
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const unit of answer.units.slice(0, units)) {
    if ('text' in unit) text += unit.text;
    else toolCalls.push(unit.toolCall);
  }
  return { text, toolCalls };
}

/** The usage of an answer (or of the part of it sent: the first `units` units). */
export function answerUsage(answer: Answer, units = answer.units.length): Usage {
  const { text, toolCalls } = units >= answer.units.length ? answer : partialContent(answer, units);
  const outputTokens = estimateTokens(outputChars(text, toolCalls));
  return { inputTokens: answer.inputTokens, outputTokens, totalTokens: answer.inputTokens + outputTokens };
}

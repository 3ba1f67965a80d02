import type { RateLimitInfo } from './rate-limit-headers.js';

/**
 * Why generation stopped: `stop` (natural end or stop sequence), `length` (token limit),
 * `tool_calls`, `content_filter` (refusal or safety block), `error`, or `other`.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | 'other';

/** Token counts of one call. */
export interface Usage {
  /** All prompt tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /** The part of `inputTokens` served from a prompt cache. */
  cachedInputTokens?: number;
  /** The part of `outputTokens` spent on reasoning. */
  reasoningTokens?: number;
  totalTokens: number;
}

/** A tool call the model made. */
export interface ToolCall {
  id: string;
  name: string;
  /** The parsed arguments, or `undefined` when `rawArguments` is not valid JSON. */
  arguments: unknown;
  /** The argument JSON exactly as the model produced it. */
  rawArguments: string;
}

/** A complete chat answer, whichever provider gave it. */
export interface ChatResponse {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** The provider's own reason (`end_turn`, `MAX_TOKENS`, `refusal`, …). */
  rawFinishReason?: string;
  /** Absent when the provider reported none (e.g. an OpenAI stream without `include_usage`). */
  usage?: Usage;
  /** The provider's response id (`chatcmpl-…`, `msg_…`, Gemini `responseId`). */
  id?: string;
  /** The model that answered, as the provider named it. */
  model?: string;
  /** From the response headers. */
  rateLimit?: RateLimitInfo;
  /** Reasoning / thinking text, when the provider returned it. */
  reasoning?: string;
}

/**
 * Parses tool-call argument JSON: `''` (a call without arguments) gives `{}`; malformed JSON gives
 * `undefined` (the caller keeps the raw string). Never throws.
 */
export function parseToolArguments(raw: string): unknown {
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

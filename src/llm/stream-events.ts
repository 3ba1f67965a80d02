import type { FinishReason, Usage } from './chat-response.js';
import type { LlmError } from './llm-error.js';
import type { RateLimitInfo } from './rate-limit-headers.js';

/** The stream has started; emitted once, first. */
export interface StartEvent {
  type: 'start';
  id?: string;
  model?: string;
  /** From the response headers. */
  rateLimit?: RateLimitInfo;
}

/** A piece of answer text (a delta: concatenate them). */
export interface TextEvent {
  type: 'text';
  text: string;
}

/** A tool call begins; `index` identifies it in the deltas that follow. */
export interface ToolCallStartEvent {
  type: 'tool-call-start';
  index: number;
  id: string;
  name: string;
}

/** A fragment of a tool call's argument JSON (concatenate them per `index`). */
export interface ToolCallDeltaEvent {
  type: 'tool-call-delta';
  index: number;
  argumentsDelta: string;
}

/** A tool call is complete. */
export interface ToolCallEndEvent {
  type: 'tool-call-end';
  index: number;
  id: string;
  name: string;
  /** The parsed arguments (`undefined` when `rawArguments` is not valid JSON). */
  arguments: unknown;
  rawArguments: string;
}

/** A piece of reasoning / thinking text. */
export interface ReasoningEvent {
  type: 'reasoning';
  text: string;
}

/** Token usage so far; a later event replaces an earlier one (running totals, never increments). */
export interface UsageEvent {
  type: 'usage';
  usage: Usage;
}

/** The terminal event of a successful stream. */
export interface FinishEvent {
  type: 'finish';
  finishReason: FinishReason;
  rawFinishReason?: string;
}

/** The stream failed; nothing follows. */
export interface StreamErrorEvent {
  type: 'error';
  error: LlmError;
}

/** One event of a chat stream. */
export type StreamEvent =
  | StartEvent
  | TextEvent
  | ToolCallStartEvent
  | ToolCallDeltaEvent
  | ToolCallEndEvent
  | ReasoningEvent
  | UsageEvent
  | FinishEvent
  | StreamErrorEvent;

/** The events that carry output (text, tool calls, reasoning). */
export type ContentEvent = TextEvent | ToolCallStartEvent | ToolCallDeltaEvent | ToolCallEndEvent | ReasoningEvent;

/**
 * True for the events past the stream's commit point: text, tool-call start/delta/end, reasoning.
 * Empty text and reasoning deltas (OpenAI's first chunk has `content: ""`) are not content: they
 * give the consumer nothing, so a failure after them can still be retried invisibly.
 */
export function isContentEvent(event: StreamEvent): event is ContentEvent {
  switch (event.type) {
    case 'text':
    case 'reasoning':
      return event.text.length > 0;
    case 'tool-call-start':
    case 'tool-call-delta':
    case 'tool-call-end':
      return true;
    default:
      return false;
  }
}

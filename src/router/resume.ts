import type { ChatRequest } from '../llm/chat-request.js';
import type { LlmError } from '../llm/llm-error.js';
import type { Protocol } from '../providers/provider.js';

/** Resuming a stream on another target after a failure past the commit point. */
export interface ResumeOptions {
  /** How many times one stream may resume. Default 1. */
  attempts?: number;
  /** The instruction appended for protocols without assistant prefill. */
  instruction?: string;
}

/** The default instruction sent with the partial answer to protocols that cannot prefill. */
export const DEFAULT_RESUME_INSTRUCTION =
  'Your previous answer was cut off. Continue it exactly where it stopped, without repeating any of it and without any preamble.';

/**
 * The request that asks another target to continue a partial answer. Anthropic continues a final
 * assistant message (prefill), so the partial text is sent as that message (trailing whitespace
 * trimmed, which the API requires); other protocols get the partial text as an assistant turn
 * followed by a user instruction to continue.
 */
export function continuationRequest(request: ChatRequest, partialText: string, protocol: Protocol, instruction = DEFAULT_RESUME_INSTRUCTION): ChatRequest {
  if (protocol === 'anthropic') {
    return { ...request, messages: [...request.messages, { role: 'assistant', content: partialText.trimEnd() }] };
  }
  return {
    ...request,
    messages: [...request.messages, { role: 'assistant', content: partialText }, { role: 'user', content: instruction }],
  };
}

/** Failures worth resuming after: the target broke, not the request. */
export function isResumable(error: LlmError): boolean {
  return ['rate_limit', 'quota', 'overloaded', 'server', 'timeout', 'connection', 'auth', 'not_found'].includes(error.kind);
}

import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import type { StreamEvent } from '../llm/stream-events.js';

/** The wire protocol a provider speaks (or `function` / `simulated` for in-process providers). */
export type Protocol = 'openai' | 'anthropic' | 'gemini' | 'ollama' | 'function' | 'simulated';

/** What the caller (usually the router) passes with every request. */
export interface ProviderCall {
  /** The provider's own model name, e.g. `gpt-4o`. */
  model: string;
  /** Aborting cancels the HTTP request and the stream reader. Takes precedence over `request.signal`. */
  signal: AbortSignal;
}

/**
 * A chat model provider: one set of credentials and one wire protocol. Implementations never
 * retry on their own and turn every failure into an `LlmError` of the right kind.
 */
export interface ChatProvider {
  /** A label for events, metrics and errors (`openai`, `groq`, `my-vllm`…). Never a secret. */
  readonly name: string;
  readonly protocol: Protocol;
  /** One complete answer. Rejects with an `LlmError`. */
  chat(request: ChatRequest, call: ProviderCall): Promise<ChatResponse>;
  /**
   * A stream of events: `start`, content, `usage`, and `finish` last. A failure (error status,
   * error frame, malformed frame, a stream that ends before its terminal event) is thrown as an
   * `LlmError` from the iterator; breaking out of the loop releases the connection.
   */
  stream(request: ChatRequest, call: ProviderCall): AsyncIterable<StreamEvent>;
}

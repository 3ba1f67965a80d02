// The unified chat model and error taxonomy (the `llm` layer of DESIGN.md).
export * from './chat-request.js';
export * from './chat-response.js';
export * from './stream-events.js';
export * from './collect-stream.js';
export * from './error-kind.js';
export * from './llm-error.js';
export * from './redact.js';
export {
  cooldownMs,
  parseGoDuration,
  parseRateLimitHeaders,
  parseResetValue,
  parseRetryAfter,
  type HeadersLike,
  type RateLimitBucket,
  type RateLimitInfo,
} from './rate-limit-headers.js';
export {
  abortedError,
  classifyHttpError,
  classifyStreamError,
  classifyThrown,
  connectionError,
  contentFilterError,
  timeoutError,
  truncatedStreamError,
  type HttpErrorInput,
  type LlmErrorContext,
  type ProviderName,
  type TimeoutScope,
} from './classify.js';
export * from './message-chars.js';

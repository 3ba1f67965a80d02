export type { ChatProvider, ProviderCall, Protocol } from './provider.js';
export { fetchTransport, type Transport, type TransportRequest, type TransportResponse } from './transport.js';
export * from './openai.js';
export * from './anthropic.js';
export * from './gemini.js';
export * from './ollama.js';
export {
  functionProvider,
  wrapFunction,
  type FunctionProviderOptions,
  type ErrorClassifier,
  type WrapFunctionOptions,
  type FunctionContext,
} from './function-provider.js';
export {
  simulated,
  type SimulatedOptions,
  type SimulatedProvider,
  type SimulatedControl,
  type SimulatedCallRecord,
  type SimulatedOutage,
  type CallOutcome as SimulatedCallOutcome,
  type CallCause as SimulatedCallCause,
  type FaultKind,
  type FaultRule,
  type FaultWhen,
  type RateLimitSpec,
  type ChunkSize,
  type ReplyContent,
  type ReplyInfo,
  type ReplySpec,
  type ReplyToolCall,
  type Distribution,
  type LatencySpec,
} from './simulated.js';
export { seededRandom, latencySampler } from './seeded-random.js';

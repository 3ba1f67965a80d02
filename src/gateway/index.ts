export { createGateway } from './server.js';
export type {
  Gateway,
  GatewayOptions,
  GatewayEvent,
  HandlerContext,
  HandleOptions,
  RequestHandler,
  FallthroughHandler,
  ListenAddress,
  ReloadResult,
} from './server.js';
export { loadConfigFile, parseConfigText, validateConfig, checkConfig, type ConfigResult, type LoadOptions } from './config-load.js';
export { formatProblem, type ConfigProblem } from './config-problems.js';
export { configSchema, PROVIDER_TYPES, parseSize } from './config-schema.js';
export type { GatewayConfig, GatewayConfigInput, ProviderConfig, RouteConfig, TargetConfig, ServerConfig, StoreConfig } from './config-schema.js';
export { resolveEnvRefs, type Env } from './config-env.js';
export { defaultConfig, type DefaultConfig } from './default-config.js';
export { DEMO_CONFIG, DEMO_REPLY } from './demo-config.js';
export { buildRouteTable, RouteTableError, type GatewayRoute, type GatewayTarget, type RouteTable, type ResolvedModel } from './route-table.js';
export type { BuiltProvider } from './build-provider.js';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
export { undiciTransport, type PooledTransport, type UndiciTransportOptions } from './undici-transport.js';
export { parseChatCompletionBody, RequestFieldError, type ParsedChatRequest } from './openai-request.js';
export { completionJson, createChunkEncoder, openAiFinishReason, openAiUsage, type ChunkEncoder, type CompletionMeta } from './openai-response.js';
export { fromLlmError, errorBody, type ApiError } from './http-errors.js';
export { statusReport } from './status.js';
export type { StoreStatus } from './store.js';
export {
  simulateTraffic,
  SimulationConfigError,
  SimulationOptionsError,
  MAX_SIMULATED_REQUESTS,
  type SimulateOptions,
  type SimulationReport,
  type SimulatedRouteReport,
  type SimulatedTargetReport,
  type TimelineBucket,
  type BreakerCounts,
  type ReplacedProvider,
} from './simulate.js';

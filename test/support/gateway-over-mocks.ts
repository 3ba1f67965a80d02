// What the SDK-against-gateway tests share: the gateway in front of an OpenAI and an Anthropic mock,
// each answering from a queue the test fills (an empty queue answers a plain text).
import { validateConfig } from '../../src/gateway/config-load.js';
import type { GatewayConfigInput } from '../../src/gateway/config-schema.js';
import { createLogger } from '../../src/gateway/logger.js';
import { createGateway, type Gateway } from '../../src/gateway/server.js';
import { startAnthropicMock, type AnthropicMock, type AnthropicMockReply } from '../../src/mock/anthropic-mock.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockReply } from '../../src/mock/openai-mock.js';

/** The running gateway, its two mocks and their reply queues. */
export interface GatewayOverMocks {
  gateway: Gateway;
  /** The gateway's base URL (without `/v1`). */
  url: string;
  openaiMock: OpenAiMock;
  anthropicMock: AnthropicMock;
  /** Replies the next upstream calls get, in order; reset with {@link GatewayOverMocks.resetReplies}. */
  replies: { openai: OpenAiMockReply[]; anthropic: AnthropicMockReply[] };
  resetReplies(): void;
  close(): Promise<void>;
}

/** What {@link startGatewayOverMocks} builds the config from. */
export interface GatewayOverMocksOptions {
  keys: { openai: string; anthropic: string };
  /** Client bearer tokens the gateway asks for. */
  tokens: string[];
  /** Providers besides `oai` (the OpenAI mock) and `ant` (the Anthropic mock), given the OpenAI mock's URL. */
  extraProviders?: (openaiUrl: string) => GatewayConfigInput['providers'];
  routes: GatewayConfigInput['routes'];
  /** Where log lines go; none are kept when left out. */
  log?: (line: string) => void;
}

/** Starts both mocks and a gateway whose providers `oai` and `ant` point at them. */
export async function startGatewayOverMocks(options: GatewayOverMocksOptions): Promise<GatewayOverMocks> {
  const replies: GatewayOverMocks['replies'] = { openai: [], anthropic: [] };
  const openaiMock = await startOpenAiMock({
    apiKey: options.keys.openai,
    replies: () => replies.openai.shift() ?? { type: 'text', text: 'default openai answer' },
  });
  const anthropicMock = await startAnthropicMock({
    apiKey: options.keys.anthropic,
    replies: () => replies.anthropic.shift() ?? { type: 'text', text: 'default anthropic answer' },
  });
  const loaded = validateConfig({
    server: { port: 0, tokens: options.tokens },
    providers: {
      oai: { type: 'openai', apiKey: options.keys.openai, baseURL: openaiMock.url },
      ant: { type: 'anthropic', apiKey: options.keys.anthropic, baseURL: anthropicMock.url },
      ...options.extraProviders?.(openaiMock.url),
    },
    routes: options.routes,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const logger = options.log ? createLogger({ write: options.log }) : createLogger({ level: 'silent', write: () => {} });
  const gateway = createGateway({ config: loaded.config, logger });
  const { url } = await gateway.listen();
  return {
    gateway,
    url,
    openaiMock,
    anthropicMock,
    replies,
    resetReplies() {
      replies.openai = [];
      replies.anthropic = [];
    },
    async close() {
      await gateway.close();
      await openaiMock.close();
      await anthropicMock.close();
    },
  };
}

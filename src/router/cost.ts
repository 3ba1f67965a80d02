import type { ChatRequest, ContentPart } from '../llm/chat-request.js';
import { messageChars } from '../llm/message-chars.js';
import type { TokenPrices } from './target.js';

/** Output tokens assumed when a request sets no `maxTokens`. */
export const DEFAULT_OUTPUT_TOKENS = 500;

/**
 * Input tokens counted per image. Pixel sizes are unknown before upload, so this is OpenAI's
 * figure for a 1024×1024 image at high detail (85 + 4 × 170); `detail: 'low'` counts 85.
 */
export const IMAGE_TOKENS = 765;
/** Input tokens counted per image with `detail: 'low'`. */
export const LOW_DETAIL_IMAGE_TOKENS = 85;

/** Options of the token and cost estimates. */
export interface CostEstimateOptions {
  /** Output tokens assumed when the request sets no `maxTokens`. Default {@link DEFAULT_OUTPUT_TOKENS}. */
  defaultOutputTokens?: number;
}

/** Estimated tokens of one call. */
export interface TokenEstimate {
  input: number;
  output: number;
}

/**
 * Input tokens of a request, estimated without a tokenizer: its text (system prompt, messages,
 * earlier tool calls, tool schemas, response schema) at about four characters per token, plus a
 * fixed count per image. The same rule the simulated provider uses for text, so thresholds in
 * tests and in the simulator agree with it.
 */
export function estimateRequestTokens(request: ChatRequest): number {
  let chars = request.system?.length ?? 0;
  let imageTokens = 0;
  for (const message of request.messages) {
    chars += messageChars(message);
    if ((message.role === 'user' || message.role === 'tool') && typeof message.content !== 'string') {
      imageTokens += contentImageTokens(message.content);
    }
  }
  if (request.tools?.length) chars += JSON.stringify(request.tools).length;
  if (request.responseFormat?.type === 'json_schema') chars += JSON.stringify(request.responseFormat.schema).length;
  return Math.ceil(chars / 4) + imageTokens;
}

/** Output tokens expected from a request: its `maxTokens` (an upper bound), else the default. */
export function expectedOutputTokens(request: ChatRequest, defaultOutputTokens = DEFAULT_OUTPUT_TOKENS): number {
  return request.maxTokens ?? defaultOutputTokens;
}

/** Input and output tokens of a call, estimated once and priced per target with {@link priceTokens}. */
export function estimateCallTokens(request: ChatRequest, options?: CostEstimateOptions): TokenEstimate {
  return { input: estimateRequestTokens(request), output: expectedOutputTokens(request, options?.defaultOutputTokens) };
}

/** US dollars for `tokens` at `prices` (per million tokens); `undefined` when there are no prices. */
export function priceTokens(prices: TokenPrices | undefined, tokens: TokenEstimate): number | undefined {
  if (!prices) return undefined;
  return (tokens.input * prices.input + tokens.output * prices.output) / 1_000_000;
}

/**
 * Estimated cost in US dollars of sending `request` to `target`; `undefined` when the target has
 * no prices. Pass a {@link TokenEstimate} instead of the request to price many targets for one
 * estimate.
 */
export function estimateCost(
  target: { readonly cost?: TokenPrices },
  request: ChatRequest | TokenEstimate,
  options?: CostEstimateOptions,
): number | undefined {
  const tokens = 'messages' in request ? estimateCallTokens(request, options) : request;
  return priceTokens(target.cost, tokens);
}

/**
 * The per-request `maxCost` check: the skip message when the target's estimated cost is above
 * `maxCost` (US dollars), otherwise `undefined`. Targets without prices are kept: their cost is
 * unknown, not known to be too high (and local models usually have none).
 */
export function exceedsMaxCost(target: { readonly cost?: TokenPrices }, tokens: TokenEstimate, maxCost: number): string | undefined {
  const cost = priceTokens(target.cost, tokens);
  if (cost === undefined || cost <= maxCost) return undefined;
  return `estimated cost $${usd(cost)} (${tokens.input} in + ${tokens.output} out tokens) is above maxCost $${usd(maxCost)}`;
}

/** Throws a `TypeError` unless `maxCost` is a finite number ≥ 0 (for the router's call options). */
export function checkMaxCost(maxCost: unknown): asserts maxCost is number {
  if (typeof maxCost !== 'number' || !Number.isFinite(maxCost) || maxCost < 0) {
    throw new TypeError(`maxCost: expected a number of US dollars >= 0, got ${String(maxCost)}`);
  }
}

const usd = (n: number): string => String(Number(n.toPrecision(3)));


function contentImageTokens(content: readonly ContentPart[]): number {
  let n = 0;
  for (const part of content) if (part.type === 'image') n += part.detail === 'low' ? LOW_DETAIL_IMAGE_TOKENS : IMAGE_TOKENS;
  return n;
}


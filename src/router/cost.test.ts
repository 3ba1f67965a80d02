import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { requestTokens } from '../providers/simulated-reply.js';
import {
  DEFAULT_OUTPUT_TOKENS,
  IMAGE_TOKENS,
  LOW_DETAIL_IMAGE_TOKENS,
  checkMaxCost,
  estimateCallTokens,
  estimateCost,
  estimateRequestTokens,
  exceedsMaxCost,
  expectedOutputTokens,
  priceTokens,
} from './cost.js';

const text = (chars: number): ChatRequest => ({ messages: [{ role: 'user', content: 'x'.repeat(chars) }] });

describe('estimateRequestTokens', () => {
  it('counts about four characters per token, rounded up', () => {
    expect(estimateRequestTokens(text(4000))).toBe(1000);
    expect(estimateRequestTokens(text(4001))).toBe(1001);
    expect(estimateRequestTokens({ messages: [] })).toBe(0);
  });

  it('counts the system prompt, every message, earlier tool calls and tool results', () => {
    const request: ChatRequest = {
      system: 'a'.repeat(40),
      messages: [
        { role: 'system', content: 'b'.repeat(40) },
        { role: 'user', content: [{ type: 'text', text: 'c'.repeat(40) }, { type: 'text', text: 'd'.repeat(40) }] },
        { role: 'assistant', content: 'e'.repeat(40), toolCalls: [{ id: 'call_1', name: 'look', arguments: {}, rawArguments: 'f'.repeat(36) }] },
        { role: 'tool', toolCallId: 'call_1', content: 'g'.repeat(40) },
      ],
    };
    // 40 × 6 + 'look' (4) + 36 = 280 characters
    expect(estimateRequestTokens(request)).toBe(70);
  });

  it('counts tool schemas and a JSON response schema', () => {
    const tools = [{ name: 'search', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
    const schema = { type: 'object', properties: { answer: { type: 'string' } } };
    const base = estimateRequestTokens(text(400));
    expect(estimateRequestTokens({ ...text(400), tools })).toBe(Math.ceil((400 + JSON.stringify(tools).length) / 4));
    expect(estimateRequestTokens({ ...text(400), responseFormat: { type: 'json_schema', name: 's', schema } })).toBe(
      Math.ceil((400 + JSON.stringify(schema).length) / 4),
    );
    expect(estimateRequestTokens({ ...text(400), responseFormat: { type: 'json' } })).toBe(base);
  });

  it('counts a fixed number per image, whatever its encoded size', () => {
    const request: ChatRequest = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'x'.repeat(8) },
            { type: 'image', data: 'A'.repeat(100_000), mediaType: 'image/png' },
            { type: 'image', url: 'https://example.com/cat.png', detail: 'low' },
          ],
        },
      ],
    };
    expect(estimateRequestTokens(request)).toBe(2 + IMAGE_TOKENS + LOW_DETAIL_IMAGE_TOKENS);
  });

  it("agrees with the simulated provider's count for text, so context-window tests line up", () => {
    const request: ChatRequest = {
      system: 'be brief',
      messages: [
        { role: 'user', content: 'what is the weather in Paris?' },
        { role: 'assistant', toolCalls: [{ id: 'c', name: 'weather', arguments: { city: 'Paris' } }] },
        { role: 'tool', toolCallId: 'c', name: 'weather', content: '18°C and cloudy' },
      ],
      tools: [{ name: 'weather', parameters: { type: 'object' } }],
    };
    expect(estimateRequestTokens(request)).toBe(requestTokens(request));
  });
});

describe('costs', () => {
  it('expects maxTokens of output, else the default', () => {
    expect(expectedOutputTokens(text(10))).toBe(DEFAULT_OUTPUT_TOKENS);
    expect(expectedOutputTokens(text(10), 42)).toBe(42);
    expect(expectedOutputTokens({ ...text(10), maxTokens: 7 })).toBe(7);
    expect(estimateCallTokens({ ...text(4000), maxTokens: 300 })).toEqual({ input: 1000, output: 300 });
    expect(estimateCallTokens(text(4000), { defaultOutputTokens: 10 })).toEqual({ input: 1000, output: 10 });
  });

  it('prices tokens per million, in US dollars', () => {
    expect(priceTokens({ input: 3, output: 15 }, { input: 1000, output: 1000 })).toBeCloseTo(0.018, 12);
    expect(priceTokens({ input: 0, output: 0 }, { input: 1e6, output: 1e6 })).toBe(0);
    expect(priceTokens(undefined, { input: 1, output: 1 })).toBeUndefined();
  });

  it('estimates the cost of a request on a target', () => {
    const target = { cost: { input: 2.5, output: 10 } };
    // 1000 in × 2.5 + 500 out × 10 = 7500 micro-dollars
    expect(estimateCost(target, text(4000))).toBeCloseTo(0.0075, 12);
    expect(estimateCost(target, { ...text(4000), maxTokens: 100 })).toBeCloseTo(0.0035, 12);
    expect(estimateCost(target, text(4000), { defaultOutputTokens: 0 })).toBeCloseTo(0.0025, 12);
    expect(estimateCost(target, { input: 2000, output: 0 })).toBeCloseTo(0.005, 12);
    expect(estimateCost({}, text(4000))).toBeUndefined();
  });

  it('maxCost: a target above the cap gets a skip message; at the cap, or unpriced, it is kept', () => {
    const tokens = { input: 1000, output: 500 };
    const pricey = { cost: { input: 2.5, output: 10 } }; // $0.0075
    expect(exceedsMaxCost(pricey, tokens, 0.005)).toBe('estimated cost $0.0075 (1000 in + 500 out tokens) is above maxCost $0.005');
    expect(exceedsMaxCost(pricey, tokens, 0.0075)).toBeUndefined();
    expect(exceedsMaxCost(pricey, tokens, 1)).toBeUndefined();
    expect(exceedsMaxCost({}, tokens, 0)).toBeUndefined();
    expect(exceedsMaxCost({ cost: { input: 0, output: 0 } }, tokens, 0)).toBeUndefined();
  });

  it('checkMaxCost accepts dollars >= 0 and rejects anything else', () => {
    expect(() => checkMaxCost(0)).not.toThrow();
    expect(() => checkMaxCost(0.25)).not.toThrow();
    for (const bad of [-0.01, Number.NaN, Infinity, '0.1', undefined]) expect(() => checkMaxCost(bad)).toThrow(/maxCost: expected a number/);
  });
});

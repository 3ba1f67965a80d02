import type { ChatResponse, FinishReason, Usage } from '../llm/chat-response.js';

/** What every object of one answer repeats. */
export interface CompletionMeta {
  /** `chatcmpl-…`. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model name the client asked for. */
  model: string;
}

/** OpenAI's `finish_reason` for a unified one (`error` and `other` have no OpenAI value: `stop`). */
export function openAiFinishReason(reason: FinishReason): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return reason === 'length' || reason === 'tool_calls' || reason === 'content_filter' ? reason : 'stop';
}

/** OpenAI's `usage` object. */
export function openAiUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

/** The `chat.completion` JSON text of an answer. */
export function completionJson(response: ChatResponse, meta: CompletionMeta): string {
  const hasCalls = response.toolCalls.length > 0;
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: response.text === '' && (hasCalls || response.finishReason === 'content_filter') ? null : response.text,
    refusal: null,
  };
  if (hasCalls) {
    message.tool_calls = response.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.rawArguments } }));
  }
  if (response.reasoning) message.reasoning_content = response.reasoning;
  const body: Record<string, unknown> = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openAiFinishReason(response.finishReason) }],
    system_fingerprint: null,
  };
  if (response.usage) body.usage = openAiUsage(response.usage);
  return JSON.stringify(body);
}

/**
 * Builds the SSE frames of a `chat.completion.chunk` stream. The fixed part of every frame is
 * built once, so a text delta costs one `JSON.stringify` of the text.
 */
export interface ChunkEncoder {
  /** The first chunk: `delta: {role: "assistant", content: ""}`. */
  role(): string;
  text(text: string): string;
  reasoning(text: string): string;
  toolCallStart(index: number, id: string, name: string): string;
  toolCallArguments(index: number, fragment: string): string;
  finish(reason: FinishReason): string;
  /** The usage chunk (`choices: []`), sent after the finish chunk when the client asked for it. */
  usage(usage: Usage | undefined): string;
  /** `data: [DONE]`. */
  done(): string;
}

/** Creates a {@link ChunkEncoder}. With `includeUsage`, every chunk carries `"usage":null` as OpenAI's do. */
export function createChunkEncoder(meta: CompletionMeta, includeUsage: boolean): ChunkEncoder {
  const head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"system_fingerprint":null,"choices":`;
  const usageNull = includeUsage ? ',"usage":null' : '';
  const open = `${head}[{"index":0,"delta":`;
  const close = `,"logprobs":null,"finish_reason":null}]${usageNull}}\n\n`;
  const frame = (delta: string) => open + delta + close;
  return {
    role: () => frame('{"role":"assistant","content":"","refusal":null}'),
    text: (text) => frame(`{"content":${JSON.stringify(text)}}`),
    reasoning: (text) => frame(`{"reasoning_content":${JSON.stringify(text)}}`),
    toolCallStart: (index, id, name) =>
      frame(`{"tool_calls":[{"index":${index},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(name)},"arguments":""}}]}`),
    toolCallArguments: (index, fragment) => frame(`{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(fragment)}}}]}`),
    finish: (reason) => `${open}{},"logprobs":null,"finish_reason":"${openAiFinishReason(reason)}"}]${usageNull}}\n\n`,
    usage: (usage) => `${head}[],"usage":${usage ? JSON.stringify(openAiUsage(usage)) : 'null'}}\n\n`,
    done: () => 'data: [DONE]\n\n',
  };
}

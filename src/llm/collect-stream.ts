import type { ChatResponse, FinishReason, ToolCall, Usage } from './chat-response.js';
import { parseToolArguments } from './chat-response.js';
import { truncatedStreamError } from './classify.js';
import type { RateLimitInfo } from './rate-limit-headers.js';
import type { StreamEvent } from './stream-events.js';

interface PartialToolCall {
  id: string;
  name: string;
  raw: string;
  end?: { arguments: unknown; rawArguments: string };
}

/**
 * Reads a stream to its end and assembles the {@link ChatResponse}: text and reasoning
 * concatenated, tool calls by index (argument fragments concatenated, then parsed), the last
 * usage, the finish. Throws the `error` event's error, and a `connection` error when the stream
 * ends without a `finish` event (a cut stream is never a success).
 */
export async function collectStream(events: AsyncIterable<StreamEvent>): Promise<ChatResponse> {
  let text = '';
  let reasoning = '';
  let id: string | undefined;
  let model: string | undefined;
  let rateLimit: RateLimitInfo | undefined;
  let usage: Usage | undefined;
  let finish: { finishReason: FinishReason; rawFinishReason?: string } | undefined;
  const calls = new Map<number, PartialToolCall>();
  const call = (index: number): PartialToolCall => {
    let c = calls.get(index);
    if (!c) calls.set(index, (c = { id: '', name: '', raw: '' }));
    return c;
  };

  for await (const event of events) {
    switch (event.type) {
      case 'start':
        id ??= event.id;
        model ??= event.model;
        rateLimit ??= event.rateLimit;
        break;
      case 'text':
        text += event.text;
        break;
      case 'reasoning':
        reasoning += event.text;
        break;
      case 'tool-call-start': {
        const c = call(event.index);
        c.id = event.id;
        c.name = event.name;
        break;
      }
      case 'tool-call-delta':
        call(event.index).raw += event.argumentsDelta;
        break;
      case 'tool-call-end': {
        const c = call(event.index);
        c.id = event.id;
        c.name = event.name;
        c.end = { arguments: event.arguments, rawArguments: event.rawArguments };
        break;
      }
      case 'usage':
        usage = event.usage;
        break;
      case 'finish':
        finish = { finishReason: event.finishReason };
        if (event.rawFinishReason !== undefined) finish.rawFinishReason = event.rawFinishReason;
        break;
      case 'error':
        throw event.error;
    }
  }
  if (!finish) throw truncatedStreamError();

  const toolCalls: ToolCall[] = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, c]) =>
      c.end
        ? { id: c.id, name: c.name, arguments: c.end.arguments, rawArguments: c.end.rawArguments }
        : { id: c.id, name: c.name, arguments: parseToolArguments(c.raw), rawArguments: c.raw },
    );

  const response: ChatResponse = { text, toolCalls, ...finish };
  if (usage) response.usage = usage;
  if (id !== undefined) response.id = id;
  if (model !== undefined) response.model = model;
  if (rateLimit) response.rateLimit = rateLimit;
  if (reasoning) response.reasoning = reasoning;
  return response;
}

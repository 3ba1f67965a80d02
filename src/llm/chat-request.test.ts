import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ChatRequest, ContentPart, ImagePart, Message, ResponseFormat, Role, ToolChoice } from './chat-request.js';
import type { ChatResponse, ToolCall } from './chat-response.js';

describe('ChatRequest', () => {
  it('expresses a full conversation with images, tools, tool calls and results', () => {
    const request: ChatRequest = {
      system: 'You are terse.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', url: 'https://example.com/a.png', detail: 'low' },
            { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
          ],
        },
        { role: 'assistant', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Tokyo' } }] },
        { role: 'tool', toolCallId: 'call_1', name: 'get_weather', content: 'sunny', isError: false },
      ],
      tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      toolChoice: { name: 'get_weather' },
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 100,
      stop: ['\n\n'],
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true },
      providerOptions: { openai: { seed: 1 }, anthropic: { top_k: 5 } },
      metadata: { user: 'u1' },
      signal: new AbortController().signal,
    };
    expect(request.messages).toHaveLength(3);
  });

  it('has the documented unions', () => {
    expectTypeOf<Role>().toEqualTypeOf<'system' | 'user' | 'assistant' | 'tool'>();
    expectTypeOf<ToolChoice>().toEqualTypeOf<'auto' | 'none' | 'required' | { name: string }>();
    expectTypeOf<ResponseFormat['type']>().toEqualTypeOf<'text' | 'json' | 'json_schema'>();
    expectTypeOf<ContentPart['type']>().toEqualTypeOf<'text' | 'image'>();
    expectTypeOf<Message['role']>().toEqualTypeOf<Role>();
  });

  it('tells image sources apart by `url`', () => {
    const describeImage = (part: ImagePart) => ('url' in part ? `url:${part.url}` : `data:${part.mediaType}`);
    expect(describeImage({ type: 'image', url: 'https://x' })).toBe('url:https://x');
    expect(describeImage({ type: 'image', data: 'AA==', mediaType: 'image/jpeg' })).toBe('data:image/jpeg');
  });

  it('lets a response’s tool calls go back into the next request as they are', () => {
    expectTypeOf<ToolCall>().toExtend<NonNullable<Extract<Message, { role: 'assistant' }>['toolCalls']>[number]>();
    const previous: Pick<ChatResponse, 'text' | 'toolCalls'> = {
      text: '',
      toolCalls: [{ id: 'c', name: 'f', arguments: {}, rawArguments: '{}' }],
    };
    const next: Message = { role: 'assistant', content: previous.text, toolCalls: previous.toolCalls };
    expect(next.toolCalls).toHaveLength(1);
  });
});

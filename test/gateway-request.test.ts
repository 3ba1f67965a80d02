// The OpenAI request body as the gateway reads it into a provider-agnostic ChatRequest.
import { describe, expect, it } from 'vitest';
import { parseChatCompletionBody, RequestFieldError } from '../src/gateway/openai-request.js';
import { completionJson, createChunkEncoder } from '../src/gateway/openai-response.js';

const user = { role: 'user', content: 'hi' };
const base = { model: 'm', messages: [user] };

function fieldError(body: unknown): RequestFieldError {
  try {
    parseChatCompletionBody(body);
  } catch (error) {
    if (error instanceof RequestFieldError) return error;
    throw error;
  }
  throw new Error('expected a RequestFieldError');
}

describe('parseChatCompletionBody', () => {
  it('reads every supported field', () => {
    const parsed = parseChatCompletionBody({
      model: 'chat',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'developer', content: 'Rules.' },
        { role: 'system', content: [{ type: 'text', text: 'Be ' }, { type: 'text', text: 'brief.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"x":1}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
      ],
      tools: [{ type: 'function', function: { name: 'look', description: 'Looks', parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'look' } },
      temperature: 0.5,
      top_p: 0.8,
      max_completion_tokens: 100,
      stop: 'END',
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      seed: 3,
      user: 'u-1',
      metadata: { team: 'search' },
    });
    expect(parsed).toMatchObject({ model: 'chat', stream: true, includeUsage: true });
    expect(parsed.request).toEqual({
      messages: [
        { role: 'system', content: 'Rules.' },
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', url: 'https://example.com/a.png', detail: 'low' },
            { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
          ],
        },
        { role: 'assistant', toolCalls: [{ id: 'call_1', name: 'look', arguments: { x: 1 }, rawArguments: '{"x":1}' }] },
        { role: 'tool', toolCallId: 'call_1', content: 'a cat' },
      ],
      tools: [{ name: 'look', description: 'Looks', parameters: { type: 'object' }, strict: true }],
      toolChoice: { name: 'look' },
      temperature: 0.5,
      topP: 0.8,
      maxTokens: 100,
      stop: ['END'],
      responseFormat: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true },
      metadata: { team: 'search' },
      providerOptions: { openai: { seed: 3, user: 'u-1' } },
    });
  });

  it('max_tokens works too; defaults are no stream and no usage chunk', () => {
    const parsed = parseChatCompletionBody({ model: 'm', messages: [user], max_tokens: 9 });
    expect(parsed).toMatchObject({ stream: false, includeUsage: false, request: { maxTokens: 9 } });
  });

  it('names the field of every problem', () => {
    expect(fieldError([]).message).toMatch(/must be a JSON object/);
    expect(fieldError({ model: 'm', messages: [user], n: 2 }).param).toBe('n');
    expect(fieldError({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] }).param).toBe('messages[0].content[0].type');
    expect(fieldError({ model: 'm', messages: [{ role: 'assistant' }] }).param).toBe('messages[0].content');
    expect(fieldError({ model: 'm', messages: [{ role: 'tool', content: 'x' }] }).param).toBe('messages[0].tool_call_id');
    expect(fieldError({ model: 'm', messages: [user], tool_choice: 'sometimes' }).param).toBe('tool_choice');
    expect(fieldError({ model: 'm', messages: [user], response_format: { type: 'yaml' } }).param).toBe('response_format.type');
    expect(fieldError({ model: 'm', messages: [user], stop: ['a', 'b', 'c', 'd', 'e'] }).param).toBe('stop');
    expect(fieldError({ model: 'm', messages: [user], top_p: 2 }).code).toBe('invalid_value');
    expect(fieldError({ model: 'm', messages: [user], tools: [{ type: 'function', function: { name: 'bad name' } }] }).param).toBe('tools[0].function.name');
  });
});

describe('OpenAI answers', () => {
  const meta = { id: 'chatcmpl-1', created: 1700000000, model: 'chat' };

  it('a completion with tool calls has null content and the arguments as a string', () => {
    const json = JSON.parse(
      completionJson(
        { text: '', toolCalls: [{ id: 'c', name: 'f', arguments: { a: 1 }, rawArguments: '{"a":1}' }], finishReason: 'tool_calls', usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } },
        meta,
      ),
    );
    expect(json).toMatchObject({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'chat',
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
  });

  it('chunk frames are valid JSON with usage null until the usage chunk', () => {
    const encoder = createChunkEncoder(meta, true);
    const frames = [encoder.role(), encoder.text('a "quoted"\nline'), encoder.toolCallStart(0, 'c', 'f'), encoder.toolCallArguments(0, '{"a"'), encoder.finish('other'), encoder.usage(undefined)];
    const parsed = frames.map((f) => {
      expect(f.startsWith('data: ') && f.endsWith('\n\n')).toBe(true);
      return JSON.parse(f.slice(6)) as { usage: unknown; choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }> };
    });
    expect(parsed[1]!.choices[0]!.delta).toEqual({ content: 'a "quoted"\nline' });
    expect(parsed[2]!.choices[0]!.delta).toEqual({ tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '' } }] });
    expect(parsed[4]!.choices[0]!.finish_reason).toBe('stop');
    expect(parsed.slice(0, 5).every((p) => p.usage === null)).toBe(true);
    expect(parsed[5]!.choices).toEqual([]);
    expect(encoder.done()).toBe('data: [DONE]\n\n');
  });
});

describe('parseChatCompletionBody validation', () => {
  it('type-checks max_tokens even when max_completion_tokens wins', () => {
    expect(fieldError({ ...base, max_completion_tokens: 10, max_tokens: 'x' })).toMatchObject({ param: 'max_tokens', code: 'invalid_type' });
    expect(fieldError({ ...base, max_completion_tokens: 10, max_tokens: 0 })).toMatchObject({ param: 'max_tokens', code: 'invalid_value' });
    expect(parseChatCompletionBody({ ...base, max_completion_tokens: 10, max_tokens: 20 }).request.maxTokens).toBe(10);
  });

  it.each([
    ['messages[0].content[0].image_url.url', { ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }],
    ['messages[0].content[0].image_url', { ...base, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }],
    ['messages[0].content[0].text', { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] }],
    ['messages[0].content[0].type', { ...base, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }],
    ['messages[0].content[0].text', { ...base, messages: [{ role: 'system', content: [{ type: 'text' }] }] }],
    ['messages[0].content[0].type', { ...base, messages: [{ role: 'system', content: [{ text: 'hi' }] }] }],
    ['messages[0].content[0].refusal', { ...base, messages: [{ role: 'assistant', content: [{ type: 'refusal' }] }] }],
    ['messages[0].tool_calls[0].id', { ...base, messages: [{ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }],
    ['messages[0].tool_calls[0].function', { ...base, messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function' }] }] }],
    ['messages[0].tool_calls[0].function.name', { ...base, messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { arguments: '{}' } }] }] }],
    ['tools[0].function', { ...base, tools: [{ type: 'function' }] }],
    ['tools[0].type', { ...base, tools: [{ function: { name: 'f' } }] }],
    ['tools[0].function.name', { ...base, tools: [{ type: 'function', function: {} }] }],
    ['tool_choice.type', { ...base, tool_choice: { function: { name: 'f' } } }],
    ['tool_choice.function', { ...base, tool_choice: { type: 'function' } }],
    ['tool_choice.function.name', { ...base, tool_choice: { type: 'function', function: {} } }],
    ['response_format.type', { ...base, response_format: {} }],
    ['response_format.json_schema', { ...base, response_format: { type: 'json_schema' } }],
    ['response_format.json_schema.name', { ...base, response_format: { type: 'json_schema', json_schema: { schema: {} } } }],
  ])('a missing %s is missing_required_parameter', (param, body) => {
    const error = fieldError(body);
    expect(error).toMatchObject({ param, code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.` });
  });

  it('a present nested field of the wrong type is still invalid_type, with correct grammar', () => {
    const error = fieldError({ ...base, tools: [{ type: 'function', function: null }] });
    expect(error).toMatchObject({ param: 'tools[0].function', code: 'invalid_type' });
    expect(error.message).toBe("Invalid type for 'tools[0].function': expected an object, but got null instead.");
    const url = fieldError({ ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 3 } }] }] });
    expect(url.message).toBe("Invalid type for 'messages[0].content[0].image_url.url': expected a string, but got an integer instead.");
    expect(fieldError({ ...base, tool_choice: { type: 'function', function: [] } }).message).toContain('but got an array instead');
  });

  it('names the metadata key whose value is not a string, and its type', () => {
    const error = fieldError({ ...base, metadata: { ok: 'yes', a: 1 } });
    expect(error).toMatchObject({ param: 'metadata.a', code: 'invalid_type' });
    expect(error.message).toBe("Invalid type for 'metadata.a': expected a string, but got an integer instead.");
    expect(fieldError({ ...base, metadata: { b: { c: 'd' } } }).message).toContain("'metadata.b': expected a string, but got an object instead");
    expect(fieldError({ ...base, metadata: ['x'] }).message).toBe("Invalid type for 'metadata': expected an object of string values, but got an array instead.");
  });

  it('refuses logprobs: true and top_logprobs: the gateway does not return log probabilities', () => {
    for (const [param, body] of [
      ['logprobs', { ...base, logprobs: true }],
      ['logprobs', { ...base, logprobs: true, top_logprobs: 3 }],
      ['top_logprobs', { ...base, top_logprobs: 3 }],
      ['top_logprobs', { ...base, logprobs: false, top_logprobs: 0 }],
      ['top_logprobs', { ...base, stream: true, top_logprobs: 1 }],
    ] as const) {
      const error = fieldError(body);
      expect(error).toMatchObject({ param, code: 'unsupported_parameter' });
      expect(error.message).toBe(`Unsupported parameter: '${param}'. This gateway does not return log probabilities; remove '${param}' from the request.`);
    }
    expect(fieldError({ ...base, logprobs: 'yes' })).toMatchObject({ param: 'logprobs', code: 'invalid_type' });
  });

  it('accepts logprobs: false, null or absent, and never passes logprobs upstream', () => {
    for (const body of [base, { ...base, logprobs: false }, { ...base, logprobs: null, top_logprobs: null }]) {
      const parsed = parseChatCompletionBody({ ...body, seed: 1 });
      expect(parsed.request.providerOptions).toEqual({ openai: { seed: 1 } });
    }
  });

  it('never says "a undefined" or "a object"', () => {
    const bodies: unknown[] = [
      { ...base, tools: [{ type: 'function' }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] },
      { ...base, response_format: { type: 'json_schema' } },
      { ...base, metadata: { a: {} } },
      { ...base, stream_options: { include_usage: null } },
      null,
    ];
    for (const body of bodies) expect(fieldError(body).message).not.toMatch(/\ba (undefined|object|array|null)\b|got undefined/);
  });
});

import { describe, expect, it } from 'vitest';
import { collectStream } from './collect-stream.js';
import { LlmError, isLlmError } from './llm-error.js';
import type { StreamEvent } from './stream-events.js';

async function* from(events: StreamEvent[]): AsyncGenerator<StreamEvent> {
  for (const event of events) yield event;
}

describe('collectStream', () => {
  it('assembles text, usage, finish, id, model and rate-limit info', async () => {
    const response = await collectStream(
      from([
        { type: 'start', id: 'chatcmpl-1', model: 'gpt-4o', rateLimit: { requests: { remaining: 59 } } },
        { type: 'text', text: '' },
        { type: 'text', text: 'Hel' },
        { type: 'text', text: 'lo' },
        { type: 'finish', finishReason: 'stop', rawFinishReason: 'stop' },
        { type: 'usage', usage: { inputTokens: 13, outputTokens: 5, totalTokens: 18 } },
      ]),
    );
    expect(response).toEqual({
      id: 'chatcmpl-1',
      model: 'gpt-4o',
      text: 'Hello',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { inputTokens: 13, outputTokens: 5, totalTokens: 18 },
      rateLimit: { requests: { remaining: 59 } },
    });
  });

  it('assembles tool calls by index from start + concatenated deltas, in index order', async () => {
    const response = await collectStream(
      from([
        { type: 'start' },
        { type: 'tool-call-start', index: 1, id: 'call_b', name: 'get_time' },
        { type: 'tool-call-start', index: 0, id: 'call_a', name: 'get_weather' },
        { type: 'tool-call-delta', index: 0, argumentsDelta: '{"ci' },
        { type: 'tool-call-delta', index: 1, argumentsDelta: '' },
        { type: 'tool-call-delta', index: 0, argumentsDelta: 'ty":"Tokyo"}' },
        { type: 'finish', finishReason: 'tool_calls', rawFinishReason: 'tool_calls' },
      ]),
    );
    expect(response.toolCalls).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: { city: 'Tokyo' }, rawArguments: '{"city":"Tokyo"}' },
      { id: 'call_b', name: 'get_time', arguments: {}, rawArguments: '' },
    ]);
    expect(response.finishReason).toBe('tool_calls');
  });

  it('prefers a tool-call-end’s parsed arguments, and accepts an end without a start', async () => {
    const response = await collectStream(
      from([
        { type: 'tool-call-start', index: 0, id: 'toolu_1', name: 'f' },
        { type: 'tool-call-delta', index: 0, argumentsDelta: '{"a":1}' },
        { type: 'tool-call-end', index: 0, id: 'toolu_1', name: 'f', arguments: { a: 1 }, rawArguments: '{"a":1}' },
        { type: 'tool-call-end', index: 1, id: 'g1', name: 'g', arguments: { b: 2 }, rawArguments: '{"b":2}' },
        { type: 'finish', finishReason: 'tool_calls' },
      ]),
    );
    expect(response.toolCalls).toEqual([
      { id: 'toolu_1', name: 'f', arguments: { a: 1 }, rawArguments: '{"a":1}' },
      { id: 'g1', name: 'g', arguments: { b: 2 }, rawArguments: '{"b":2}' },
    ]);
  });

  it('keeps malformed argument JSON raw, with undefined arguments', async () => {
    const response = await collectStream(
      from([
        { type: 'tool-call-start', index: 0, id: 'c', name: 'f' },
        { type: 'tool-call-delta', index: 0, argumentsDelta: '{"a":' },
        { type: 'finish', finishReason: 'tool_calls' },
      ]),
    );
    expect(response.toolCalls[0]).toEqual({ id: 'c', name: 'f', arguments: undefined, rawArguments: '{"a":' });
  });

  it('collects reasoning and takes the last usage (running totals)', async () => {
    const response = await collectStream(
      from([
        { type: 'reasoning', text: 'Let me ' },
        { type: 'reasoning', text: 'think.' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 1, totalTokens: 11 } },
        { type: 'text', text: 'Yes.' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 7, reasoningTokens: 4, totalTokens: 17 } },
        { type: 'finish', finishReason: 'stop', rawFinishReason: 'end_turn' },
      ]),
    );
    expect(response.reasoning).toBe('Let me think.');
    expect(response.text).toBe('Yes.');
    expect(response.usage).toEqual({ inputTokens: 10, outputTokens: 7, reasoningTokens: 4, totalTokens: 17 });
  });

  it('throws the error event’s error', async () => {
    const error = new LlmError({ kind: 'overloaded', message: 'Overloaded' });
    await expect(
      collectStream(from([{ type: 'start' }, { type: 'text', text: 'Hi' }, { type: 'error', error }])),
    ).rejects.toBe(error);
  });

  it('throws a connection error when the stream ends without a finish', async () => {
    const failure = await collectStream(from([{ type: 'start' }, { type: 'text', text: 'Hi' }])).catch((e: unknown) => e);
    expect(isLlmError(failure, 'connection')).toBe(true);
  });

  it('rethrows what the iterable itself throws', async () => {
    const boom = new Error('boom');
    async function* failing(): AsyncGenerator<StreamEvent> {
      yield { type: 'start' };
      throw boom;
    }
    await expect(collectStream(failing())).rejects.toBe(boom);
  });
});

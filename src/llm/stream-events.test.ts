import { describe, expect, it } from 'vitest';
import { LlmError } from './llm-error.js';
import { isContentEvent, type StreamEvent } from './stream-events.js';

describe('isContentEvent', () => {
  it('is true for text, tool-call start/delta/end and reasoning: the commit point', () => {
    const content: StreamEvent[] = [
      { type: 'text', text: 'a' },
      { type: 'reasoning', text: 'b' },
      { type: 'tool-call-start', index: 0, id: 'c', name: 'f' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '' },
      { type: 'tool-call-end', index: 0, id: 'c', name: 'f', arguments: {}, rawArguments: '' },
    ];
    for (const event of content) expect(isContentEvent(event), event.type).toBe(true);
  });

  it('is false for start, usage, finish and error', () => {
    const other: StreamEvent[] = [
      { type: 'start', id: 'x' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } },
      { type: 'finish', finishReason: 'stop' },
      { type: 'error', error: new LlmError({ kind: 'server', message: 'x' }) },
    ];
    for (const event of other) expect(isContentEvent(event), event.type).toBe(false);
  });

  it('is false for empty text and reasoning deltas (OpenAI’s first chunk has content "")', () => {
    expect(isContentEvent({ type: 'text', text: '' })).toBe(false);
    expect(isContentEvent({ type: 'reasoning', text: '' })).toBe(false);
  });
});

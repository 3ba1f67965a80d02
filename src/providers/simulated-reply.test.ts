import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from './seeded-random.js';
import { answerUsage, buildAnswer, chunkText, lastUserText, partialContent, requestTokens } from './simulated-reply.js';

const info = { provider: 'p', model: 'm', call: 3, now: 0, random: seededRandom(1) };

describe('chunkText', () => {
  it('chunks join back to the text, each within the size asked for', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 1, max: 12 }), (text, n) => {
        const byChars = chunkText(text, n);
        expect(byChars.join('')).toBe(text);
        for (const c of byChars) expect(Array.from(c).length).toBeLessThanOrEqual(n);
        const byWords = chunkText(text, { words: n });
        expect(byWords.join('')).toBe(text);
        for (const c of byWords) expect(c.trim().split(/\s+/).filter(Boolean).length).toBeLessThanOrEqual(n);
      }),
    );
  });

  it('keeps leading space with the first word and never splits a surrogate pair', () => {
    expect(chunkText('  hi there', { words: 1 })).toEqual(['  hi ', 'there']);
    expect(chunkText('😀😀😀', { chars: 2 })).toEqual(['😀😀', '😀']);
    expect(chunkText('', 3)).toEqual([]);
  });
});

describe('requestTokens and lastUserText', () => {
  it('count every text of the request at four characters per token', () => {
    const tokens = requestTokens({
      system: 'x'.repeat(8),
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'y'.repeat(8) }, { type: 'image', url: 'https://a/b.png' }] },
        { role: 'assistant', toolCalls: [{ id: '1', name: 'abcd', arguments: {}, rawArguments: '{}' }] },
        { role: 'tool', toolCallId: '1', content: 'z'.repeat(6) },
      ],
    });
    expect(tokens).toBe(Math.ceil((8 + 8 + 4 + 2 + 6) / 4));
    expect(lastUserText({ messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'x' }, { role: 'user', content: 'last' }] })).toBe('last');
    expect(lastUserText({ messages: [] })).toBe('');
  });
});

describe('buildAnswer', () => {
  it('puts tool calls after the text chunks, with default ids, and reports partial content and usage', () => {
    const a = buildAnswer(() => ({ text: 'ab cd', toolCalls: [{ name: 'f' }, { name: 'g', id: 'mine', arguments: [1] }] }), { messages: [] }, info, { words: 1 }, 5);
    expect(a.units.map((u) => ('text' in u ? u.text : u.toolCall.id))).toEqual(['ab ', 'cd', 'call_3_0', 'mine']);
    expect(a.finishReason).toBe('tool_calls');
    expect(partialContent(a, 3)).toEqual({ text: 'ab cd', toolCalls: [a.toolCalls[0]] });
    expect(answerUsage(a, 1)).toEqual({ inputTokens: 5, outputTokens: 1, totalTokens: 6 });
    expect(answerUsage(a).outputTokens).toBe(Math.ceil((5 + 1 + 2 + 1 + 3) / 4));
  });

  it('rejects a reply function that returns something else', () => {
    expect(() => buildAnswer(() => 42 as unknown as string, { messages: [] }, info, 4, 0)).toThrow(/must return a string/);
  });
});

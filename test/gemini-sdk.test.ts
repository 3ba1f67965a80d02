// The official @google/genai client against the Gemini mock: it must parse every success and
// error exactly as it would from the real service.
import { ApiError, FinishReason, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startGeminiMock, type GeminiMock, type GeminiMockErrorKind, type GeminiMockReply } from '../src/mock/gemini-mock.js';

const KEY = 'sdk-test-key';
const MODEL = 'gemini-2.5-flash';

let mock: GeminiMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function client(replies: GeminiMockReply[], apiKey = KEY): Promise<GoogleGenAI> {
  mock = await startGeminiMock({ apiKey: KEY, replies, loop: true });
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: mock.origin } });
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

async function drain(stream: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const chunks: GenerateContentResponse[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('@google/genai against the Gemini mock', () => {
  it('generateContent: text, usage, ids, and the request it sent', async () => {
    const ai = await client([
      { type: 'text', text: 'Hello there', responseId: 'r-1', usage: { promptTokenCount: 4, candidatesTokenCount: 2, thoughtsTokenCount: 3 } },
    ]);
    const response = await ai.models.generateContent({
      model: MODEL,
      contents: 'Hi',
      config: { systemInstruction: 'Be brief.', maxOutputTokens: 50 },
    });
    expect(response.text).toBe('Hello there');
    expect(response.candidates?.[0]?.finishReason).toBe(FinishReason.STOP);
    expect(response.responseId).toBe('r-1');
    expect(response.modelVersion).toBe(MODEL);
    expect(response.usageMetadata).toMatchObject({ promptTokenCount: 4, candidatesTokenCount: 2, thoughtsTokenCount: 3, totalTokenCount: 9 });

    const [request] = mock!.requests;
    expect(request!.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(request!.headers['x-goog-api-key']).toBe(KEY);
    expect(request!.json).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { maxOutputTokens: 50 },
    });
  });

  it('generateContent: function calls and thoughts', async () => {
    const ai = await client([
      { type: 'text', text: '', thoughts: 'Need weather.', toolCalls: [{ name: 'get_weather', args: { city: 'Tokyo' }, id: 'fc-1' }] },
    ]);
    const response = await ai.models.generateContent({ model: MODEL, contents: 'Weather?' });
    expect(response.functionCalls).toEqual([{ id: 'fc-1', name: 'get_weather', args: { city: 'Tokyo' } }]);
    const parts = response.candidates?.[0]?.content?.parts ?? [];
    expect(parts[0]).toMatchObject({ text: 'Need weather.', thought: true });
    expect(parts.at(-1)?.thoughtSignature).toBeTypeOf('string');
  });

  it('generateContentStream: chunks, running usage, finish reason last', async () => {
    const ai = await client([{ type: 'text', chunks: ['Hel', 'lo ', 'world'], usage: { promptTokenCount: 5, candidatesTokenCount: 6 } }]);
    const chunks = await drain(await ai.models.generateContentStream({ model: MODEL, contents: 'Hi' }));
    expect(mock!.requests[0]!.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    expect(chunks.map((c) => c.text)).toEqual(['Hel', 'lo ', 'world']);
    expect(chunks.map((c) => c.candidates?.[0]?.finishReason)).toEqual([undefined, undefined, FinishReason.STOP]);
    expect(chunks.at(-1)?.usageMetadata).toMatchObject({ promptTokenCount: 5, candidatesTokenCount: 6, totalTokenCount: 11 });
  });

  it('generateContentStream: function calls', async () => {
    const ai = await client([{ type: 'text', text: 'Checking.', toolCalls: [{ name: 'f', args: { n: 1 } }, { name: 'g' }] }]);
    const chunks = await drain(await ai.models.generateContentStream({ model: MODEL, contents: 'Go' }));
    expect(chunks.flatMap((c) => c.functionCalls ?? [])).toEqual([
      { name: 'f', args: { n: 1 } },
      { name: 'g', args: {} },
    ]);
  });

  it('a blocked prompt gives promptFeedback.blockReason and no candidates', async () => {
    const ai = await client([{ type: 'blocked', blockReason: 'PROHIBITED_CONTENT' }]);
    const response = await ai.models.generateContent({ model: MODEL, contents: 'bad' });
    expect(response.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
    expect(response.candidates).toBeUndefined();
    expect(response.text).toBeUndefined();
    const [chunk] = await drain(await ai.models.generateContentStream({ model: MODEL, contents: 'bad' }));
    expect(chunk?.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
  });

  it('a safety stop reads as FinishReason.SAFETY', async () => {
    const ai = await client([{ type: 'safety' }]);
    const response = await ai.models.generateContent({ model: MODEL, contents: 'x' });
    expect(response.candidates?.[0]?.finishReason).toBe(FinishReason.SAFETY);
  });

  const errors: [GeminiMockErrorKind, number, string][] = [
    ['rate_limit', 429, 'RESOURCE_EXHAUSTED'],
    ['quota', 429, 'RESOURCE_EXHAUSTED'],
    ['precondition', 400, 'FAILED_PRECONDITION'],
    ['auth', 400, 'INVALID_ARGUMENT'],
    ['context_length', 400, 'INVALID_ARGUMENT'],
    ['permission', 403, 'PERMISSION_DENIED'],
    ['not_found', 404, 'NOT_FOUND'],
    ['server', 500, 'INTERNAL'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['timeout', 504, 'DEADLINE_EXCEEDED'],
  ];

  it.each(errors)('%s raises ApiError with status %i (%s), streaming or not', async (kind, status, rpcStatus) => {
    const ai = await client([{ type: 'error', kind }]);
    for (const attempt of [
      ai.models.generateContent({ model: MODEL, contents: 'x' }),
      ai.models.generateContentStream({ model: MODEL, contents: 'x' }),
    ]) {
      const error = await apiError(attempt);
      expect(error.status).toBe(status);
      // The SDK puts the service's JSON body in the message.
      const body = JSON.parse(error.message) as { error: { code: number; status: string } };
      expect(body.error).toMatchObject({ code: status, status: rpcStatus });
    }
  });

  it('a rate limit carries RetryInfo the way the service sends it', async () => {
    const ai = await client([{ type: 'error', kind: 'rate_limit' }]);
    const error = await apiError(ai.models.generateContent({ model: MODEL, contents: 'x' }));
    const body = JSON.parse(error.message) as { error: { details: Record<string, unknown>[] } };
    expect(body.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '43s' });
  });

  it('a wrong key raises ApiError 400 with API_KEY_INVALID', async () => {
    const ai = await client([{ type: 'text', text: 'unreachable' }], 'wrong-key');
    const error = await apiError(ai.models.generateContent({ model: MODEL, contents: 'x' }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('API_KEY_INVALID');
  });

  it('a mid-stream error frame raises ApiError during iteration, after the text before it', async () => {
    const ai = await client([{ type: 'stream-error-after', text: 'Hello there', error: 'overloaded' }]);
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: 'x' });
    const texts: string[] = [];
    const error = await apiError(
      (async () => {
        for await (const chunk of stream) texts.push(chunk.text ?? '');
      })(),
    );
    expect(error.status).toBe(503);
    expect(error.message).toContain('UNAVAILABLE');
    expect(texts.join('')).toBe('Hello there');
  });

  it('a malformed frame fails the iteration', async () => {
    const ai = await client([{ type: 'malformed-frame', text: 'Hello' }]);
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: 'x' });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await expect(drain(stream)).rejects.toThrow();
    } finally {
      warn.mockRestore();
    }
  });
});

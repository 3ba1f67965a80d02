import { afterEach, describe, expect, it } from 'vitest';
import { parseMockScenarioFile } from './scenario-file.js';
import { startGeminiMock, type GeminiMock, type GeminiMockErrorKind, type GeminiMockRequest, type GeminiMockScenario } from './gemini-mock.js';

const MODEL = 'gemini-2.5-flash';
const BODY = { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] };

let mock: GeminiMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

type Json = Record<string, unknown>;

function post(path: string, options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  return fetch(`${mock!.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body ?? BODY),
    signal: options.signal,
  });
}

const generate = (options?: Parameters<typeof post>[1]) => post(`/v1beta/models/${MODEL}:generateContent`, options);
const streamSse = (options?: Parameters<typeof post>[1]) => post(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, options);

/** The JSON payloads of an SSE body, checking the framing on the way. */
function sseData(text: string): unknown[] {
  expect(text.endsWith('\r\n\r\n')).toBe(true);
  return text
    .split('\r\n\r\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      expect(frame.startsWith('data: ')).toBe(true);
      return JSON.parse(frame.slice('data: '.length)) as unknown;
    });
}

async function start(scenario: GeminiMockScenario | GeminiMockScenario['replies']) {
  mock = await startGeminiMock(typeof scenario === 'function' || Array.isArray(scenario) ? { replies: scenario } : scenario);
  return mock;
}

describe('startGeminiMock: routes and keys', () => {
  it("serves under /v1beta on loopback: url is the baseURL of Ballast's gemini provider", async () => {
    await start([{ type: 'text', text: 'ok' }]);
    expect(mock!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1beta$/);
    expect(mock!.url).toBe(`${mock!.origin}/v1beta`);
  });

  it.each([
    ['POST', '/v1/models/x:generateContent'],
    ['POST', `/v1beta/models/${MODEL}:countTokens`],
    ['GET', `/v1beta/models/${MODEL}:generateContent`],
  ])('answers 404 NOT_FOUND to %s %s', async (method, path) => {
    await start([{ type: 'text', text: 'ok' }]);
    const res = await fetch(`${mock!.origin}${path}`, { method, body: method === 'POST' ? JSON.stringify(BODY) : undefined });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: Json }).error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
  });

  it('accepts the key in x-goog-api-key or ?key=, and rejects missing and wrong keys as the service does', async () => {
    await start({ apiKey: 'k1', loop: true, replies: [{ type: 'text', text: 'ok' }] });
    expect((await generate({ headers: { 'x-goog-api-key': 'k1' } })).status).toBe(200);
    expect((await post(`/v1beta/models/${MODEL}:generateContent?key=k1`)).status).toBe(200);

    const missing = await generate();
    expect(missing.status).toBe(403);
    expect(missing.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(await missing.json()).toEqual({
      error: {
        code: 403,
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        status: 'PERMISSION_DENIED',
      },
    });

    const wrong = await generate({ headers: { 'x-goog-api-key': 'k2' } });
    expect(wrong.status).toBe(400);
    const body = (await wrong.json()) as { error: Json };
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.' });
    expect(body.error.details).toContainEqual(
      expect.objectContaining({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }),
    );
    // Rejected calls do not use up replies.
    expect((await generate({ headers: { 'x-goog-api-key': 'k1' } })).status).toBe(200);
  });

  it('rejects bodies that are not JSON or have no contents, and unknown models when a list is set', async () => {
    await start({ models: [MODEL], replies: [{ type: 'text', text: 'ok' }] });
    const notJson = await generate({ body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: Json }).error.status).toBe('INVALID_ARGUMENT');
    const empty = await generate({ body: { contents: [] } });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: Json }).error.message).toContain('contents is not specified');
    const unknown = await post('/v1beta/models/gemini-9:generateContent');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: Json }).error.message).toMatch(/^models\/gemini-9 is not found for API version v1beta/);
    expect((await generate()).status).toBe(200);
  });
});

describe('startGeminiMock: answers', () => {
  it('answers generateContent with one response', async () => {
    await start([{ type: 'text', text: 'Hello there', responseId: 'r1', usage: { promptTokenCount: 4, candidatesTokenCount: 2 } }]);
    const res = await generate();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(await res.json()).toEqual({
      candidates: [{ content: { parts: [{ text: 'Hello there' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 4 }] },
      modelVersion: MODEL,
      responseId: 'r1',
    });
  });

  it('streams data-only SSE frames with running usage totals and the finish reason last', async () => {
    await start([{ type: 'text', chunks: ['a', 'b', 'c'], toolCalls: [{ name: 'f', args: { x: 1 } }], usage: { promptTokenCount: 3, candidatesTokenCount: 9 } }]);
    const res = await streamSse();
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    expect(text).not.toContain('[DONE]');
    expect(text).not.toContain('event:');
    const chunks = sseData(text) as { candidates: Json[]; usageMetadata: Json }[];
    expect(chunks.map((c) => (c.candidates[0]!.content as { parts: Json[] }).parts)).toEqual([
      [{ text: 'a' }],
      [{ text: 'b' }],
      [{ text: 'c' }, { functionCall: { name: 'f', args: { x: 1 } } }],
    ]);
    expect(chunks.map((c) => c.candidates[0]!.finishReason)).toEqual([undefined, undefined, 'STOP']);
    const counts = chunks.map((c) => c.usageMetadata.candidatesTokenCount as number);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
    expect(counts.at(-1)).toBe(9);
    expect(chunks.every((c) => c.usageMetadata.promptTokenCount === 3)).toBe(true);
  });

  it('splits text into word chunks and sends thoughts first', async () => {
    await start([{ type: 'text', text: 'one two  three', thoughts: 'hmm' }]);
    const chunks = sseData(await (await streamSse()).text()) as { candidates: { content: { parts: Json[] } }[] }[];
    expect(chunks.map((c) => c.candidates[0]!.content.parts[0])).toEqual([
      { text: 'hmm', thought: true },
      { text: 'one ' },
      { text: 'two  ' },
      { text: 'three' },
    ]);
  });

  it('answers streamGenerateContent without alt=sse with one JSON array', async () => {
    await start({ replies: [{ type: 'text', text: 'one two', responseId: 'r' }], loop: true });
    const res = await post(`/v1beta/models/${MODEL}:streamGenerateContent`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    const array = (await res.json()) as Json[];
    const sse = sseData(await (await streamSse()).text());
    expect(array).toEqual(sse);
  });

  it('answers a blocked prompt with HTTP 200, promptFeedback and no candidates', async () => {
    await start({ replies: [{ type: 'blocked', blockReason: 'JAILBREAK' }], loop: true });
    const body = (await (await generate()).json()) as Json;
    expect(body.candidates).toBeUndefined();
    expect(body.promptFeedback).toMatchObject({ blockReason: 'JAILBREAK' });
    const [chunk] = sseData(await (await streamSse()).text()) as Json[];
    expect(chunk!.promptFeedback).toMatchObject({ blockReason: 'JAILBREAK' });
  });

  it('stops a candidate with SAFETY', async () => {
    await start([{ type: 'safety' }]);
    const body = (await (await generate()).json()) as { candidates: Json[] };
    expect(body.candidates[0]).toMatchObject({ finishReason: 'SAFETY', index: 0 });
    expect(body.candidates[0]!.content).toBeUndefined();
  });

  it('replies in order, then answers 500 when the list runs out; loop starts over', async () => {
    await start([{ type: 'text', text: 'a' }, { type: 'error', kind: 'overloaded' }]);
    expect((await generate()).status).toBe(200);
    expect((await generate()).status).toBe(503);
    const exhausted = await generate();
    expect(exhausted.status).toBe(500);
    expect(((await exhausted.json()) as { error: Json }).error.message).toContain('scenario exhausted');
  });

  it('whenExhausted: cycle starts over, repeat-last repeats the last reply', async () => {
    const texts = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const body = (await (await generate()).json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> };
        out.push(body.candidates[0]!.content.parts[0]!.text);
      }
      return out;
    };
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], whenExhausted: 'cycle' });
    expect(await texts(5)).toEqual(['a', 'b', 'a', 'b', 'a']);
    await mock!.close();
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], whenExhausted: 'repeat-last' });
    expect(await texts(4)).toEqual(['a', 'b', 'b', 'b']);
    await mock!.close();
    // The deprecated alias.
    await start({ replies: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], loop: true, whenExhausted: 'cycle' });
    expect(await texts(3)).toEqual(['a', 'b', 'a']);
  });

  it('whenExhausted: error (the default) answers 500 INTERNAL "scenario exhausted", streaming or not', async () => {
    await start({ replies: [{ type: 'text', text: 'a' }], whenExhausted: 'error' });
    expect((await generate()).status).toBe(200);
    for (const res of [await generate(), await streamSse()]) {
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
      const { error } = (await res.json()) as { error: Json };
      expect(error).toMatchObject({ code: 500, status: 'INTERNAL' });
      expect(error.message).toContain('scenario exhausted');
    }
    await mock!.close();
    await start({ replies: [{ type: 'text', text: 'a' }], loop: false, whenExhausted: 'error' });
    expect((await generate()).status).toBe(200);
    expect((await generate()).status).toBe(500);
  });

  it('throws a TypeError naming loop and whenExhausted when they disagree', async () => {
    const replies = [{ type: 'text' as const, text: 'a' }];
    await expect(startGeminiMock({ replies, loop: true, whenExhausted: 'error' })).rejects.toThrow(TypeError);
    await expect(startGeminiMock({ replies, loop: true, whenExhausted: 'repeat-last' })).rejects.toThrow(/loop: true and whenExhausted: 'repeat-last'/);
    await expect(startGeminiMock({ replies, loop: false, whenExhausted: 'cycle' })).rejects.toThrow(/loop: false and whenExhausted: 'cycle'/);
  });

  it('passes each call to a reply function', async () => {
    const seen: GeminiMockRequest[] = [];
    await start((request) => {
      seen.push(request);
      return { type: 'text', text: `#${request.index}` };
    });
    await generate();
    await (await streamSse()).text();
    await post(`/v1beta/models/other:streamGenerateContent`);
    expect(seen.map(({ model, method, sse, index }) => ({ model, method, sse, index }))).toEqual([
      { model: MODEL, method: 'generateContent', sse: false, index: 0 },
      { model: MODEL, method: 'streamGenerateContent', sse: true, index: 1 },
      { model: 'other', method: 'streamGenerateContent', sse: false, index: 2 },
    ]);
    expect(seen[0]!.body).toEqual(BODY);
  });
});

describe('startGeminiMock: errors', () => {
  const cases: [GeminiMockErrorKind, number, string][] = [
    ['rate_limit', 429, 'RESOURCE_EXHAUSTED'],
    ['quota', 429, 'RESOURCE_EXHAUSTED'],
    ['precondition', 400, 'FAILED_PRECONDITION'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['server', 500, 'INTERNAL'],
    ['auth', 400, 'INVALID_ARGUMENT'],
    ['permission', 403, 'PERMISSION_DENIED'],
    ['not_found', 404, 'NOT_FOUND'],
    ['context_length', 400, 'INVALID_ARGUMENT'],
    ['invalid_request', 400, 'INVALID_ARGUMENT'],
    ['timeout', 504, 'DEADLINE_EXCEEDED'],
  ];

  it.each(cases)('%s is HTTP %i %s, streaming or not', async (kind, code, status) => {
    await start({ replies: [{ type: 'error', kind }], loop: true });
    for (const res of [await generate(), await streamSse()]) {
      expect(res.status).toBe(code);
      expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
      const body = (await res.json()) as { error: Json };
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error).toMatchObject({ code, status });
      expect(typeof body.error.message).toBe('string');
    }
  });

  it('sends QuotaFailure, Help and RetryInfo with a rate limit', async () => {
    await start([{ type: 'error', kind: 'rate_limit' }, { type: 'error', kind: 'rate_limit', retryDelay: '7s' }]);
    const { error } = (await (await generate()).json()) as { error: { message: string; details: Json[] } };
    expect(error.message).toMatch(/^You exceeded your current quota/);
    expect(error.details.map((d) => d['@type'])).toEqual([
      'type.googleapis.com/google.rpc.QuotaFailure',
      'type.googleapis.com/google.rpc.Help',
      'type.googleapis.com/google.rpc.RetryInfo',
    ]);
    expect(error.details[2]).toMatchObject({ retryDelay: '43s' });
    expect(JSON.stringify(error.details[0])).toContain('PerMinute');
    const second = (await (await generate()).json()) as { error: { details: Json[] } };
    expect(second.error.details[2]).toMatchObject({ retryDelay: '7s' });
  });

  it('sends a per-day quota without RetryInfo, and the context-length message', async () => {
    await start([{ type: 'error', kind: 'quota' }, { type: 'error', kind: 'context_length' }]);
    const quota = (await (await generate()).json()) as { error: { details: Json[] } };
    expect(JSON.stringify(quota.error.details)).toContain('GenerateRequestsPerDayPerProjectPerModel-FreeTier');
    expect(JSON.stringify(quota.error.details)).not.toContain('RetryInfo');
    const context = (await (await generate()).json()) as { error: Json };
    expect(context.error.message).toBe('The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).');
  });

  it('sends an error frame mid-stream, and an HTTP error to a unary call', async () => {
    await start({ replies: [{ type: 'stream-error-after', text: 'Hello there', error: 'overloaded' }], loop: true });
    const chunks = sseData(await (await streamSse()).text()) as Json[];
    expect(chunks.at(-1)).toEqual({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
    expect(chunks.slice(0, -1).every((c) => Array.isArray(c.candidates))).toBe(true);
    expect(JSON.stringify(chunks)).not.toContain('finishReason');
    expect((await generate()).status).toBe(503);
  });

  it('ends a stream cleanly without a finishReason', async () => {
    await start([{ type: 'eof-after', text: 'Hello there' }]);
    const text = await (await streamSse()).text();
    expect(sseData(text).length).toBeGreaterThan(0);
    expect(text).not.toContain('finishReason');
  });

  it('truncate-after is eof-after under the shared name: the body ends cleanly without a finishReason', async () => {
    await start({ replies: [{ type: 'truncate-after', text: 'Hello there' }], whenExhausted: 'cycle' });
    const text = await (await streamSse()).text();
    const chunks = sseData(text) as Array<{ candidates: Array<{ content: { parts: Array<{ text: string }> } }> }>;
    expect(chunks.map((c) => c.candidates[0]!.content.parts[0]!.text).join('')).toBe('Hello there');
    expect(text).not.toContain('finishReason');
    // Same bytes as eof-after, apart from the random response ids.
    const unify = (t: string) => t.replace(/"responseId":"[^"]*"/g, '"responseId":"x"');
    await mock!.close();
    await start([{ type: 'eof-after', text: 'Hello there' }]);
    expect(unify(await (await streamSse()).text())).toBe(unify(text));
    // Unary: a candidate without a finishReason.
    await mock!.close();
    await start([{ type: 'truncate-after', text: 'Hello there' }]);
    const res = await generate();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { candidates: Json[] };
    expect(body.candidates[0]).toMatchObject({ content: { parts: [{ text: 'Hello there' }] } });
    expect(body.candidates[0]!.finishReason).toBeUndefined();
  });

  it('stalls after the text until the client leaves', async () => {
    await start([{ type: 'stall-after', text: 'Hello' }]);
    const controller = new AbortController();
    const res = await streamSse({ signal: controller.signal });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"Hello"');
    controller.abort();
    await mock!.requests[0]!.disconnect;
    expect(mock!.requests[0]!.disconnected).toBe(true);
  });

  it('cuts the connection after the text', async () => {
    await start({ replies: [{ type: 'cut-after', text: 'Hello' }], loop: true });
    await expect((await streamSse()).text()).rejects.toThrow();
    await expect((await generate()).text()).rejects.toThrow();
  });

  it('sends a frame that is not JSON, then a valid last chunk', async () => {
    await start({ replies: [{ type: 'malformed-frame', text: 'Hello' }], loop: true });
    const frames = (await (await streamSse()).text()).split('\r\n\r\n').filter((f) => f !== '');
    const parsed = frames.map((f) => {
      try {
        return JSON.parse(f.slice('data: '.length)) as unknown;
      } catch {
        return 'malformed';
      }
    });
    expect(parsed).toContain('malformed');
    expect(JSON.stringify(parsed.at(-1))).toContain('"finishReason":"STOP"');
    await expect((await generate()).json()).rejects.toThrow();
  });
});

describe('startGeminiMock: the vocabulary shared with the other mocks', () => {
  it('a scenario file may leave out the error of stream-error-after and the text of the faults', () => {
    const replies = [
      { type: 'stream-error-after', text: 'x' },
      { type: 'stream-error-after' },
      { type: 'stall-after' },
      { type: 'cut-after' },
      { type: 'truncate-after' },
      { type: 'eof-after' },
    ];
    expect(parseMockScenarioFile({ gemini: replies }).gemini).toEqual({ replies });
    expect(() => parseMockScenarioFile({ gemini: [{ type: 'stream-error-after', error: 'overloaded_error' }] })).toThrow(
      /^gemini\.replies\[0\]\.error: expected one of rate_limit, .*, got "overloaded_error"$/,
    );
  });

  it('stream-error-after without an error sends 503 UNAVAILABLE (overloaded), mid-stream or as the HTTP error', async () => {
    await start({ replies: [{ type: 'stream-error-after', text: 'Hello there' }], whenExhausted: 'cycle' });
    const chunks = sseData(await (await streamSse()).text()) as Json[];
    expect(chunks.at(-1)).toEqual({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
    const res = await generate();
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: Json }).error).toMatchObject({ status: 'UNAVAILABLE' });
  });

  it('a fault without text streams one empty chunk before it', async () => {
    await start([{ type: 'stream-error-after' }, { type: 'truncate-after' }]);
    const failed = sseData(await (await streamSse()).text()) as Json[];
    expect(failed).toHaveLength(2);
    expect(JSON.stringify(failed[0])).toContain('"parts":[{"text":""}]');
    expect(failed[1]).toMatchObject({ error: { status: 'UNAVAILABLE' } });
    const truncated = await (await streamSse()).text();
    expect(sseData(truncated)).toHaveLength(1);
    expect(truncated).not.toContain('finishReason');
  });
});

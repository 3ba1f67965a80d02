import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import type { ChatResponse } from '../llm/chat-response.js';
import { collectStream } from '../llm/collect-stream.js';
import { LlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { getEventListeners } from 'node:events';
import { NEVER_ABORTED } from '../policy/context.js';
import { TimeoutError } from '../policy/errors.js';
import { functionProvider, toLlmError, wrapFunction } from './function-provider.js';
import type { ProviderCall } from './provider.js';
import { failure, events } from '../../test/support/provider-test.js';

const request: ChatRequest = { messages: [{ role: 'user', content: 'Say hi' }] };
const call = (signal: AbortSignal = new AbortController().signal): ProviderCall => ({ model: 'local-1', signal });

const full: ChatResponse = {
  text: 'Hello!',
  toolCalls: [{ id: 't1', name: 'lookup', arguments: { q: 'x' }, rawArguments: '{"q":"x"}' }],
  finishReason: 'tool_calls',
  rawFinishReason: 'tool_use',
  usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
  id: 'r1',
  model: 'local-1',
  reasoning: 'thought',
};

describe('functionProvider: chat', () => {
  it('turns a string result into a text response', async () => {
    const provider = functionProvider({ name: 'local', chat: async () => 'Hi there' });
    expect(provider).toMatchObject({ name: 'local', protocol: 'function' });
    expect(await provider.chat(request, call())).toEqual({ text: 'Hi there', toolCalls: [], finishReason: 'stop' });
  });

  it('passes an object result through', async () => {
    const provider = functionProvider({ name: 'local', chat: async () => full });
    expect(await provider.chat(request, call())).toEqual(full);
  });

  it('fills what a plain-JS result leaves out, and rejects a result that is no answer', async () => {
    const partial = functionProvider({ name: 'local', chat: async () => ({ text: 'x' }) as unknown as ChatResponse });
    expect(await partial.chat(request, call())).toEqual({ text: 'x', toolCalls: [], finishReason: 'stop' });
    const wrong = functionProvider({ name: 'local', chat: async () => 42 as unknown as string });
    expect((await failure(wrong.chat(request, call()))).kind).toBe('server');
  });

  it('gives the function the request and the call, signal included', async () => {
    let seen: [ChatRequest, ProviderCall] | undefined;
    const provider = functionProvider({
      name: 'local',
      chat: async (req, c) => {
        seen = [req, c];
        return 'ok';
      },
    });
    const c = call();
    await provider.chat(request, c);
    // The request as given, plus the call's signal (a request without one gets the call's).
    expect(seen?.[0]).toEqual({ ...request, signal: c.signal });
    expect(seen?.[1].signal).toBe(c.signal);
    expect(seen?.[1].model).toBe('local-1');
  });

  it('streams a chat-only answer as events that collect back to the same response', async () => {
    const provider = functionProvider({ name: 'local', chat: async () => full });
    const streamed = await events(provider.stream(request, call()));
    expect(streamed.map((e) => e.type)).toEqual([
      'start',
      'reasoning',
      'text',
      'tool-call-start',
      'tool-call-delta',
      'tool-call-end',
      'usage',
      'finish',
    ]);
    expect(streamed.filter((e) => e.type === 'text')).toEqual([{ type: 'text', text: 'Hello!' }]);
    expect(await collectStream(provider.stream(request, call()))).toEqual(full);
  });

  it('streams a chat-only string as start, one text, finish', async () => {
    const provider = functionProvider({ name: 'local', chat: async () => 'whole answer' });
    expect(await events(provider.stream(request, call()))).toEqual([
      { type: 'start' },
      { type: 'text', text: 'whole answer' },
      { type: 'finish', finishReason: 'stop' },
    ]);
  });

  it('classifies a function that throws synchronously', async () => {
    const provider = functionProvider({
      name: 'local',
      chat: (() => {
        throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      }) as () => Promise<string>,
    });
    expect((await failure(provider.chat(request, call()))).kind).toBe('connection');
    expect((await failure(collectStream(provider.stream(request, call())))).kind).toBe('connection');
  });

  it('needs chat or stream', () => {
    expect(() => functionProvider({ name: 'nothing' })).toThrow(TypeError);
  });
});

describe('functionProvider: stream', () => {
  it('wraps string chunks as text events between start and finish', async () => {
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield 'Hel';
        yield '';
        yield 'lo';
      },
    });
    expect(await events(provider.stream(request, call()))).toEqual([
      { type: 'start' },
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'finish', finishReason: 'stop' },
    ]);
  });

  it('collects a stream-only source for chat()', async () => {
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield 'Hel';
        yield 'lo';
      },
    });
    expect(await provider.chat(request, call())).toEqual({ text: 'Hello', toolCalls: [], finishReason: 'stop' });
  });

  it('passes events through, keeping the source start and finish and adding none', async () => {
    const source: StreamEvent[] = [
      { type: 'start', id: 'x', model: 'm' },
      { type: 'text', text: 'a' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } },
      { type: 'finish', finishReason: 'length', rawFinishReason: 'max' },
    ];
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield* source;
      },
    });
    expect(await events(provider.stream(request, call()))).toEqual(source);
  });

  it('adds a start before the first event, drops a second start, and stops after finish', async () => {
    let readAfterFinish = false;
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield { type: 'text', text: 'a' } satisfies StreamEvent;
        yield { type: 'start' } satisfies StreamEvent;
        yield 'b';
        yield { type: 'finish', finishReason: 'stop' } satisfies StreamEvent;
        readAfterFinish = true;
        yield 'c';
      },
    });
    expect(await events(provider.stream(request, call()))).toEqual([
      { type: 'start' },
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
      { type: 'finish', finishReason: 'stop' },
    ]);
    expect(readAfterFinish).toBe(false);
  });

  it('finishes with tool_calls when the source made tool calls and ended without a finish', async () => {
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield { type: 'tool-call-end', index: 0, id: 't', name: 'f', arguments: {}, rawArguments: '{}' } satisfies StreamEvent;
      },
    });
    expect((await events(provider.stream(request, call()))).at(-1)).toEqual({ type: 'finish', finishReason: 'tool_calls' });
  });

  it('emits start and finish for an empty source', async () => {
    const provider = functionProvider({ name: 'local', stream: async function* () {} });
    expect(await events(provider.stream(request, call()))).toEqual([{ type: 'start' }, { type: 'finish', finishReason: 'stop' }]);
  });

  it("throws an error event's error", async () => {
    const error = new LlmError({ kind: 'overloaded', message: 'busy' });
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield 'a';
        yield { type: 'error', error } satisfies StreamEvent;
      },
    });
    expect(await failure(collectStream(provider.stream(request, call())))).toBe(error);
  });

  it('rejects values that are neither strings nor events as server errors', async () => {
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        yield 42 as unknown as string;
      },
    });
    expect((await failure(collectStream(provider.stream(request, call())))).kind).toBe('server');
  });

  it('breaking out of the loop stops the source (its finally runs)', async () => {
    let cleanedUp = false;
    let produced = 0;
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        try {
          for (;;) {
            produced++;
            yield `chunk ${produced} `;
          }
        } finally {
          cleanedUp = true;
        }
      },
    });
    for await (const e of provider.stream(request, call())) {
      if (e.type === 'text') break;
    }
    expect(cleanedUp).toBe(true);
    expect(produced).toBe(1);
  });

  it('a source error stops the source and is classified', async () => {
    let cleanedUp = false;
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        try {
          yield 'a';
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        } finally {
          cleanedUp = true;
        }
      },
    });
    expect((await failure(collectStream(provider.stream(request, call())))).kind).toBe('connection');
    expect(cleanedUp).toBe(true);
  });
});

describe('functionProvider: cancellation', () => {
  it('adds no listener to the shared never-aborting signal', async () => {
    let release: (text: string) => void = () => {};
    const gate = new Promise<string>((resolve) => (release = resolve));
    const provider = functionProvider({ name: 'local', chat: () => gate });
    const pending = Array.from({ length: 20 }, () => provider.chat({ ...request, signal: NEVER_ABORTED }, call(NEVER_ABORTED)));
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    release('ok');
    expect((await Promise.all(pending)).map((r) => r.text)).toEqual(Array(20).fill('ok'));
  });

  it('passes the signal to the function; its abort is aborted, never classified', async () => {
    const controller = new AbortController();
    let sawAbort = false;
    const provider = functionProvider({
      name: 'local',
      classify: () => 'server',
      chat: (_req, c) =>
        new Promise<string>((_resolve, reject) => {
          c.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('the function saw the abort'));
          });
        }),
    });
    const pending = provider.chat(request, call(controller.signal));
    controller.abort();
    expect((await failure(pending)).kind).toBe('aborted');
    expect(sawAbort).toBe(true);
  });

  it('settles at once on abort even when the function ignores its signal', async () => {
    const controller = new AbortController();
    const provider = functionProvider({ name: 'local', chat: () => new Promise<string>(() => {}) });
    const pending = provider.chat(request, call(controller.signal));
    controller.abort();
    expect((await failure(pending)).kind).toBe('aborted');
  });

  it('does not call the function when the signal has already aborted', async () => {
    let called = false;
    const controller = new AbortController();
    controller.abort();
    const provider = functionProvider({
      name: 'local',
      chat: async () => {
        called = true;
        return 'x';
      },
    });
    expect((await failure(provider.chat(request, call(controller.signal)))).kind).toBe('aborted');
    expect(called).toBe(false);
  });

  it('an abort mid-stream stops a source that is waiting, and it is aborted', async () => {
    const controller = new AbortController();
    let cleanedUp = false;
    const provider = functionProvider({
      name: 'local',
      stream: async function* () {
        try {
          yield 'first';
          await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
          yield 'late';
        } finally {
          cleanedUp = true;
        }
      },
    });
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for await (const e of provider.stream(request, call(controller.signal))) {
          if (e.type === 'text') {
            seen.push(e.text);
            controller.abort();
          }
        }
      })(),
    );
    expect(error.kind).toBe('aborted');
    expect(seen).toEqual(['first']);
    await new Promise((r) => setImmediate(r));
    expect(cleanedUp).toBe(true);
  });

  it('a timeout that aborted the signal is a timeout, not aborted', async () => {
    const controller = new AbortController();
    const provider = functionProvider({ name: 'local', chat: () => new Promise<string>(() => {}) });
    const pending = provider.chat(request, call(controller.signal));
    controller.abort(new TimeoutError('deadline', 1000));
    expect(await failure(pending)).toMatchObject({ kind: 'timeout', code: 'deadline_timeout' });
  });

  it("the request's own signal aborts too", async () => {
    const controller = new AbortController();
    const provider = functionProvider({ name: 'local', chat: () => new Promise<string>(() => {}) });
    const pending = provider.chat({ ...request, signal: controller.signal }, call());
    controller.abort();
    expect((await failure(pending)).kind).toBe('aborted');
  });
});

describe('error classification rules', () => {
  const ctx = { name: 'fn', model: 'm' };

  it('an LlmError passes through unchanged', () => {
    const error = new LlmError({ kind: 'quota', message: 'out of credit' });
    expect(toLlmError(error, ctx)).toBe(error);
  });

  it("the user's classify comes first, and keeps cause and status", () => {
    const thrown = Object.assign(new Error('voice not found'), { status: 500 });
    const error = toLlmError(thrown, { ...ctx, classify: (e) => (e instanceof Error && /voice/.test(e.message) ? 'not_found' : undefined) });
    expect(error).toMatchObject({ kind: 'not_found', status: 500, provider: 'fn', model: 'm' });
    expect(error.cause).toBe(thrown);
  });

  it('a classify that returns undefined, a non-kind or throws falls back to the defaults', () => {
    const thrown = Object.assign(new Error('x'), { status: 503 });
    expect(toLlmError(thrown, { ...ctx, classify: () => undefined }).kind).toBe('overloaded');
    expect(toLlmError(thrown, { ...ctx, classify: () => 'teapot' as never }).kind).toBe('overloaded');
    expect(
      toLlmError(thrown, {
        ...ctx,
        classify: () => {
          throw new Error('bug');
        },
      }).kind,
    ).toBe('overloaded');
  });

  it.each([
    [{ status: 429 }, 'rate_limit'],
    [{ status: 503 }, 'overloaded'],
    [{ status: 500 }, 'server'],
    [{ statusCode: 401 }, 'auth'],
    [{ statusCode: 404 }, 'not_found'],
    [{ status: 400 }, 'invalid_request'],
    [{ status: 408 }, 'timeout'],
    [{ status: 402 }, 'quota'],
  ] as const)('a numeric status %j follows the HTTP rule: %s', (fields, kind) => {
    const thrown = Object.assign(new Error('upstream said no'), fields);
    const error = toLlmError(thrown, ctx);
    expect(error.kind).toBe(kind);
    expect(error.status).toBe('status' in fields ? fields.status : fields.statusCode);
    expect(error.message).toContain('upstream said no');
    expect(error.cause).toBe(thrown);
  });

  it('reads Retry-After from the error headers of a 429', () => {
    const fromRecord = toLlmError(Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after': '7' } }), ctx);
    expect(fromRecord).toMatchObject({ kind: 'rate_limit', retryAfterMs: 7000 });
    const fromHeaders = toLlmError(Object.assign(new Error('slow down'), { status: 429, headers: new Headers({ 'retry-after-ms': '250' }) }), ctx);
    expect(fromHeaders.retryAfterMs).toBe(250);
  });

  it('ignores a status that is not an HTTP status', () => {
    expect(toLlmError({ status: 'failed' }, ctx).kind).toBe('server');
    expect(toLlmError({ status: 42 }, ctx).kind).toBe('server');
  });

  it.each([
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['ENOTFOUND', 'connection'],
    ['ETIMEDOUT', 'timeout'],
  ] as const)('the errno code %s means %s', (code, kind) => {
    const thrown = Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
    const error = toLlmError(thrown, ctx);
    expect(error.kind).toBe(kind);
    expect(error.cause).toBe(thrown);
  });

  it("finds the code on the error's cause (fetch wraps socket errors)", () => {
    const thrown = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    expect(toLlmError(thrown, ctx)).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED' });
  });

  it("the call's abort is aborted, with the thrown error as cause", () => {
    const controller = new AbortController();
    controller.abort();
    const thrown = new Error('whatever the function threw');
    const error = toLlmError(thrown, { ...ctx, signal: controller.signal, classify: () => 'server' });
    expect(error.kind).toBe('aborted');
    expect(error.cause).toBe(thrown);
  });

  it('an AbortError or TimeoutError thrown without our signal aborting is aborted / timeout', () => {
    expect(toLlmError(new DOMException('gone', 'AbortError'), ctx).kind).toBe('aborted');
    expect(toLlmError(new DOMException('slow', 'TimeoutError'), ctx).kind).toBe('timeout');
  });

  it('anything else is server, keeping the cause', () => {
    const thrown = new RangeError('bad sample rate');
    const error = toLlmError(thrown, ctx);
    expect(error).toMatchObject({ kind: 'server', provider: 'fn', model: 'm' });
    expect(error.message).toContain('bad sample rate');
    expect(error.cause).toBe(thrown);
    expect(toLlmError('a string', ctx).kind).toBe('server');
    expect(toLlmError(undefined, ctx).kind).toBe('server');
  });

  it('classifies through the provider too', async () => {
    const provider = functionProvider({
      name: 'tts',
      chat: async () => {
        throw Object.assign(new Error('busy'), { status: 503 });
      },
    });
    expect(await failure(provider.chat(request, call()))).toMatchObject({ kind: 'overloaded', provider: 'tts', model: 'local-1', status: 503 });
  });
});

describe('wrapFunction', () => {
  it('returns the result and passes the context through', async () => {
    const signal = new AbortController().signal;
    const speak = wrapFunction(async (text: string, context: { signal: AbortSignal; attempt: number }) => {
      expect(context.signal).toBe(signal);
      return `${text}:${context.attempt}`;
    }, { name: 'tts' });
    expect(await speak('hi', { signal, attempt: 2 })).toBe('hi:2');
  });

  it('turns thrown errors into LlmErrors by the same rules', async () => {
    const embed = wrapFunction(
      async (_input: string) => {
        throw Object.assign(new Error('limit'), { status: 429, headers: { 'retry-after': '1' } });
      },
      { name: 'embeddings' },
    );
    expect(await failure(embed('x', {}))).toMatchObject({ kind: 'rate_limit', provider: 'embeddings', retryAfterMs: 1000 });
    const custom = wrapFunction(
      async () => {
        throw new Error('voice missing');
      },
      { name: 'tts', classify: () => 'not_found' },
    );
    expect((await failure(custom(undefined, {}))).kind).toBe('not_found');
  });

  it('needs no options: the name defaults to the function name, or "function"', async () => {
    async function synthesize(_text: string): Promise<string> {
      throw Object.assign(new Error('busy'), { status: 503 });
    }
    expect(await failure(wrapFunction(synthesize)('x', {}))).toMatchObject({ kind: 'overloaded', provider: 'synthesize' });
    const anonymous = wrapFunction(() => Promise.reject(Object.assign(new Error('busy'), { status: 503 })));
    expect(await failure(anonymous(undefined, {}))).toMatchObject({ kind: 'overloaded', provider: 'function' });
  });

  it('rejects as aborted at once when the signal aborts, even if the function ignores it', async () => {
    const controller = new AbortController();
    const slow = wrapFunction((_input: void, _ctx: { signal: AbortSignal }) => new Promise<string>(() => {}), { name: 'video' });
    const pending = slow(undefined, { signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).kind).toBe('aborted');
  });
});

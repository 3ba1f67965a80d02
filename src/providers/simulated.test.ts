import { describe, expect, it, vi } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { collectStream } from '../llm/collect-stream.js';
import { ERROR_KINDS, type ErrorKind } from '../llm/error-kind.js';
import { LlmError, isLlmError } from '../llm/llm-error.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { getEventListeners } from 'node:events';
import { NEVER_ABORTED } from '../policy/context.js';
import { TimeoutError } from '../policy/errors.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import type { ProviderCall } from './provider.js';
import { simulated, type SimulatedOptions, type SimulatedProvider } from './simulated.js';

const request = (text = 'hello there world', extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content: text }],
  ...extra,
});
const call = (model = 'sim-1', signal: AbortSignal = new AbortController().signal): ProviderCall => ({ model, signal });

function setup(options: Omit<SimulatedOptions, 'clock'> = {}): { clock: VirtualClock; p: SimulatedProvider } {
  const clock = createVirtualClock();
  return { clock, p: simulated({ ...options, clock }) };
}

interface Timed {
  at: number;
  event: StreamEvent;
}

/** Reads a stream on the virtual clock, recording when each event arrived; returns the events and the error, if any. */
async function readStream(clock: VirtualClock, events: AsyncIterable<StreamEvent>): Promise<{ got: Timed[]; error?: LlmError }> {
  const got: Timed[] = [];
  try {
    await clock.run(async () => {
      for await (const event of events) got.push({ at: clock.now(), event });
    });
    return { got };
  } catch (error) {
    if (!isLlmError(error)) throw error;
    return { got, error };
  }
}

const texts = (got: Timed[]) => got.filter((t) => t.event.type === 'text').map((t) => (t.event as { text: string }).text);
const types = (got: Timed[]) => got.map((t) => t.event.type);

/** Settles `promise` on the virtual clock and returns the error it rejected with (fails when it resolves). */
async function failure(clock: VirtualClock, promise: Promise<unknown>): Promise<LlmError> {
  const error = await clock.run(promise).then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(isLlmError(error)).toBe(true);
  return error as LlmError;
}

/** `promise`'s value once it settles without a timer (within one turn of the event loop); fails when it is still pending. */
async function settledInOneTurn<T>(promise: Promise<T>): Promise<T> {
  const pending = Symbol('pending');
  const first = await Promise.race([promise, new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending)))]);
  if (first === pending) throw new Error('still pending after a turn of the event loop: it waited for a timer');
  return first;
}

/** Tracks a promise's state while the test moves the clock by hand. */
function track<T>(promise: Promise<T>): { readonly state: 'pending' | 'resolved' | 'rejected'; readonly value?: T; readonly error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(t, { state: 'resolved', value }),
    (error: unknown) => Object.assign(t, { state: 'rejected', error }),
  );
  return t;
}

describe('simulated: answers', () => {
  it('echoes the last user text by default, with usage, id and model, and the protocol "simulated"', async () => {
    const { clock, p } = setup({ name: 'alpha' });
    const r = await clock.run(p.chat(request('Hi there'), call('gpt-x')));
    expect(p.protocol).toBe('simulated');
    expect(p.name).toBe('alpha');
    expect(r.text).toBe('[alpha/gpt-x] Hi there');
    expect(r.finishReason).toBe('stop');
    expect(r.toolCalls).toEqual([]);
    // 8 input characters -> 2 tokens; 23 output characters -> 6 tokens.
    expect(r.usage).toEqual({ inputTokens: 2, outputTokens: 6, totalTokens: 8 });
    expect(r.id).toBe('sim-alpha-1');
    expect(r.model).toBe('gpt-x');
    expect(clock.now()).toBe(0);
  });

  it('works on the real clock by default and answers at once without latency', async () => {
    // Date and timers faked and never moved: the default clock reads the faked Date, and an answer
    // that waited for any timer would still be pending after a turn of the (real) event loop.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'], now: 1_700_000_000_000 });
    try {
      const seen: number[] = [];
      const p = simulated({
        reply: (_req, info) => {
          seen.push(info.now);
          return { text: 'ok' };
        },
      });
      const r = await settledInOneTurn(p.chat(request(), call()));
      expect(r.text).toBe('ok');
      const events = await settledInOneTurn(
        (async () => {
          const out = [];
          for await (const e of p.stream(request(), call())) out.push(e.type);
          return out;
        })(),
      );
      expect(events).toEqual(['start', 'text', 'usage', 'finish']);
      expect(seen).toEqual([1_700_000_000_000, 1_700_000_000_000]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers with a reply function given the request and call info, including tool calls', async () => {
    const seen: unknown[] = [];
    const { clock, p } = setup({
      name: 'tools',
      reply: (req, info) => {
        seen.push({ model: info.model, call: info.call, provider: info.provider, now: info.now, tools: req.tools?.length });
        return { text: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] };
      },
    });
    const tools = [{ name: 'get_weather', parameters: { type: 'object' } }];
    const r = await clock.run(p.chat(request('weather?', { tools }), call('m1')));
    expect(seen).toEqual([{ model: 'm1', call: 1, provider: 'tools', now: 0, tools: 1 }]);
    expect(r.text).toBe('Checking.');
    expect(r.finishReason).toBe('tool_calls');
    expect(r.toolCalls).toEqual([{ id: 'call_1_0', name: 'get_weather', arguments: { city: 'Paris' }, rawArguments: '{"city":"Paris"}' }]);

    const { got } = await readStream(clock, p.stream(request('weather?', { tools }), call('m1')));
    expect(types(got)).toEqual(['start', 'text', 'tool-call-start', 'tool-call-delta', 'tool-call-end', 'usage', 'finish']);
    expect(got.at(-1)!.event).toEqual({ type: 'finish', finishReason: 'tool_calls' });
  });

  it('turns a throwing reply function into a server error, and passes an LlmError it throws through', async () => {
    const { clock, p } = setup({
      reply: (req) => {
        if (req.messages.length > 1) throw new LlmError({ kind: 'auth', message: 'custom', status: 403 });
        throw new Error('boom');
      },
    });
    const e1 = await failure(clock, p.chat(request(), call()));
    expect(e1.kind).toBe('server');
    expect(e1.message).toContain('boom');
    const two = { messages: [request().messages[0]!, { role: 'user' as const, content: 'again' }] };
    const e2 = await failure(clock, p.chat(two, call()));
    expect(e2.kind).toBe('auth');
    expect(e2.status).toBe(403);
    expect(p.control.inFlight).toBe(0);
    expect(p.control.log.map((r) => r.outcome)).toEqual(['server', 'auth']);
  });

  it('streams in word chunks by default, or in the chunk size asked for', async () => {
    const text = 'one two three four five';
    const words = setup({ reply: text });
    expect(texts((await readStream(words.clock, words.p.stream(request(), call()))).got)).toEqual([
      'one ',
      'two ',
      'three ',
      'four ',
      'five',
    ]);
    const pairs = setup({ reply: text, chunkSize: { words: 2 } });
    expect(texts((await readStream(pairs.clock, pairs.p.stream(request(), call()))).got)).toEqual([
      'one two ',
      'three four ',
      'five',
    ]);
    const chars = setup({ reply: text, chunkSize: 10 });
    expect(texts((await readStream(chars.clock, chars.p.stream(request(), call()))).got)).toEqual([
      'one two th',
      'ree four f',
      'ive',
    ]);
  });

  it('stops at maxTokens with finish "length"', async () => {
    const { clock, p } = setup({ reply: 'a'.repeat(100) });
    const r = await clock.run(p.chat(request('x', { maxTokens: 5 }), call()));
    expect(r.text).toBe('a'.repeat(20));
    expect(r.finishReason).toBe('length');
    expect(r.usage?.outputTokens).toBe(5);
  });

  it('answers not_found for models it does not serve and context_length past its context window', async () => {
    const { clock, p } = setup({ models: ['small'], contextWindow: 10 });
    const missing = await failure(clock, p.chat(request(), call('big')));
    expect([missing.kind, missing.status, missing.code]).toEqual(['not_found', 404, 'model_not_found']);
    const long = await failure(clock, p.chat(request('x'.repeat(41)), call('small')));
    expect([long.kind, long.status, long.code]).toEqual(['context_length', 400, 'context_length_exceeded']);
    expect(long.message).toContain('11 tokens');
    await expect(clock.run(p.chat(request('x'.repeat(40)), call('small')))).resolves.toBeDefined();
    expect(p.control.log.map((r) => [r.outcome, r.cause])).toEqual([
      ['not_found', 'model'],
      ['context_length', 'context_window'],
      ['ok', undefined],
    ]);
  });
});

describe('simulated: timing on the virtual clock', () => {
  it('answers chat() exactly at its latency', async () => {
    const { clock, p } = setup({ latency: '1500ms' });
    const t = track(p.chat(request(), call()));
    await clock.advance(1499);
    expect(t.state).toBe('pending');
    expect(p.control.inFlight).toBe(1);
    await clock.advance(1);
    expect(t.state).toBe('resolved');
    expect(p.control.inFlight).toBe(0);
    expect(p.control.log[0]).toMatchObject({ startedAt: 0, endedAt: 1500, outcome: 'ok', chunks: 4 });
  });

  it('sends the first token at firstToken and each later chunk one chunkInterval after the previous', async () => {
    const { clock, p } = setup({ reply: 'a b c', firstToken: 300, chunkInterval: '50ms' });
    const { got } = await readStream(clock, p.stream(request(), call()));
    expect(got.map((t) => [t.at, t.event.type])).toEqual([
      [300, 'start'],
      [300, 'text'],
      [350, 'text'],
      [400, 'text'],
      [400, 'usage'],
      [400, 'finish'],
    ]);
  });

  it('takes as long for chat() as the stream takes, when no latency is set', async () => {
    const { clock, p } = setup({ reply: 'a b c d', firstToken: 200, chunkInterval: 100 });
    await clock.run(p.chat(request(), call()));
    expect(clock.now()).toBe(500);
  });

  it('sends the first token at the latency when only latency is set', async () => {
    const { clock, p } = setup({ reply: 'a b', latency: { dist: 'uniform', min: 100, max: 900 }, seed: 3 });
    const chatAt = (await clock.run(p.chat(request(), call()).then(() => clock.now())));
    const twin = setup({ reply: 'a b', latency: { dist: 'uniform', min: 100, max: 900 }, seed: 3 });
    const { got } = await readStream(twin.clock, twin.p.stream(request(), call()));
    expect(got[0]!.at).toBe(chatAt);
    expect(got.at(-1)!.at).toBe(chatAt);
    expect(chatAt).toBeGreaterThanOrEqual(100);
    expect(chatAt).toBeLessThanOrEqual(900);
  });

  it('samples latency distributions reproducibly for a seed, in whole milliseconds, within bounds', async () => {
    const times = async (seed: number) => {
      const { clock, p } = setup({ seed, latency: { dist: 'lognormal', median: '800ms', p99: '4s' } });
      const out: number[] = [];
      for (let i = 0; i < 30; i++) {
        const start = clock.now();
        await clock.run(p.chat(request(), call()));
        out.push(clock.now() - start);
      }
      return out;
    };
    const a = await times(11);
    expect(await times(11)).toEqual(a);
    expect(await times(12)).not.toEqual(a);
    expect(a.every((ms) => Number.isInteger(ms) && ms > 0)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(20);
  });
});

/** What each injected kind must look like. */
const EXPECTED: Record<ErrorKind, { status?: number; code?: string }> = {
  rate_limit: { status: 429, code: 'rate_limit_exceeded' },
  quota: { status: 429, code: 'insufficient_quota' },
  overloaded: { status: 529, code: 'overloaded_error' },
  server: { status: 500, code: 'server_error' },
  timeout: { status: 408, code: 'request_timeout' },
  connection: { code: 'ECONNRESET' },
  auth: { status: 401, code: 'invalid_api_key' },
  not_found: { status: 404, code: 'model_not_found' },
  context_length: { status: 400, code: 'context_length_exceeded' },
  content_filter: { status: 400, code: 'content_policy_violation' },
  invalid_request: { status: 400, code: 'invalid_request_error' },
  aborted: {},
};

describe('simulated: injected error kinds', () => {
  it.each(ERROR_KINDS)('%s fails chat() and a stream (before any event) with the realistic status and code', async (kind) => {
    const { clock, p } = setup({ name: 'inj', faults: [{ kind }] });
    const e = await failure(clock, p.chat(request(), call('m')));
    expect(e.kind).toBe(kind);
    expect(e.status).toBe(EXPECTED[kind].status);
    expect(e.code).toBe(EXPECTED[kind].code);
    expect(e.provider).toBe('inj');
    expect(e.model).toBe('m');
    expect(e.message).toContain('simulated');
    expect(e.retryAfterMs).toBe(kind === 'rate_limit' ? 1000 : undefined);

    const { got, error } = await readStream(clock, p.stream(request(), call('m')));
    expect(got).toEqual([]);
    expect(error?.kind).toBe(kind);
    expect(error?.status).toBe(EXPECTED[kind].status);
    expect(p.control.log.map((r) => [r.outcome, r.cause, r.fault])).toEqual([
      [kind, 'fault', kind],
      [kind, 'fault', kind],
    ]);
    expect(p.control.inFlight).toBe(0);
  });

  it('gives rate_limit its retryAfter and a rateLimit info object that says when to come back', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'rate_limit', retryAfter: '30s' }] });
    const e = await failure(clock, p.chat(request(), call()));
    expect(e.retryAfterMs).toBe(30_000);
    expect(e.rateLimit).toEqual({ retryAfterMs: 30_000, requests: { remaining: 0, resetMs: 30_000 } });
    expect(e.retryable).toBe(true);
  });

  it('takes status and message overrides, and a delay before the error arrives', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'overloaded', status: 503, message: 'busy now', delay: '2s' }] });
    const t = track(p.chat(request(), call()));
    await clock.advance(1999);
    expect(t.state).toBe('pending');
    await clock.advance(1);
    expect(t.state).toBe('rejected');
    const e = t.error as LlmError;
    expect([e.kind, e.status]).toEqual(['overloaded', 503]);
    expect(e.message).toContain('busy now');
  });

  it('a mid-stream error comes after the text sent so far, without an HTTP status; chat() fails whole with it', async () => {
    const { clock, p } = setup({
      reply: 'a b c d',
      chunkInterval: 10,
      faults: [{ kind: 'overloaded', when: 'mid_stream', afterChunks: 2 }],
    });
    const { got, error } = await readStream(clock, p.stream(request(), call()));
    expect(texts(got)).toEqual(['a ', 'b ']);
    expect(types(got)).not.toContain('finish');
    expect(error?.kind).toBe('overloaded');
    expect(error?.status).toBeUndefined();
    expect(clock.now()).toBe(20);
    expect(p.control.log[0]).toMatchObject({ outcome: 'overloaded', chunks: 2 });

    const start = clock.now();
    const e = await failure(clock, p.chat(request(), call()));
    expect([e.kind, e.status]).toEqual(['overloaded', 529]);
    expect(clock.now() - start).toBe(20); // when the stream would have failed
    // With a latency set, a non-streamed call fails at its latency.
    const timed = setup({ latency: 500, faults: [{ kind: 'server', when: 'mid_stream' }] });
    expect((await failure(timed.clock, timed.p.chat(request(), call()))).status).toBe(500);
    expect(timed.clock.now()).toBe(500);
  });
});

describe('simulated: when faults strike', () => {
  /** Outcomes of `n` calls in a row (instant ones: no latency is set in these tests). */
  const outcomes = async (p: SimulatedProvider, n: number, model = 'm') => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await p.chat(request(), call(model)).then(() => 'ok', (e: LlmError) => e.kind));
    return out;
  };

  it('probability with a seed is reproducible, about the rate asked, and independent per provider name', async () => {
    const run = async (seed: number, name = 'p') => {
      const { p } = setup({ name, seed, faults: [{ kind: 'server', probability: 0.2 }] });
      return outcomes(p, 2000);
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
    expect(await run(1, 'q')).not.toEqual(a);
    const rate = a.filter((o) => o === 'server').length / a.length;
    expect(rate).toBeGreaterThan(0.17);
    expect(rate).toBeLessThan(0.23);
  });

  it('a between window fails calls inside it only: a 2-hour outage simulated in milliseconds', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'server', between: ['10m', '2h10m'] }] });
    const at = async (ms: number) => {
      await clock.advance(ms - clock.now());
      return (await outcomes(p, 1))[0];
    };
    // No real timer takes part: with the real ones faked and never moved, the hours pass on the virtual clock alone.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'], now: 0 });
    try {
      const got = [];
      for (const ms of [0, 9 * 60_000, 10 * 60_000, 60 * 60_000, 130 * 60_000 - 1, 130 * 60_000, 5 * 3_600_000]) got.push(await at(ms));
      expect(got).toEqual(['ok', 'ok', 'server', 'server', 'server', 'ok', 'ok']);
      expect(clock.now()).toBe(5 * 3_600_000);
      expect(Date.now()).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('between is relative to the provider\'s creation time', async () => {
    const clock = createVirtualClock(1_000_000);
    const p = simulated({ clock, faults: [{ kind: 'auth', between: [0, '1s'] }] });
    expect(await outcomes(p, 1)).toEqual(['auth']);
    await clock.advance(1000);
    expect(await outcomes(p, 1)).toEqual(['ok']);
  });

  it('every fails every Nth call; times fails the first N; together, N of the every-th', async () => {
    const every = setup({ faults: [{ kind: 'server', every: 3 }] });
    expect(await outcomes(every.p, 7)).toEqual(['ok', 'ok', 'server', 'ok', 'ok', 'server', 'ok']);
    const times = setup({ faults: [{ kind: 'quota', times: 2 }] });
    expect(await outcomes(times.p, 4)).toEqual(['quota', 'quota', 'ok', 'ok']);
    const both = setup({ faults: [{ kind: 'server', every: 2, times: 2 }] });
    expect(await outcomes(both.p, 7)).toEqual(['ok', 'server', 'ok', 'server', 'ok', 'ok', 'ok']);
  });

  it('models limits a rule to some models; the first matching rule decides; each rule counts its own every', async () => {
    const { p } = setup({
      faults: [
        { kind: 'auth', models: ['a'] },
        { kind: 'server', every: 2 },
      ],
    });
    expect(await outcomes(p, 1, 'a')).toEqual(['auth']);
    // The second rule saw the call to 'a' too, so its next multiple of 2 is the call below.
    expect(await outcomes(p, 3, 'b')).toEqual(['server', 'ok', 'server']);
  });
});

describe('simulated: stalls, cuts, slowness, filtering', () => {
  it('a stall before the first token sends no event at all until the call is aborted', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'stall' }] });
    const controller = new AbortController();
    const got: StreamEvent[] = [];
    const reading = track(
      (async () => {
        for await (const e of p.stream(request(), call('m', controller.signal))) got.push(e);
      })(),
    );
    await clock.advance(3_600_000);
    expect(got).toEqual([]);
    expect(reading.state).toBe('pending');
    expect(p.control.inFlight).toBe(1);
    controller.abort();
    await clock.advance(0);
    expect(reading.state).toBe('rejected');
    expect((reading.error as LlmError).kind).toBe('aborted');
    expect(got).toEqual([]);
    expect(p.control.aborted).toBe(1);
    expect(p.control.inFlight).toBe(0);
    expect(p.control.log[0]).toMatchObject({ outcome: 'aborted', aborted: true, fault: 'stall', chunks: 0, endedAt: 3_600_000 });
  });

  it('a stall on the shared never-aborting signal adds no listener to it', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'stall' }] });
    const stalled = track(p.chat(request(), call('m', NEVER_ABORTED)));
    await clock.advance(60_000);
    expect(stalled.state).toBe('pending');
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
  });

  it('a stall mid-stream sends some text, then nothing; an attempt timeout ends it as kind timeout', async () => {
    const { clock, p } = setup({ reply: 'a b c d', faults: [{ kind: 'stall', when: 'mid_stream', afterChunks: 2 }] });
    const controller = new AbortController();
    clock.setTimer(10_000, () => controller.abort(new TimeoutError('attempt', 10_000)));
    const { got, error } = await readStream(clock, p.stream(request(), call('m', controller.signal)));
    expect(texts(got)).toEqual(['a ', 'b ']);
    expect(types(got)).toEqual(['start', 'text', 'text']);
    expect(error?.kind).toBe('timeout');
    expect(clock.now()).toBe(10_000);
    expect(p.control.aborted).toBe(1);
    expect(p.control.log[0]).toMatchObject({ outcome: 'timeout', aborted: true, chunks: 2 });
  });

  it('stallFor resumes the stream after the stall, before the first token or mid-stream', async () => {
    const before = setup({ reply: 'a b', firstToken: 100, chunkInterval: 10, faults: [{ kind: 'stall', stallFor: '5s' }] });
    const r1 = await readStream(before.clock, before.p.stream(request(), call()));
    expect(r1.got.map((t) => [t.at, t.event.type])).toEqual([
      [5100, 'start'],
      [5100, 'text'],
      [5110, 'text'],
      [5110, 'usage'],
      [5110, 'finish'],
    ]);
    const mid = setup({
      reply: 'a b c',
      chunkInterval: 10,
      faults: [{ kind: 'stall', when: 'mid_stream', afterChunks: 1, stallFor: '1s' }],
    });
    const r2 = await readStream(mid.clock, mid.p.stream(request(), call()));
    expect(r2.got.filter((t) => t.event.type === 'text').map((t) => t.at)).toEqual([0, 1010, 1020]);
    expect(r2.error).toBeUndefined();
    // chat() simply takes longer.
    const chat = setup({ latency: 100, faults: [{ kind: 'stall', stallFor: '2s' }] });
    await chat.clock.run(chat.p.chat(request(), call()));
    expect(chat.clock.now()).toBe(2100);
  });

  it('a stall in chat() without stallFor hangs until aborted', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'stall' }] });
    const controller = new AbortController();
    const t = track(p.chat(request(), call('m', controller.signal)));
    await clock.advance(86_400_000);
    expect(t.state).toBe('pending');
    controller.abort('client left');
    await clock.advance(0);
    expect((t.error as LlmError).kind).toBe('aborted');
  });

  it('a cut mid-stream ends without finish: a connection error after the text', async () => {
    const { clock, p } = setup({ reply: 'a b c', faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 2 }] });
    const { got, error } = await readStream(clock, p.stream(request(), call()));
    expect(texts(got)).toEqual(['a ', 'b ']);
    expect(types(got)).not.toContain('finish');
    expect([error?.kind, error?.code]).toEqual(['connection', 'stream_truncated']);
    // collectStream sees the same.
    await expect(clock.run(collectStream(p.stream(request(), call())))).rejects.toMatchObject({ kind: 'connection' });
  });

  it('a cut before the first token is a connection error with no event; chat() with a cut fails with connection', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'cut' }] });
    const { got, error } = await readStream(clock, p.stream(request(), call()));
    expect(got).toEqual([]);
    expect([error?.kind, error?.code]).toEqual(['connection', 'ECONNRESET']);
    const mid = setup({ faults: [{ kind: 'cut', when: 'mid_stream' }] });
    expect((await failure(mid.clock, mid.p.chat(request(), call()))).kind).toBe('connection');
  });

  it('slow multiplies the waits by factor and adds slowBy to the first token and the latency', async () => {
    const { clock, p } = setup({ reply: 'a b', firstToken: 100, chunkInterval: 50, faults: [{ kind: 'slow', factor: 3, slowBy: '1s' }] });
    const { got } = await readStream(clock, p.stream(request(), call()));
    expect(got.filter((t) => t.event.type === 'text').map((t) => t.at)).toEqual([1300, 1450]);
    const chat = setup({ latency: 200, faults: [{ kind: 'slow', factor: 2, slowBy: 50 }] });
    const r = await chat.clock.run(chat.p.chat(request(), call()));
    expect(chat.clock.now()).toBe(450);
    expect(r.finishReason).toBe('stop');
    expect(chat.p.control.log[0]).toMatchObject({ outcome: 'ok', fault: 'slow', cause: 'fault' });
  });

  it('filtered answers finish content_filter: no text before the first token, the text so far mid-stream', async () => {
    const { clock, p } = setup({ reply: 'a b c', faults: [{ kind: 'filtered', times: 1 }, { kind: 'filtered', when: 'mid_stream', afterChunks: 2 }] });
    const whole = await clock.run(p.chat(request(), call()));
    expect([whole.text, whole.finishReason, whole.rawFinishReason]).toEqual(['', 'content_filter', 'content_filter']);
    const { got, error } = await readStream(clock, p.stream(request(), call()));
    expect(error).toBeUndefined();
    expect(texts(got)).toEqual(['a ', 'b ']);
    expect(got.at(-1)!.event).toEqual({ type: 'finish', finishReason: 'content_filter', rawFinishReason: 'content_filter' });
    const partial = await clock.run(p.chat(request(), call()));
    expect([partial.text, partial.finishReason]).toEqual(['a b ', 'content_filter']);
  });
});

describe('simulated: rate limits and concurrency', () => {
  it('turns calls away past requestsPerMinute with the wait until the window frees, and reports remaining', async () => {
    const { clock, p } = setup({ rateLimit: { requestsPerMinute: 3 } });
    const remaining: Array<number | undefined> = [];
    for (const at of [0, 10_000, 20_000]) {
      await clock.advance(at - clock.now());
      const r = await clock.run(p.chat(request(), call()));
      remaining.push(r.rateLimit?.requests?.remaining);
    }
    expect(remaining).toEqual([2, 1, 0]);
    await clock.advance(30_000 - clock.now());
    const e = await failure(clock, p.chat(request(), call()));
    expect([e.kind, e.status, e.code]).toEqual(['rate_limit', 429, 'rate_limit_exceeded']);
    expect(e.retryAfterMs).toBe(30_000);
    expect(e.rateLimit?.requests).toEqual({ limit: 3, remaining: 0, resetMs: 30_000 });
    expect(p.control.log.at(-1)).toMatchObject({ outcome: 'rate_limit', cause: 'rate_limit' });
    // One millisecond early is still too early; at the reset it is admitted.
    await clock.advance(30_000 - 1);
    expect((await failure(clock, p.chat(request(), call()))).retryAfterMs).toBe(1);
    await clock.advance(1);
    const ok = await clock.run(p.chat(request(), call()));
    expect(ok.rateLimit?.requests).toEqual({ limit: 3, remaining: 0, resetMs: 10_000 });
  });

  it('counts tokens per minute (input and output) and rejects a request larger than the limit as context_length', async () => {
    // Each call: 4 input tokens ('x' * 16) + 4 output tokens ('y' * 16) = 8 tokens.
    const { clock, p } = setup({ reply: 'y'.repeat(16), rateLimit: { tokensPerMinute: 20 } });
    await clock.run(p.chat(request('x'.repeat(16)), call()));
    await clock.advance(5000);
    const second = await clock.run(p.chat(request('x'.repeat(16)), call()));
    expect(second.rateLimit?.tokens).toEqual({ limit: 20, remaining: 4, resetMs: 55_000 });
    const e = await failure(clock, p.chat(request('x'.repeat(16)), call()));
    expect([e.kind, e.type, e.retryAfterMs]).toEqual(['rate_limit', 'tokens', 55_000]);
    const big = await failure(clock, p.chat(request('x'.repeat(100)), call()));
    expect([big.kind, big.status]).toEqual(['context_length', 429]);
    expect(big.message).toContain('Request too large');
  });

  it('answers overloaded past the concurrency limit, and takes calls again once one ends', async () => {
    const { clock, p } = setup({ latency: 1000, concurrency: 2 });
    const a = track(p.chat(request(), call()));
    const b = track(p.chat(request(), call()));
    expect(p.control.inFlight).toBe(2);
    const e = (await p.chat(request(), call()).catch((x: unknown) => x)) as LlmError;
    expect([e.kind, e.status, e.code]).toEqual(['overloaded', 503, 'concurrency_limit']);
    expect(p.control.inFlight).toBe(2);
    await clock.advance(1000);
    expect([a.state, b.state]).toEqual(['resolved', 'resolved']);
    await expect(clock.run(p.chat(request(), call()))).resolves.toBeDefined();
    expect(p.control.log.map((r) => r.cause)).toEqual([undefined, undefined, 'concurrency', undefined]);
  });
});

describe('simulated: aborts', () => {
  it('an abort during the latency ends chat() at once with kind aborted, and is counted', async () => {
    const { clock, p } = setup({ latency: '10s' });
    const controller = new AbortController();
    const t = track(p.chat(request(), call('m', controller.signal)));
    await clock.advance(2000);
    controller.abort(new Error('hedge lost'));
    await clock.advance(0);
    expect(t.state).toBe('rejected');
    expect((t.error as LlmError).kind).toBe('aborted');
    expect(clock.pendingTimers).toBe(0);
    expect(p.control.aborted).toBe(1);
    expect(p.control.log[0]).toMatchObject({ outcome: 'aborted', aborted: true, endedAt: 2000 });
  });

  it('an abort while waiting for the first token ends the stream without an event; a policy timeout becomes kind timeout', async () => {
    const { clock, p } = setup({ firstToken: '8s' });
    const controller = new AbortController();
    clock.setTimer(3000, () => controller.abort(new TimeoutError('deadline', 3000)));
    const { got, error } = await readStream(clock, p.stream(request(), call('m', controller.signal)));
    expect(got).toEqual([]);
    expect([error?.kind, error?.code]).toEqual(['timeout', 'deadline_timeout']);
    expect(p.control.aborted).toBe(1);
  });

  it('an abort between chunks ends the stream with the text so far', async () => {
    const { clock, p } = setup({ reply: 'a b c d', chunkInterval: 100 });
    const controller = new AbortController();
    clock.setTimer(150, () => controller.abort());
    const { got, error } = await readStream(clock, p.stream(request(), call('m', controller.signal)));
    expect(texts(got)).toEqual(['a ', 'b ']);
    expect(error?.kind).toBe('aborted');
    expect(p.control.log[0]).toMatchObject({ aborted: true, chunks: 2, endedAt: 150 });
  });

  it('an abort while the consumer handles an event stops the stream at the next read, even with no wait left', async () => {
    const { clock, p } = setup({ reply: 'a b c' });
    const controller = new AbortController();
    const seen: string[] = [];
    const { error } = await readStream(
      clock,
      (async function* () {
        for await (const e of p.stream(request(), call('m', controller.signal))) {
          if (e.type === 'text') {
            seen.push(e.text);
            controller.abort();
          }
          yield e;
        }
      })(),
    );
    expect(seen).toEqual(['a ']);
    expect(error?.kind).toBe('aborted');
    expect(p.control.log[0]).toMatchObject({ outcome: 'aborted', aborted: true, chunks: 1 });

    // Aborted on `start`: not one chunk follows.
    const second = new AbortController();
    const got: string[] = [];
    const late = await readStream(
      clock,
      (async function* () {
        for await (const e of p.stream(request(), call('m', second.signal))) {
          got.push(e.type);
          if (e.type === 'start') second.abort();
          yield e;
        }
      })(),
    );
    expect(got).toEqual(['start']);
    expect(late.error?.kind).toBe('aborted');
  });

  it('a signal aborted before the call fails it at once', async () => {
    const { p } = setup();
    const e = (await p.chat(request(), call('m', AbortSignal.abort())).catch((x: unknown) => x)) as LlmError;
    expect(e.kind).toBe('aborted');
    expect(p.control.aborted).toBe(1);
    expect(p.control.inFlight).toBe(0);
  });

  it('a consumer that breaks out of a stream cancels it (not an abort); one that aborts and then breaks counts as aborted', async () => {
    const { clock, p } = setup({ reply: 'a b c', chunkInterval: 10 });
    await clock.run(async () => {
      for await (const e of p.stream(request(), call())) if (e.type === 'text') break;
    });
    expect(p.control.log[0]).toMatchObject({ outcome: 'cancelled', aborted: false, chunks: 1 });
    const controller = new AbortController();
    await clock.run(async () => {
      for await (const e of p.stream(request(), call('m', controller.signal))) {
        if (e.type === 'text') {
          controller.abort();
          break;
        }
      }
    });
    expect(p.control.log[1]).toMatchObject({ outcome: 'aborted', aborted: true });
    expect(p.control.aborted).toBe(1);
    expect(p.control.inFlight).toBe(0);
  });
});

describe('simulated: runtime control', () => {
  it('injectOutage fails every call for its duration, ahead of the script; its dispose ends it early', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'server', every: 2 }] });
    const end = p.control.injectOutage('rate_limit', '1h', { retryAfter: '20s' });
    expect(p.control.outages).toEqual([{ kind: 'rate_limit', from: 0, until: 3_600_000 }]);
    const e = await failure(clock, p.chat(request(), call()));
    expect([e.kind, e.retryAfterMs]).toEqual(['rate_limit', 20_000]);
    expect(p.control.log[0]).toMatchObject({ cause: 'outage', fault: 'rate_limit' });
    await clock.advance(3_600_000);
    expect(p.control.outages).toEqual([]);
    // The script counted the outage call too: this is its second call in scope.
    expect((await failure(clock, p.chat(request(), call()))).kind).toBe('server');
    p.control.injectOutage('auth', '1h');
    end(); // ending an outage already over is harmless
    const end2 = p.control.injectOutage('overloaded', '1h');
    expect((await failure(clock, p.chat(request(), call()))).kind).toBe('overloaded');
    end2();
    expect((await failure(clock, p.chat(request(), call()))).kind).toBe('auth');
  });

  it('clear removes the script and the outages; setFaults replaces the script and restarts its counters', async () => {
    const { clock, p } = setup({ faults: [{ kind: 'server' }] });
    p.control.injectOutage('quota', '1h');
    p.control.clear();
    expect(p.control.faults).toEqual([]);
    expect(p.control.outages).toEqual([]);
    await expect(clock.run(p.chat(request(), call()))).resolves.toBeDefined();
    p.control.setFaults([{ kind: 'timeout', times: 1 }]);
    expect(p.control.faults).toEqual([{ kind: 'timeout', times: 1 }]);
    expect((await failure(clock, p.chat(request(), call()))).kind).toBe('timeout');
    await expect(clock.run(p.chat(request(), call()))).resolves.toBeDefined();
    p.control.setFaults([{ kind: 'timeout', times: 1 }]);
    expect((await failure(clock, p.chat(request(), call()))).kind).toBe('timeout');
    expect(p.control.calls).toBe(4);
  });

  it('keeps the most recent logLimit calls in the log', async () => {
    const { clock, p } = setup({ logLimit: 3 });
    for (let i = 0; i < 10; i++) await clock.run(p.chat(request(), call()));
    expect(p.control.log.map((r) => r.call)).toEqual([8, 9, 10]);
    expect(p.control.calls).toBe(10);
  });

  it('rejects invalid options with the field named', () => {
    expect(() => simulated({ faults: [{ kind: 'server' }, { kind: 'server', probability: 1.5 }] })).toThrow('faults[1].probability');
    expect(() => simulated({ faults: [{ kind: 'explode' as ErrorKind }] })).toThrow(/faults\[0\]\.kind/);
    expect(() => simulated({ faults: [{ kind: 'server', between: ['2h', '1h'] }] })).toThrow(/faults\[0\]\.between: ends before/);
    expect(() => simulated({ faults: [{ kind: 'server', every: 0 }] })).toThrow(/faults\[0\]\.every/);
    expect(() => simulated({ faults: [{ kind: 'stall', stallFor: 'soon' }] })).toThrow(/faults\[0\]\.stallFor/);
    expect(() => simulated({ latency: { dist: 'uniform', min: 5, max: 1 } })).toThrow(/^latency: max/);
    expect(() => simulated({ chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => simulated({ concurrency: 0 })).toThrow(/concurrency/);
    expect(() => simulated({ rateLimit: { requestsPerMinute: 0 } })).toThrow(/requestsPerMinute/);
    expect(() => simulated().control.setFaults([{ kind: 'cut', when: 'later' as 'mid_stream' }])).toThrow(/faults\[0\]\.when/);
  });
});

describe('simulated: determinism', () => {
  const options: Omit<SimulatedOptions, 'clock'> = {
    seed: 7,
    reply: (req, info) => ({
      text: `answer ${info.random.int(1, 1000)} to ${req.messages.length} message(s)`,
      toolCalls: info.random.chance(0.3) ? [{ name: 'lookup', arguments: { n: info.call } }] : [],
    }),
    firstToken: { dist: 'lognormal', median: 300, p99: 3000 },
    chunkInterval: { dist: 'normal', mean: 30, sd: 10 },
    faults: [
      { kind: 'server', probability: 0.15 },
      { kind: 'cut', when: 'mid_stream', afterChunks: 2, probability: 0.1 },
      { kind: 'filtered', when: 'mid_stream', afterChunks: 1, probability: 0.05 },
      { kind: 'rate_limit', every: 9, retryAfter: '3s' },
    ],
  };

  it('collectStream(stream()) equals chat() call by call for the same seed, and ends at the same time', async () => {
    const a = setup(options);
    const b = setup(options);
    let compared = 0;
    for (let i = 0; i < 60; i++) {
      const t0 = a.clock.now();
      const viaChat = await a.clock.run(a.p.chat(request(`q${i}`), call())).catch((e: unknown) => e);
      const chatMs = a.clock.now() - t0;
      const t1 = b.clock.now();
      const viaStream = await b.clock.run(collectStream(b.p.stream(request(`q${i}`), call()))).catch((e: unknown) => e);
      const streamMs = b.clock.now() - t1;
      expect(streamMs).toBe(chatMs);
      if (isLlmError(viaChat)) {
        expect(isLlmError(viaStream) && viaStream.kind).toBe(viaChat.kind);
      } else {
        expect(viaStream).toEqual(viaChat);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('the same seed and the same calls give identical outcomes and timings; another seed does not', async () => {
    const run = async (seed: number) => {
      const { clock, p } = setup({ ...options, seed });
      const results = await clock.run(
        Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            collectStream(p.stream(request(`q${i}`), call(i % 2 ? 'a' : 'b'))).then(
              (r) => r.text,
              (e: LlmError) => e.kind,
            ),
          ),
        ),
      );
      return { results, log: p.control.log.map((r) => ({ ...r })) };
    };
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    expect((await run(8)).log).not.toEqual(first.log);
    expect(new Set(first.log.map((r) => r.outcome)).size).toBeGreaterThan(2);
  });
});

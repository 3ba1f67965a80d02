import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { collectStream } from '../llm/collect-stream.js';
import { isLlmError, LlmError } from '../llm/llm-error.js';
import type { ChatRequest } from '../llm/chat-request.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { HedgeLostError } from '../policy/hedge.js';
import { retryBudget } from '../policy/retry-budget.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { simulated, type SimulatedOptions } from '../providers/simulated.js';
import type { ChatProvider } from '../providers/provider.js';
import { isAllTargetsFailedError, type AllTargetsFailedError } from './all-targets-failed.js';
import { createRouter, DEFAULT_STREAM_IDLE_MS, type RouterOptions } from './router.js';
import type { RouterEvent } from './router-events.js';

const ask: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };

function setup(specs: Record<string, Omit<SimulatedOptions, 'clock' | 'name'> & { contextWindow?: number }>, options: Partial<RouterOptions> = {}) {
  const clock = options.clock ?? createVirtualClock();
  const providers = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, simulated({ ...spec, name, clock })]));
  const router = createRouter({
    targets: Object.entries(specs).map(([name, spec]) => ({ provider: providers[name]!, model: 'm', id: name, contextWindow: spec.contextWindow })),
    clock,
    retry: { wait: 100 },
    ...options,
  });
  const events: RouterEvent[] = [];
  router.on('*', (e) => events.push(e));
  return { clock: clock as VirtualClock, providers, router, events };
}

async function failure(promise: Promise<unknown>): Promise<AllTargetsFailedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAllTargetsFailedError(error)).toBe(true);
  return error as AllTargetsFailedError;
}

async function collectEvents(stream: AsyncIterable<StreamEvent>): Promise<{ events: StreamEvent[]; error?: LlmError }> {
  const events: StreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (error) {
    expect(isLlmError(error)).toBe(true);
    return { events, error: error as LlmError };
  }
}

/** A hand-written provider whose stream is `stream` (its chat answers empty): raw providers' edge cases. */
const streamingProvider = (name: string, stream: ChatProvider['stream']): ChatProvider => ({
  name,
  protocol: 'function',
  chat: async () => ({ text: '', toolCalls: [], finishReason: 'stop' }),
  stream,
});

const text = (events: StreamEvent[]) => events.map((e) => (e.type === 'text' ? e.text : '')).join('');

describe('router: the fallback walk', () => {
  it('answers from the first target and records the attempt', async () => {
    const { clock, router } = setup({ a: { latency: 200 }, b: {} });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('a');
    expect(answer.text).toContain('hello');
    expect(answer.fallbacks).toBe(0);
    expect(answer.attempts).toEqual([expect.objectContaining({ target: 'a', attempt: 1, outcome: 'success', durationMs: 200, delayBeforeMs: 0 })]);
  });

  it('429 with Retry-After 30 s on A goes to B at once, and A is skipped until its reset', async () => {
    const { clock, router, providers, events } = setup({
      a: { faults: [{ kind: 'rate_limit', retryAfter: '30s', times: 1 }] },
      b: {},
    });
    const first = await clock.run(router.chat(ask));
    expect(first.target).toBe('b');
    expect(clock.now()).toBe(0); // no 30 s wait
    expect(first.attempts.map((a) => [a.target, a.outcome, a.kind])).toEqual([
      ['a', 'failure', 'rate_limit'],
      ['b', 'success', undefined],
    ]);
    expect(events.find((e) => e.type === 'cooldown')).toMatchObject({ target: 'a', until: 30_000, reason: 'rate_limit' });
    expect(events.find((e) => e.type === 'fallback')).toMatchObject({ from: 'a', to: 'b' });

    await clock.advance(10_000);
    const second = await clock.run(router.chat(ask));
    expect(second.target).toBe('b');
    expect(second.attempts[0]).toMatchObject({ target: 'a', outcome: 'skipped', skipReason: 'cooldown', availableAt: 30_000 });
    expect(providers.a!.control.calls).toBe(1);

    await clock.advance(20_000);
    const third = await clock.run(router.chat(ask));
    expect(third.target).toBe('a');
  });

  it('a short Retry-After is obeyed on the same target', async () => {
    const { clock, router } = setup({ a: { faults: [{ kind: 'rate_limit', retryAfter: '2s', times: 1 }] }, b: {} });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('a');
    expect(clock.now()).toBe(2000);
    expect(answer.attempts[1]).toMatchObject({ target: 'a', attempt: 2, outcome: 'success', delayBeforeMs: 2000 });
  });

  it('never retries insufficient quota, and cools the target down for long', async () => {
    const { clock, router, providers, events } = setup({ a: { faults: [{ kind: 'quota' }] }, b: {} }, { retry: { attempts: 5, wait: 10 } });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('b');
    expect(providers.a!.control.calls).toBe(1);
    expect(events.find((e) => e.type === 'cooldown')).toMatchObject({ target: 'a', reason: 'quota', until: 3_600_000 });
  });

  it('retries server errors on the same target with backoff, then falls back', async () => {
    const { clock, router, providers, events } = setup({ a: { faults: [{ kind: 'server' }] }, b: {} }, { retry: { attempts: 3, wait: 100 } });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('b');
    expect(providers.a!.control.calls).toBe(3);
    expect(events.filter((e) => e.type === 'retry').map((e) => (e as { delay: number }).delay)).toEqual([100, 100]);
    expect(clock.now()).toBe(200);
  });

  it('stops at once on invalid_request: it would fail everywhere', async () => {
    const { clock, router, providers } = setup({ a: { faults: [{ kind: 'invalid_request' }] }, b: {} });
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(providers.b!.control.calls).toBe(0);
  });

  it('context_length moves only to targets with a larger window', async () => {
    const { clock, router, providers } = setup({
      small: { contextWindow: 8_000, faults: [{ kind: 'context_length' }] },
      same: { contextWindow: 8_000 },
      large: { contextWindow: 200_000 },
    });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('large');
    expect(providers.same!.control.calls).toBe(0);
    expect(answer.attempts[1]).toMatchObject({ target: 'same', outcome: 'skipped', skipReason: 'context_window' });
  });

  it('auth errors disable the target for a while', async () => {
    const { clock, router, providers } = setup({ a: { faults: [{ kind: 'auth' }] }, b: {} });
    await clock.run(router.chat(ask));
    const second = await clock.run(router.chat(ask));
    expect(second.attempts[0]).toMatchObject({ target: 'a', skipReason: 'disabled' });
    expect(providers.a!.control.calls).toBe(1);
  });

  it('content filtered answers are returned, or fall back when the route asks', async () => {
    const kept = setup({ a: { faults: [{ kind: 'filtered' }] }, b: {} });
    const answer = await kept.clock.run(kept.router.chat(ask));
    expect(answer.target).toBe('a');
    expect(answer.finishReason).toBe('content_filter');

    const moved = setup({ a: { faults: [{ kind: 'filtered' }] }, b: {} }, { errors: { fallbackOnContentFilter: true } });
    expect((await moved.clock.run(moved.router.chat(ask))).target).toBe('b');
  });

  it("a target's own fallbackOnContentFilter decides for that target, over the route's (chat and stream)", async () => {
    const clock = createVirtualClock();
    const filtered = simulated({ name: 'a', clock, faults: [{ kind: 'filtered' }] });
    const healthy = simulated({ name: 'b', clock });
    const route = (own: boolean, routeWide?: boolean) =>
      createRouter({
        targets: [
          { provider: filtered, model: 'm', id: 'a', errors: { fallbackOnContentFilter: own } },
          { provider: healthy, model: 'm', id: 'b' },
        ],
        clock,
        ...(routeWide === undefined ? {} : { errors: { fallbackOnContentFilter: routeWide } }),
      });
    const moves = route(true);
    expect((await clock.run(moves.chat(ask))).target).toBe('b');
    const moved = moves.stream(ask);
    await clock.run(collectEvents(moved));
    expect(moved.target).toBe('b');

    const stays = route(false, true);
    const kept = await clock.run(stays.chat(ask));
    expect([kept.target, kept.finishReason]).toEqual(['a', 'content_filter']);
    const keptStream = stays.stream(ask);
    const { events } = await clock.run(collectEvents(keptStream));
    expect(keptStream.target).toBe('a');
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'content_filter' });
    moves.close();
    stays.close();
  });

  it('lists every attempt when all fail, with the most telling kind', async () => {
    const { clock, router } = setup(
      { a: { faults: [{ kind: 'overloaded' }] }, b: { faults: [{ kind: 'overloaded' }] }, c: { faults: [{ kind: 'auth' }] } },
      { retry: { attempts: 2, wait: 10 } },
    );
    const failures: unknown[] = [];
    router.onAllFailed((e, attempts) => failures.push([e.kind, attempts.length]));
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('overloaded');
    expect(error.attempts.map((a) => `${a.target}#${a.attempt}:${a.kind}`)).toEqual([
      'a#1:overloaded',
      'a#2:overloaded',
      'b#1:overloaded',
      'b#2:overloaded',
      'c#1:auth',
    ]);
    expect(error.message).toContain('a#1 overloaded');
    expect(failures).toEqual([['overloaded', 5]]);
  });

  it('a long-lived caller signal collects no listeners, even from providers that leave theirs (as fetch does)', async () => {
    const leaky: ChatProvider = {
      name: 'leaky',
      protocol: 'function',
      chat: async (_request, call) => {
        call.signal.addEventListener('abort', () => {});
        return { text: 'ok', toolCalls: [], finishReason: 'stop' };
      },
      async *stream() {},
    };
    const router = createRouter({ targets: [{ provider: leaky, model: 'm' }] });
    const app = new AbortController();
    for (let i = 0; i < 30; i++) await router.chat({ ...ask, signal: app.signal });
    expect(getEventListeners(app.signal, 'abort')).toHaveLength(0);
    router.close();
  });

  it('says when the earliest target returns if all are cooling down', async () => {
    const { clock, router } = setup({
      a: { faults: [{ kind: 'rate_limit', retryAfter: '40s' }] },
      b: { faults: [{ kind: 'rate_limit', retryAfter: '25s' }] },
    });
    await failure(clock.run(router.chat(ask)));
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('rate_limit');
    expect(error.retryAfterMs).toBe(25_000);
    expect(error.attempts.every((a) => a.skipReason === 'cooldown')).toBe(true);
  });

  it('says when the earliest target returns from the very 429 that started the cooldowns', async () => {
    const { clock, router } = setup(
      {
        a: { faults: [{ kind: 'rate_limit', retryAfter: '40s' }] },
        b: { faults: [{ kind: 'rate_limit', retryAfter: '30s' }] },
      },
      { retry: { maxRetryAfter: '5s' } },
    );
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('rate_limit');
    expect(error.retryAfterMs).toBe(30_000);
    expect(error.attempts.map((a) => [a.target, a.outcome, a.availableAt])).toEqual([
      ['a', 'failure', 40_000],
      ['b', 'failure', 30_000],
    ]);
  });

  it('gives no retryAfterMs when a failed target stays available, even if another cools down', async () => {
    const { clock, router } = setup(
      { a: { faults: [{ kind: 'server' }] }, b: { faults: [{ kind: 'rate_limit', retryAfter: '40s' }] } },
      { retry: { attempts: 1, maxRetryAfter: '5s' }, breaker: false },
    );
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.attempts.map((a) => [a.target, a.availableAt])).toEqual([
      ['a', undefined],
      ['b', 40_000],
    ]);
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('opens the breaker after the threshold, skips the target, and half-opens later', async () => {
    const { clock, router, providers, events } = setup(
      { a: { faults: [{ kind: 'server', between: ['0s', '20s'] }] }, b: {} },
      { breaker: { consecutive: 3, openFor: '30s' }, retry: { attempts: 1 } },
    );
    for (let i = 0; i < 3; i++) await clock.run(router.chat(ask));
    expect(events.filter((e) => e.type === 'breaker')).toEqual([expect.objectContaining({ target: 'a', from: 'closed', to: 'open' })]);
    const skipped = await clock.run(router.chat(ask));
    expect(skipped.attempts[0]).toMatchObject({ target: 'a', skipReason: 'breaker_open' });
    expect(providers.a!.control.calls).toBe(3);

    await clock.advance(30_000);
    const probe = await clock.run(router.chat(ask));
    expect(probe.target).toBe('a');
    expect(events.filter((e) => e.type === 'breaker').map((e) => (e as { to: string }).to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('a 2-hour outage of the primary: traffic flows through B at full success', async () => {
    const { clock, router, providers } = setup(
      { a: { latency: 50, faults: [{ kind: 'overloaded', between: ['1m', '2h1m'] }] }, b: { latency: 80 } },
      { breaker: { consecutive: 5, openFor: '1m' }, retry: { attempts: 2, wait: 50 } },
    );
    const served: Record<string, number> = { a: 0, b: 0 };
    for (let minute = 0; minute < 180; minute++) {
      const answer = await clock.run(router.chat(ask));
      served[answer.target]!++;
      await clock.advance(60_000);
    }
    expect(served.a! + served.b!).toBe(180);
    expect(served.b).toBeGreaterThanOrEqual(119);
    // While the breaker is open the primary is barely touched: a probe a minute at most.
    expect(providers.a!.control.calls).toBeLessThan(180 + 130);
    expect(served.a).toBeGreaterThanOrEqual(59);
  });

  it('a caller abort stops everything and is not retried', async () => {
    const { clock, router, providers } = setup({ a: { latency: 1000 }, b: {} });
    const controller = new AbortController();
    const call = router.chat({ ...ask, signal: controller.signal });
    const outcome = call.catch((e: unknown) => e);
    await clock.advance(300);
    controller.abort(new Error('user left'));
    const error = (await outcome) as LlmError;
    expect(error.kind).toBe('aborted');
    expect(providers.a!.control.aborted).toBe(1);
    expect(providers.b!.control.calls).toBe(0);
  });

  it('the total deadline covers every attempt and wait', async () => {
    const { clock, router } = setup(
      { a: { latency: 4000 }, b: { latency: 4000 } },
      { timeouts: { total: '5s', attempt: '3s' }, retry: { attempts: 1 } },
    );
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('timeout');
    expect(clock.now()).toBe(5000);
  });

  it('honours the ignore list and tool support', async () => {
    const { clock, router } = setup({ a: {}, b: {} });
    expect((await clock.run(router.chat(ask, { ignore: ['a'] }))).target).toBe('b');
  });

  it('adds and removes targets while traffic flows', async () => {
    const { clock, router } = setup({ a: { faults: [{ kind: 'server' }] } }, { retry: { attempts: 1 } });
    await failure(clock.run(router.chat(ask)));
    router.addTarget({ provider: simulated({ name: 'c', clock }), model: 'm', id: 'c' });
    expect((await clock.run(router.chat(ask))).target).toBe('c');
    expect(router.removeTarget('c')).toBe(true);
    expect(router.removeTarget('c')).toBe(false);
    expect(router.targets().map((t) => t.id)).toEqual(['a']);
  });

  it('rejects bad options with a clear TypeError', () => {
    expect(() => createRouter({ targets: [{ provider: {} as never, model: 'x' }] })).toThrow(/targets\[0\]\.provider/);
    const provider = simulated({});
    expect(() => createRouter({ targets: [{ provider, model: 'x' }, { provider, model: 'x' }] })).toThrow(/duplicate/);
  });

  it('rejects bad breaker options with a TypeError naming the breaker option', () => {
    const targets = [{ provider: simulated({}), model: 'x' }];
    const refused = (breaker: object) => () => createRouter({ targets, breaker: breaker as never });
    expect(refused({ window: '30s', failureRate: 2, minCalls: 10 })).toThrow(new TypeError('breaker.failureRate must be in (0, 1], got 2'));
    expect(refused({ consecutive: 3, halfOpen: { probes: 0 } })).toThrow(new TypeError('breaker.halfOpen.probes must be a positive integer, got 0'));
    expect(refused({ consecutive: 3, window: '10s' })).toThrow(new TypeError('breaker: give only one of `consecutive`, `count` and `window`'));
    expect(refused({ consecutive: 3, openFor: { initial: '1s' } })).toThrow(/^breaker\.openFor\.max: invalid duration: undefined/);
    expect(() => createRouter({ targets, breaker: { consecutive: 3, openFor: { initial: '1s', max: '1m' } } }).close()).not.toThrow();
  });
});

describe('router: streaming and the commit point', () => {
  it('streams from the first target with exactly one start', async () => {
    const { clock, router } = setup({ a: { firstToken: 100, chunkInterval: 10 }, b: {} });
    const stream = router.stream({ messages: [{ role: 'user', content: 'one two three' }] });
    const { events, error } = await clock.run(collectEvents(stream));
    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(events[events.length - 1]!.type).toBe('finish');
    expect(text(events)).toContain('one two three');
    expect(stream.target).toBe('a');
  });

  it('a stall before the first token falls back invisibly: one start, all the text', async () => {
    const { clock, router, providers } = setup(
      { a: { faults: [{ kind: 'stall' }] }, b: { chunkInterval: 5 } },
      { timeouts: { firstToken: '2s' }, retry: { attempts: 1 } },
    );
    const stream = router.stream(ask);
    const { events, error } = await clock.run(collectEvents(stream));
    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(text(events)).toBe(await clock.run(collectStream(providers.b!.stream(ask, { model: 'm', signal: new AbortController().signal }))).then((r) => r.text));
    expect(stream.target).toBe('b');
    expect(stream.attempts[0]).toMatchObject({ target: 'a', kind: 'timeout' });
    expect(providers.a!.control.aborted).toBe(1);
    expect(clock.now()).toBeGreaterThanOrEqual(2000);
  });

  it('an error before the first token retries invisibly', async () => {
    const { clock, router } = setup({ a: { faults: [{ kind: 'overloaded', times: 1 }] } }, { retry: { attempts: 2, wait: 10 } });
    const { events, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
  });

  it('a stall after the first token ends with a typed error, no duplicate text', async () => {
    const { clock, router, providers } = setup(
      { a: { chunkInterval: 10, faults: [{ kind: 'stall', when: 'mid_stream', afterChunks: 2 }] }, b: {} },
      { timeouts: { idle: '5s' } },
    );
    const request: ChatRequest = { messages: [{ role: 'user', content: 'alpha beta gamma delta' }] };
    const stream = router.stream(request);
    const { events, error } = await clock.run(collectEvents(stream));
    expect(error?.kind).toBe('timeout');
    expect(error?.code).toBe('idle_timeout');
    // One attempt, recorded once: the success at the commit point became the failure.
    expect(stream.attempts.map((a) => [a.target, a.attempt, a.outcome, a.kind])).toEqual([['a', 1, 'failure', 'timeout']]);
    expect(stream.attempts[0]!.durationMs).toBeGreaterThanOrEqual(5000);
    const written = text(events);
    expect(written.length).toBeGreaterThan(0);
    expect('[a/m] alpha beta gamma delta'.startsWith(written)).toBe(true);
    expect(providers.b!.control.calls).toBe(0);
    expect(providers.a!.control.aborted).toBe(1);
  });

  it('without any timeouts set, a stall before the first token still ends after 5 minutes and falls back', async () => {
    const { clock, router, providers } = setup({ a: { faults: [{ kind: 'stall' }] }, b: {} }, { retry: { attempts: 1 } });
    const started = clock.now();
    const { events, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error).toBeUndefined();
    expect(text(events)).toContain('[b/m]');
    expect(clock.now() - started).toBe(DEFAULT_STREAM_IDLE_MS);
    expect(providers.a!.control.aborted).toBe(1);
  });

  it('the default idle timeout never cuts a longer first-token wait the route allows', async () => {
    // Silent for 6 minutes before the first token, under firstToken: 10m and no idle set.
    const { clock, router } = setup({ a: { firstToken: '6m' } }, { timeouts: { firstToken: '10m' } });
    const { events, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error).toBeUndefined();
    expect(text(events)).toContain('[a/m]');
  });

  it('the idle timer measures each gap, not the whole stream, and not the consumer\'s own pauses', async () => {
    // Gaps of 3 s under an idle limit of 5 s, over a stream much longer than 5 s in all.
    const { clock, router } = setup({ a: { chunkInterval: 3000 } }, { timeouts: { idle: '5s', total: '10m' } });
    const request: ChatRequest = { messages: [{ role: 'user', content: 'one two three four five six seven eight' }] };
    const started = clock.now();
    const { events, error } = await clock.run(collectEvents(router.stream(request)));
    expect(error).toBeUndefined();
    expect(clock.now() - started).toBeGreaterThan(20_000);
    expect(events.at(-1)?.type).toBe('finish');

    // A consumer that waits 20 s between reads is not an idle upstream.
    const slow = async () => {
      const seen: string[] = [];
      for await (const event of router.stream(request)) {
        seen.push(event.type);
        await clock.sleep(20_000);
      }
      return seen;
    };
    const seen = await clock.run(slow());
    expect(seen.at(-1)).toBe('finish');
  });

  it('a cut after the first token is a typed connection error', async () => {
    const { clock, router } = setup({ a: { faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 1 }] }, b: {} });
    const { events, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error?.kind).toBe('connection');
    expect(events.some((e) => e.type === 'finish')).toBe(false);
  });

  it('breaking out of the loop stops the upstream stream', async () => {
    const { clock, router, providers } = setup({ a: { chunkInterval: 100 } });
    const run = async () => {
      for await (const event of router.stream({ messages: [{ role: 'user', content: 'a b c d e f g' }] })) {
        if (event.type === 'text') break;
      }
    };
    await clock.run(run());
    expect(providers.a!.control.aborted).toBe(1);
  });
});

describe('router: hedging', () => {
  it('starts the next target when the first is slow; the hedge wins and the loser is aborted', async () => {
    const { clock, router, providers, events } = setup({ a: { latency: 10_000 }, b: { latency: 500 } }, { hedge: { delay: '2s' }, budget: false });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('b');
    expect(clock.now()).toBe(2500);
    expect(providers.a!.control.aborted).toBe(1);
    expect(events.find((e) => e.type === 'hedge')).toMatchObject({ target: 'b', afterMs: 2000 });
  });

  it("the loser's signal says why, with the policy layer's HedgeLostError naming the winning lane", async () => {
    const clock = createVirtualClock();
    const reasons: unknown[] = [];
    const slow: ChatProvider = {
      ...streamingProvider('slow', async function* () {}),
      chat: (_request, { signal }) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => (reasons.push(signal.reason), reject(signal.reason)), { once: true })),
    };
    const fast = simulated({ name: 'fast', clock, latency: 10 });
    const router = createRouter({ clock, hedge: { delay: '1s' }, budget: false, targets: [{ provider: slow, model: 'm' }, { provider: fast, model: 'm' }] });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('fast/m');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(HedgeLostError);
    expect(reasons[0]).toMatchObject({ winner: 2, message: 'hedge lost: attempt 2 won' });
    expect(answer.attempts.find((a) => a.target === 'slow/m')).toMatchObject({ outcome: 'failure', kind: 'aborted' });
    router.close();
  });

  it('the first wins late: it answers after the hedge started, and the hedge is aborted', async () => {
    const { clock, router, providers } = setup({ a: { latency: 2500 }, b: { latency: 5000 } }, { hedge: { delay: '2s' }, budget: false });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('a');
    expect(clock.now()).toBe(2500);
    expect(providers.b!.control.calls).toBe(1);
    expect(providers.b!.control.aborted).toBe(1);
  });

  it('hedges streams on a slow first token: one start, only the winner text', async () => {
    const { clock, router, providers } = setup(
      { a: { firstToken: 10_000 }, b: { firstToken: 100, chunkInterval: 10 } },
      { hedge: { delay: '1s' }, budget: false },
    );
    const stream = router.stream(ask);
    const { events, error } = await clock.run(collectEvents(stream));
    expect(error).toBeUndefined();
    expect(stream.target).toBe('b');
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(text(events)).toBe('[b/m] hello');
    expect(providers.a!.control.aborted).toBe(1);
  });

  it('a call counts once in the retry budget, however many targets it tries', async () => {
    for (const targets of [1, 3]) {
      const clock = createVirtualClock();
      const budget = retryBudget({ ratio: 0.2, minPerSecond: 0, window: '10s', clock });
      const specs = Object.fromEntries(Array.from({ length: targets }, (_, i) => [`t${i}`, { faults: [{ kind: 'server' as const }] }]));
      const { router, events } = setup(specs, { clock, budget, breaker: false, retry: { attempts: 2, wait: 0 } });
      for (let i = 0; i < 100; i++) await clock.run(router.chat(ask).catch(() => undefined));
      expect(budget.snapshot().calls).toBe(100);
      // 20 % of 100 calls, whether one target or three failed each time.
      expect(events.filter((e) => e.type === 'retry')).toHaveLength(20);
      router.close();
    }
  });

  it('does not hedge when the budget refuses', async () => {
    const refuse = { recordCall() {}, tryAcquire: () => false, recordSuccess() {}, recordFailure() {} };
    const { clock, router, providers } = setup({ a: { latency: 3000 }, b: {} }, { hedge: { delay: '1s' }, budget: refuse });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('a');
    expect(providers.b!.control.calls).toBe(0);
  });

  it('a lane that fails moves on by itself; all failing lists every attempt', async () => {
    const { clock, router } = setup(
      { a: { latency: 3000, faults: [{ kind: 'server', delay: 3000 }] }, b: { faults: [{ kind: 'server', delay: 1500 }] }, c: { faults: [{ kind: 'server' }] } },
      { hedge: { delay: '1s' }, budget: false, retry: { attempts: 1 } },
    );
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.attempts.map((a) => a.target).sort()).toEqual(['a', 'b', 'c']);
    expect(error.kind).toBe('server');
  });
});

describe('router: per-request cost cap', () => {
  it('skips targets whose estimated cost is above maxCost, keeps unpriced ones', async () => {
    const clock = createVirtualClock();
    const router = createRouter({
      clock,
      targets: [
        { provider: simulated({ name: 'pricey', clock }), model: 'm', id: 'pricey', cost: { input: 15, output: 75 } },
        { provider: simulated({ name: 'cheap', clock }), model: 'm', id: 'cheap', cost: { input: 0.1, output: 0.4 } },
      ],
    });
    const answer = await clock.run(router.chat({ ...ask, maxTokens: 1000 }, { maxCost: 0.01 }));
    expect(answer.target).toBe('cheap');
    expect(answer.attempts[0]).toMatchObject({ target: 'pricey', outcome: 'skipped', skipReason: 'max_cost' });
    expect(answer.attempts[0]!.message).toMatch(/above maxCost/);
    await expect(router.chat(ask, { maxCost: -1 })).rejects.toThrow(TypeError);
  });
});

describe('router: resuming a stream after the commit point', () => {
  const long: ChatRequest = { messages: [{ role: 'user', content: 'alpha beta gamma delta' }] };

  it('continues on the next target with the partial answer as context: one start, text continues', async () => {
    let seenByB: ChatRequest | undefined;
    const { clock, router, providers, events } = setup(
      {
        a: { chunkInterval: 10, faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 2 }] },
        b: {
          reply: (request) => {
            seenByB = request;
            return ' gamma delta';
          },
        },
      },
      { resume: true },
    );
    const stream = router.stream(long);
    const { events: out, error } = await clock.run(collectEvents(stream));
    expect(error).toBeUndefined();
    expect(out.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(out.filter((e) => e.type === 'finish')).toHaveLength(1);
    const partial = '[a/m] alpha';
    expect(text(out).startsWith(partial)).toBe(true);
    expect(text(out).endsWith(' gamma delta')).toBe(true);
    expect(stream.target).toBe('b');
    expect(providers.b!.control.calls).toBe(1);
    expect(seenByB?.messages.slice(1)).toEqual([
      { role: 'assistant', content: text(out).slice(0, text(out).length - ' gamma delta'.length) },
      { role: 'user', content: expect.stringContaining('Continue') },
    ]);
    expect(events.find((e) => e.type === 'fallback')).toMatchObject({ from: 'a', to: 'b' });
    expect(stream.attempts.find((a) => a.target === 'a' && a.outcome === 'failure')?.message).toMatch(/after the first token/);
  });

  it('sends the partial text as an assistant turn plus an instruction (prefill for Anthropic)', async () => {
    const { continuationRequest } = await import('./resume.js');
    const base: ChatRequest = { messages: [{ role: 'user', content: 'q' }] };
    expect(continuationRequest(base, 'Hello wor', 'openai').messages.slice(1)).toEqual([
      { role: 'assistant', content: 'Hello wor' },
      { role: 'user', content: expect.stringContaining('Continue') },
    ]);
    expect(continuationRequest(base, 'Hello ', 'anthropic').messages.slice(1)).toEqual([{ role: 'assistant', content: 'Hello' }]);
    expect(base.messages).toHaveLength(1);
  });

  it('does not resume unless the route asks, nor in the middle of a tool call', async () => {
    const off = setup({ a: { chunkInterval: 10, faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 2 }] }, b: {} });
    const { error } = await off.clock.run(collectEvents(off.router.stream(long)));
    expect(error?.kind).toBe('connection');
    expect(off.providers.b!.control.calls).toBe(0);

    const tools = setup(
      {
        a: {
          reply: () => ({ text: '', toolCalls: [{ name: 'lookup', arguments: { q: 'x'.repeat(40) } }] }),
          chunkSize: 4,
          faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 2 }],
        },
        b: {},
      },
      { resume: true },
    );
    const result = await tools.clock.run(collectEvents(tools.router.stream(long)));
    expect(result.error?.kind).toBe('connection');
    expect(tools.providers.b!.control.calls).toBe(0);
  });
});

describe('router: per-target retry and error rules', () => {
  it('a target\'s own retry overrides the route\'s', async () => {
    const clock = createVirtualClock();
    const flaky = simulated({ name: 'flaky', clock, faults: [{ kind: 'server', times: 3 }] });
    const other = simulated({ name: 'other', clock });
    const router = createRouter({
      clock,
      retry: { attempts: 1, wait: 10 },
      targets: [
        { provider: flaky, model: 'm', id: 'flaky', retry: { attempts: 4 } },
        { provider: other, model: 'm', id: 'other' },
      ],
    });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('flaky');
    expect(flaky.control.calls).toBe(4);
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'failure', 'failure', 'success']);
  });

  it('a target\'s own error rules come before the route\'s', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, faults: [{ kind: 'server' }] });
    const b = simulated({ name: 'b', clock, faults: [{ kind: 'server' }] });
    const c = simulated({ name: 'c', clock });
    const router = createRouter({
      clock,
      retry: { attempts: 3, wait: 10 },
      targets: [
        { provider: a, model: 'm', id: 'a', errors: { fallbackOn: ['server'] } },
        { provider: b, model: 'm', id: 'b' },
        { provider: c, model: 'm', id: 'c' },
      ],
    });
    const answer = await clock.run(router.chat(ask));
    expect(answer.target).toBe('c');
    expect(a.control.calls).toBe(1); // moved on at once
    expect(b.control.calls).toBe(3); // the route's rule: retried
  });
});

describe('router: stream timers', () => {
  it('a stream read twice and then dropped leaves no idle timer running', async () => {
    const { clock, router } = setup({ a: { chunkInterval: 100 } }, { timeouts: { idle: '5s' } });
    const iterator = router.stream({ messages: [{ role: 'user', content: 'a b c d e f g' }] })[Symbol.asyncIterator]();
    await clock.run(iterator.next());
    await clock.run(iterator.next());
    // Dropped without return(): the idle timer must not keep re-arming itself.
    await clock.runAll();
  });
});

describe('router: signals reach function providers', () => {
  it('a function provider sees an abortable request.signal, as before the router stopped passing it', async () => {
    const { functionProvider } = await import('../providers/function-provider.js');
    let seen: AbortSignal | undefined;
    const router = createRouter({
      targets: [
        {
          provider: functionProvider({
            name: 'fn',
            chat: async (request) => {
              seen = request.signal;
              return 'ok';
            },
          }),
          model: 'm',
        },
      ],
    });
    const caller = new AbortController();
    await router.chat({ messages: [{ role: 'user', content: 'hi' }], signal: caller.signal });
    expect(seen).toBeInstanceOf(AbortSignal);
    router.close();
  });
});

describe('router: a stream provider that ignores its signal', () => {
  it('still ends at the idle timeout after the first token, typed, and the consumer is released', async () => {
    const clock = createVirtualClock();
    let stuck = false;
    const router = createRouter({
      clock,
      targets: [
        {
          model: 'm',
          provider: {
            name: 'deaf',
            protocol: 'function',
            chat: () => Promise.reject(new Error('not used')),
            async *stream() {
              yield { type: 'start' } as StreamEvent;
              yield { type: 'text', text: 'partial' } as StreamEvent;
              stuck = true;
              await new Promise(() => {}); // never settles, whatever the signal says
            },
          },
        },
      ],
      timeouts: { idle: '5s', total: '10m' },
    });
    const started = clock.now();
    const { events, error } = await clock.run(collectEvents(router.stream({ messages: [{ role: 'user', content: 'hi' }] })));
    expect(stuck).toBe(true);
    expect(events.some((e) => e.type === 'text')).toBe(true);
    expect(error?.code).toBe('idle_timeout');
    expect(clock.now() - started).toBe(5000);
    router.close();
  });
});

describe('router: a chat provider that ignores its signal', () => {
  it('cannot hold router.chat past timeouts.total', async () => {
    const clock = createVirtualClock();
    const deaf: ChatProvider = {
      ...streamingProvider('deaf', async function* () {}),
      // Answers after a minute whatever its signal says.
      chat: () => new Promise((resolve) => clock.setTimer(60_000, () => resolve({ text: 'late', toolCalls: [], finishReason: 'stop' }))),
    };
    const router = createRouter({ clock, timeouts: { total: '1s' }, breaker: false, targets: [{ provider: deaf, model: 'm' }] });
    const error = await failure(clock.run(router.chat(ask)));
    expect(error.kind).toBe('timeout');
    expect(clock.now()).toBe(1000);
    router.close();
  });
});

describe('router: a half-open probe that streams', () => {
  it('frees its probe slot at the first token, so a long probe stream does not hold the breaker half-open', async () => {
    const clock = createVirtualClock();
    const a = simulated({ name: 'a', clock, firstToken: 10, chunkInterval: 1000, faults: [{ kind: 'server', times: 1 }] });
    const b = simulated({ name: 'b', clock, latency: 10 });
    const router = createRouter({
      clock,
      retry: { attempts: 1 },
      breaker: { consecutive: 1, openFor: '1s', halfOpen: { probes: 1 } },
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: b, model: 'm', id: 'b' },
      ],
    });
    const long = { messages: [{ role: 'user' as const, content: 'one two three four five six' }] };
    expect((await clock.run(router.chat(long))).target).toBe('b'); // a failed: its breaker opened
    await clock.advance(1000);
    const probe = router.stream(long)[Symbol.asyncIterator]();
    await clock.run(probe.next());
    await clock.run(probe.next()); // the probe committed on a and is still streaming
    expect((await clock.run(router.chat(long))).target).toBe('a');
    await probe.return?.(undefined);
    router.close();
  });
});

describe('router: a stream is judged on how it ends, not on its first token', () => {
  /** A raw provider that plays `script` as its stream. */
  const raw = (name: string, script: () => StreamEvent[]): ChatProvider =>
    streamingProvider(name, async function* () {
      for (const event of script()) yield event;
    });

  it('failures after the first token trip the breaker, so a target that cuts every stream is skipped', async () => {
    const { clock, router, providers, events } = setup(
      { a: { faults: [{ kind: 'cut', when: 'mid_stream', afterChunks: 1 }] }, b: {} },
      { breaker: { consecutive: 3, openFor: '30s' }, retry: { attempts: 1 } },
    );
    for (let i = 0; i < 3; i++) expect((await clock.run(collectEvents(router.stream(ask)))).error?.kind).toBe('connection');
    expect(events.filter((e) => e.type === 'breaker')).toEqual([expect.objectContaining({ target: 'a', from: 'closed', to: 'open' })]);
    const { events: next, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error).toBeUndefined();
    expect(text(next)).toContain('[b/m]');
    expect(providers.a!.control.calls).toBe(3);
  });

  it('a consumer that stops at finish had the whole answer: a success, and the breaker hears so', async () => {
    const { clock, router, events } = setup({ a: {} }, { breaker: { consecutive: 1, openFor: '30s' } });
    const read = async () => {
      for await (const event of router.stream(ask)) if (event.type === 'finish') break;
    };
    await clock.run(read());
    expect(events.filter((e) => e.type === 'success' || e.type === 'failure').map((e) => e.type)).toEqual(['success']);
    expect(router.runtime('a')!.breaker!.state).toBe('closed');
  });

  it('a provider that reports its failure as an error event, or ends without finish, falls back before the commit', async () => {
    const overloaded = new LlmError({ kind: 'overloaded', message: 'busy' });
    for (const script of [() => [{ type: 'start' } as StreamEvent, { type: 'error', error: overloaded } as StreamEvent], () => [{ type: 'start' } as StreamEvent]]) {
      const router = createRouter({
        targets: [
          { provider: raw('a', script), model: 'm' },
          { provider: raw('b', () => [{ type: 'start' }, { type: 'text', text: 'from b' }, { type: 'finish', finishReason: 'stop' }]), model: 'm' },
        ],
        retry: { attempts: 1 },
      });
      const { events, error } = await collectEvents(router.stream(ask));
      expect(error).toBeUndefined();
      expect(text(events)).toBe('from b');
      router.close();
    }
  });

  it('a stream cut after the first token without finish is a typed error, never a clean end', async () => {
    const router = createRouter({ targets: [{ provider: raw('a', () => [{ type: 'start' }, { type: 'text', text: 'half' }]), model: 'm' }] });
    const { events, error } = await collectEvents(router.stream(ask));
    expect(text(events)).toBe('half');
    expect(error?.kind).toBe('connection');
    expect(error?.code).toBe('stream_truncated');
    router.close();
  });

  it('an answer filtered before any content falls back when the route says so, as chat does', async () => {
    const { clock, router } = setup({ a: { faults: [{ kind: 'filtered' }] }, b: {} }, { errors: { fallbackOnContentFilter: true } });
    const { events, error } = await clock.run(collectEvents(router.stream(ask)));
    expect(error).toBeUndefined();
    expect(text(events)).toContain('[b/m]');
  });

  it('rate-limit headers on a stream that say nothing is left cool the target down, as on chat', async () => {
    const limited = raw('a', () => [
      { type: 'start', rateLimit: { requests: { limit: 10, remaining: 0, resetMs: 20_000 } } },
      { type: 'text', text: 'last one' },
      { type: 'finish', finishReason: 'stop' },
    ]);
    const clock = createVirtualClock();
    const router = createRouter({
      targets: [
        { provider: limited, model: 'm', id: 'a' },
        { provider: raw('b', () => [{ type: 'start' }, { type: 'text', text: 'from b' }, { type: 'finish', finishReason: 'stop' }]), model: 'm', id: 'b' },
      ],
      clock,
    });
    expect(text((await clock.run(collectEvents(router.stream(ask)))).events)).toBe('last one');
    expect(text((await clock.run(collectEvents(router.stream(ask)))).events)).toBe('from b');
    router.close();
  });
});

describe('router: options', () => {
  it('refuses a strategy that is not a function (the YAML spelling is not the library one)', () => {
    const provider = simulated({ name: 'a' });
    expect(() => createRouter({ targets: [{ provider, model: 'm' }], strategy: 'round-robin' as never })).toThrow(/strategy must be a strategy function.*"round-robin"/);
  });
});

describe('router: the shared never-aborting signal', () => {
  it('concurrent streams without a caller signal hang no listener on it', async () => {
    const { NEVER_ABORTED } = await import('../policy/context.js');
    const { clock, router } = setup({ a: { chunkInterval: 10 } });
    const streams = Array.from({ length: 12 }, () => collectEvents(router.stream(ask)));
    await clock.advance(5);
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    await clock.run(Promise.all(streams));
  });
});

describe('router: requests no provider could take', () => {
  it('fail typed before any upstream call: no messages, an empty list, an unknown role', async () => {
    const { router, providers } = setup({ a: {} });
    const bad = [null, {}, { messages: [] }, { messages: 'hi' }, { messages: [{ role: 'robot', content: 'x' }] }] as unknown as ChatRequest[];
    for (const request of bad) {
      const error = await router.chat(request).then(() => undefined, (e: unknown) => e);
      expect(isLlmError(error) && error.kind).toBe('invalid_request');
      const streamed = await collectEvents(router.stream(request));
      expect(streamed.events).toEqual([]);
      expect(streamed.error?.kind).toBe('invalid_request');
    }
    expect((await router.chat({ messages: [{ role: 'robot', content: 'x' }] } as unknown as ChatRequest).catch((e: Error) => e.message))).toBe(
      'request.messages[0].role: expected system, user, assistant or tool, got "robot"',
    );
    expect(providers.a!.control.calls).toBe(0);
  });

  it('a provider that sends no start still gives the consumer exactly one', async () => {
    const bare = streamingProvider('bare', async function* () {
      yield { type: 'text', text: 'hi' };
      yield { type: 'finish', finishReason: 'stop' };
    });
    const router = createRouter({ targets: [{ provider: bare, model: 'm' }] });
    const { events } = await collectEvents(router.stream(ask));
    expect(events.map((e) => e.type)).toEqual(['start', 'text', 'finish']);
    router.close();
  });
});

describe('router: how a committed stream ends, from the review', () => {
  const events3 = (): StreamEvent[] => [{ type: 'start' }, { type: 'text', text: 'partial' }];

  it('a consumer that breaks on finish still stops the upstream (its cleanup runs)', async () => {
    let aborted = false;
    let cleaned = false;
    const provider = streamingProvider('p', async function* (_request, call) {
      call.signal.addEventListener('abort', () => (aborted = true));
      try {
        yield { type: 'start' };
        yield { type: 'text', text: 'done' };
        yield { type: 'finish', finishReason: 'stop' };
        yield { type: 'usage', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } };
      } finally {
        cleaned = true;
      }
    });
    const router = createRouter({ targets: [{ provider, model: 'm' }] });
    for await (const event of router.stream(ask)) if (event.type === 'finish') break;
    expect(aborted).toBe(true);
    expect(cleaned).toBe(true);
    router.close();
  });

  it("the call's own total deadline cutting a healthy answer does not count against the target", async () => {
    const { clock, router } = setup({ a: { chunkInterval: 50 } }, { timeouts: { total: '100ms' }, breaker: { consecutive: 2, openFor: '30s' } });
    const long: ChatRequest = { messages: [{ role: 'user', content: 'alpha beta gamma delta epsilon zeta eta theta' }] };
    for (let i = 0; i < 3; i++) expect((await clock.run(collectEvents(router.stream(long)))).error?.kind).toBe('timeout');
    expect(router.runtime('a')!.breaker!.state).toBe('closed');
  });

  it('a resume whose walk fails leaves every in-flight count at 0', async () => {
    const cut = streamingProvider('a', async function* () {
      for (const e of events3()) yield e;
      throw new LlmError({ kind: 'connection', message: 'reset' });
    });
    // eslint-disable-next-line require-yield
    const down = streamingProvider('b', async function* () {
      throw new LlmError({ kind: 'server', message: 'boom', status: 500 });
    });
    const router = createRouter({ targets: [{ provider: cut, model: 'm', id: 'A' }, { provider: down, model: 'm', id: 'B' }], resume: true, retry: { attempts: 1 } });
    expect((await collectEvents(router.stream(ask))).error).toBeDefined();
    expect([router.runtime('A')!.inFlight, router.runtime('B')!.inFlight]).toEqual([0, 0]);
    router.close();
  });

  it('a system prompt alone (no messages) is a request providers take', async () => {
    const { clock, router } = setup({ a: {} });
    const answer = await clock.run(router.chat({ system: 'Read this aloud', messages: [] }));
    expect(answer.target).toBe('a');
  });
});

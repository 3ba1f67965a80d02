import { describe, expect, it } from 'vitest';
import { circuitBreaker, type CircuitBreakerPolicy, type CircuitStateChangeEvent } from './circuit-breaker.js';
import type { PolicyContext } from './context.js';
import { BrokenCircuitError, IsolatedCircuitError, TimeoutError } from './errors.js';
import { createMemoryStore } from './memory-store.js';
import type { JsonValue, StateStore } from './state-store.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new Error('boom'));

async function fail(breaker: CircuitBreakerPolicy, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(boom)).rejects.toThrow('boom');
}

async function succeed(breaker: CircuitBreakerPolicy, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(ok)).resolves.toBe('ok');
}

function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An operation that takes `ms` on the virtual clock. */
const takes =
  (clock: VirtualClock, ms: number, outcome: 'ok' | 'boom' = 'ok') =>
  async ({ signal }: PolicyContext) => {
    await clock.sleep(ms, signal);
    if (outcome === 'boom') throw new Error('boom');
    return 'ok';
  };

function changes(breaker: CircuitBreakerPolicy): CircuitStateChangeEvent[] {
  const seen: CircuitStateChangeEvent[] = [];
  breaker.onStateChange((e) => seen.push(e));
  return seen;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('circuitBreaker: closed', () => {
  it('passes results, errors and the context through', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ clock });
    const ctx: PolicyContext = { signal: new AbortController().signal, attempt: 3, deadline: 99, elapsed: 7 };
    let seen: PolicyContext | undefined;
    await expect(breaker.execute((c) => ((seen = c), 42), ctx)).resolves.toBe(42);
    expect(seen).toBe(ctx);
    await expect(breaker.execute(() => 'sync')).resolves.toBe('sync');
    await expect(
      breaker.execute(() => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    expect(breaker.state).toBe('closed');
    expect(breaker.retryAfterMs).toBe(0);
  });

  it('defaults to 5 consecutive failures', async () => {
    const breaker = circuitBreaker({ clock: createVirtualClock() });
    await fail(breaker, 4);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('opens on consecutive failures, and a success starts the count again', async () => {
    const breaker = circuitBreaker({ consecutive: 3, clock: createVirtualClock() });
    const seen = changes(breaker);
    await fail(breaker, 2);
    await succeed(breaker, 1);
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(seen).toEqual([{ from: 'closed', to: 'open', reason: 'failures' }]);
  });

  it('opens a count window exactly at the rate, not before minCalls', async () => {
    const breaker = circuitBreaker({ count: 10, failureRate: 0.5, minCalls: 6, clock: createVirtualClock() });
    await fail(breaker, 5);
    expect(breaker.state).toBe('closed'); // 5 calls < minCalls
    await succeed(breaker, 1);
    expect(breaker.state).toBe('open'); // 5 of 6
  });

  it('keeps a count window closed below the rate', async () => {
    const breaker = circuitBreaker({ count: 4, failureRate: 0.75, minCalls: 4, clock: createVirtualClock() });
    await fail(breaker, 2);
    await succeed(breaker, 2);
    await fail(breaker, 2); // window: s s f f → 50%
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1); // s f f f → 75%
    expect(breaker.state).toBe('open');
  });

  it('opens a time window on the rate over recent calls only', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ window: '10s', failureRate: 0.5, minCalls: 4, clock });
    await fail(breaker, 3);
    await clock.advance(11_000); // those failures leave the window
    await succeed(breaker, 1);
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed'); // 3 calls in the window < minCalls
    await fail(breaker, 1);
    expect(breaker.state).toBe('open'); // 3 of 4
  });

  it('opens on the slow-call rate, while returning the slow results', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ count: 4, failureRate: 1, minCalls: 4, slowCall: { threshold: '1s', rate: 0.5 }, clock });
    const seen = changes(breaker);
    await expect(clock.run(breaker.execute(takes(clock, 1000)))).resolves.toBe('ok'); // exactly the threshold: not slow
    await expect(clock.run(breaker.execute(takes(clock, 1001)))).resolves.toBe('ok');
    await succeed(breaker, 2);
    expect(breaker.state).toBe('closed'); // 1 slow of 4
    await expect(clock.run(breaker.execute(takes(clock, 5000)))).resolves.toBe('ok');
    expect(breaker.state).toBe('open'); // 2 slow of the last 4
    expect(seen).toEqual([{ from: 'closed', to: 'open', reason: 'slow_calls' }]);
  });

  it('does not count calls that finish after the state they started in has ended', async () => {
    const breaker = circuitBreaker({ consecutive: 2, openFor: '10s', clock: createVirtualClock() });
    const late = deferred();
    const lateCall = breaker.execute(() => late.promise);
    await fail(breaker, 2);
    expect(breaker.state).toBe('open');
    late.reject(new Error('late'));
    await expect(lateCall).rejects.toThrow('late');
    expect(breaker.trips).toBe(1);
    expect(breaker.retryAfterMs).toBe(10_000);
  });
});

describe('circuitBreaker: open', () => {
  it('rejects with BrokenCircuitError carrying the time left, without calling', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: '30s', clock });
    const rejects: unknown[] = [];
    breaker.onReject((e) => rejects.push(e));
    await fail(breaker, 1);
    await clock.advance(10_000);
    let called = false;
    const error = await rejection(breaker.execute(() => (called = true)));
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect((error as BrokenCircuitError).retryAfterMs).toBe(20_000);
    expect(called).toBe(false);
    expect(breaker.retryAfterMs).toBe(20_000);
    expect(rejects).toEqual([{ state: 'open', retryAfterMs: 20_000 }]);
  });

  it('half-opens lazily on the first call after openFor, with no timer left behind', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, clock });
    const seen = changes(breaker);
    await fail(breaker, 1);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(999);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    await clock.advance(1);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs).toBe(0);
    await succeed(breaker, 1);
    expect(breaker.state).toBe('closed');
    expect(seen.map((e) => `${e.from}>${e.to}:${e.reason}`)).toEqual([
      'closed>open:failures',
      'open>half_open:open_elapsed',
      'half_open>closed:probes_succeeded',
    ]);
  });

  it('defaults openFor to 30s', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, clock });
    await fail(breaker, 1);
    expect(breaker.retryAfterMs).toBe(30_000);
  });

  it('does not let an already-aborted caller start a probe', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, clock });
    await fail(breaker, 1);
    await clock.advance(1000);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(breaker.execute(ok, { signal: controller.signal })).rejects.toThrow('gone');
    expect(breaker.state).toBe('open');
  });
});

describe('circuitBreaker: half-open', () => {
  it('admits N concurrent probes, rejects the rest, and closes after M successes', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, halfOpen: { probes: 2, successesToClose: 3 }, clock });
    await fail(breaker, 1);
    await clock.advance(1000);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    let started = 0;
    const calls = gates.map((gate) =>
      breaker.execute(() => {
        started++;
        return gate.promise;
      }),
    );
    const outcomes = await Promise.allSettled(calls.slice(2));
    expect(started).toBe(2);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as BrokenCircuitError;
      expect(reason).toBeInstanceOf(BrokenCircuitError);
      expect(reason.retryAfterMs).toBe(0);
    }
    expect(breaker.state).toBe('half_open');
    gates[0]!.resolve('a');
    gates[1]!.resolve('b');
    await expect(Promise.all(calls.slice(0, 2))).resolves.toEqual(['a', 'b']);
    expect(breaker.state).toBe('half_open'); // 2 of 3 successes
    await succeed(breaker, 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.trips).toBe(0);
  });

  it('defaults to one probe that closes on success', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, clock });
    await fail(breaker, 1);
    await clock.advance(1000);
    const gate = deferred();
    const probe = breaker.execute(() => gate.promise);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    gate.resolve('done');
    await expect(probe).resolves.toBe('done');
    expect(breaker.state).toBe('closed');
  });

  it('re-opens on a probe failure with the grown open duration, capped at max, reset after a close', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: { initial: '1s', max: '5s', factor: 2 }, clock });
    const seen = changes(breaker);
    await fail(breaker, 1);
    const opens: number[] = [breaker.retryAfterMs];
    for (let i = 0; i < 4; i++) {
      await clock.advance(breaker.retryAfterMs);
      await fail(breaker, 1); // the probe fails
      opens.push(breaker.retryAfterMs);
    }
    expect(opens).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(breaker.trips).toBe(5);
    expect(seen.filter((e) => e.reason === 'probe_failed')).toHaveLength(4);
    await clock.advance(5000);
    await succeed(breaker, 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.trips).toBe(0);
    await fail(breaker, 1);
    expect(breaker.retryAfterMs).toBe(1000);
  });

  it('re-opens when one of several probes fails, ignoring the others still running', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: { initial: 100, max: 10_000 }, halfOpen: { probes: 2 }, clock });
    await fail(breaker, 1);
    await clock.advance(100);
    const slowProbe = deferred();
    const first = breaker.execute(() => slowProbe.promise);
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs).toBe(200);
    slowProbe.resolve('late');
    await expect(first).resolves.toBe('late');
    expect(breaker.state).toBe('open');
  });

  it('does not let a call admitted while closed decide the half-open state', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 10, clock });
    const late = deferred();
    const lateCall = breaker.execute(() => late.promise);
    await fail(breaker, 1);
    await clock.advance(10);
    const probe = deferred();
    const probeCall = breaker.execute(() => probe.promise);
    late.reject(new Error('late'));
    await expect(lateCall).rejects.toThrow('late');
    expect(breaker.state).toBe('half_open');
    probe.resolve('fine');
    await expect(probeCall).resolves.toBe('fine');
    expect(breaker.state).toBe('closed');
  });

  it('ignores a probe from an earlier half-open period', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 10, halfOpen: { probes: 2, successesToClose: 1 }, clock });
    await fail(breaker, 1);
    await clock.advance(10);
    const old = deferred();
    const oldProbe = breaker.execute(() => old.promise);
    await fail(breaker, 1); // the other probe fails: open again
    await clock.advance(20);
    const current = deferred();
    const currentProbe = breaker.execute(() => current.promise);
    old.resolve('old');
    await expect(oldProbe).resolves.toBe('old');
    expect(breaker.state).toBe('half_open');
    // Both slots of this period are still free for its own probes: one running, one more admitted.
    const another = breaker.execute(ok);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    await expect(another).resolves.toBe('ok');
    current.resolve('new');
    await expect(currentProbe).resolves.toBe('new');
    expect(breaker.state).toBe('closed');
  });

  it('re-opens on a slow probe', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, slowCall: { threshold: 500, rate: 1 }, clock });
    const seen = changes(breaker);
    await fail(breaker, 1);
    await clock.advance(1000);
    await expect(clock.run(breaker.execute(takes(clock, 600)))).resolves.toBe('ok');
    expect(breaker.state).toBe('open');
    expect(seen.at(-1)).toEqual({ from: 'half_open', to: 'open', reason: 'probe_slow' });
  });

  it('frees the slot of a probe the caller aborted, without deciding anything', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 1000, clock });
    await fail(breaker, 1);
    await clock.advance(1000);
    const controller = new AbortController();
    const probe = breaker.execute(takes(clock, 10_000), { signal: controller.signal });
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    controller.abort(new Error('caller left'));
    await expect(probe).rejects.toThrow('caller left');
    expect(breaker.state).toBe('half_open');
    await succeed(breaker, 1);
    expect(breaker.state).toBe('closed');
  });
});

describe('circuitBreaker: isolate and reset', () => {
  it('isolates until the handle is released', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ clock });
    const seen = changes(breaker);
    const rejects: unknown[] = [];
    breaker.onReject((e) => rejects.push(e));
    const release = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    expect(breaker.retryAfterMs).toBe(Infinity);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(IsolatedCircuitError);
    await clock.advance(3_600_000);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(IsolatedCircuitError);
    release();
    expect(breaker.state).toBe('closed');
    await succeed(breaker, 1);
    expect(rejects).toEqual([
      { state: 'isolated', retryAfterMs: Infinity },
      { state: 'isolated', retryAfterMs: Infinity },
    ]);
    expect(seen).toEqual([
      { from: 'closed', to: 'isolated', reason: 'isolated' },
      { from: 'isolated', to: 'closed', reason: 'reset' },
    ]);
  });

  it('stays isolated until every handle is released; reset ends it at once', () => {
    const breaker = circuitBreaker({ clock: createVirtualClock() });
    const a = breaker.isolate();
    const b = breaker.isolate();
    a();
    a();
    expect(breaker.state).toBe('isolated');
    b();
    expect(breaker.state).toBe('closed');
    breaker.isolate();
    breaker.reset();
    expect(breaker.state).toBe('closed');
  });

  it('ignores a stale handle from an earlier isolation', () => {
    const breaker = circuitBreaker({ clock: createVirtualClock() });
    const old = breaker.isolate();
    breaker.reset();
    breaker.isolate();
    old();
    expect(breaker.state).toBe('isolated');
  });

  it('isolates an open breaker; release closes it', async () => {
    const breaker = circuitBreaker({ consecutive: 1, clock: createVirtualClock() });
    await fail(breaker, 1);
    const release = breaker.isolate();
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(IsolatedCircuitError);
    release();
    expect(breaker.state).toBe('closed');
  });

  it('reset closes an open breaker and forgets trips and counters', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 2, openFor: { initial: 100, max: 1000 }, clock });
    await fail(breaker, 2);
    await clock.advance(100);
    await fail(breaker, 1);
    expect(breaker.trips).toBe(2);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.trips).toBe(0);
    await fail(breaker, 1);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.retryAfterMs).toBe(100);
  });
});

describe('circuitBreaker: what counts', () => {
  class HttpError extends Error {
    constructor(readonly status: number) {
      super(`HTTP ${status}`);
    }
  }

  it('uses isFailure: a 400-like error does not count (and shows the target is alive)', async () => {
    const breaker = circuitBreaker({
      consecutive: 2,
      isFailure: (error) => !(error instanceof HttpError && error.status < 500),
      clock: createVirtualClock(),
    });
    const failures: boolean[] = [];
    breaker.onFailure((e) => failures.push(e.counted));
    for (let i = 0; i < 5; i++) await expect(breaker.execute(() => Promise.reject(new HttpError(400)))).rejects.toThrow('HTTP 400');
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(() => Promise.reject(new HttpError(503)))).rejects.toThrow('HTTP 503');
    await expect(breaker.execute(() => Promise.reject(new HttpError(400)))).rejects.toThrow('HTTP 400');
    await expect(breaker.execute(() => Promise.reject(new HttpError(503)))).rejects.toThrow('HTTP 503');
    expect(breaker.state).toBe('closed'); // the 400 broke the run of 503s
    await expect(breaker.execute(() => Promise.reject(new HttpError(500)))).rejects.toThrow('HTTP 500');
    expect(breaker.state).toBe('open');
    expect(failures).toEqual([false, false, false, false, false, true, false, true, true]);
  });

  it('counts an error when isFailure throws', async () => {
    const breaker = circuitBreaker({
      consecutive: 1,
      isFailure: () => {
        throw new Error('bad predicate');
      },
      clock: createVirtualClock(),
    });
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
  });

  it('never counts a caller abort, whatever isFailure says', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 2, isFailure: () => true, clock });
    const counted: boolean[] = [];
    breaker.onFailure((e) => counted.push(e.counted));
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const call = breaker.execute(takes(clock, 1000), { signal: controller.signal });
      await clock.advance(10);
      controller.abort(new Error('user cancelled'));
      await expect(call).rejects.toThrow('user cancelled');
    }
    expect(breaker.state).toBe('closed');
    expect(counted).toEqual([false, false, false]);
    await fail(breaker, 1);
    expect(breaker.state).toBe('closed'); // the aborts were not counted, nor did they reset anything
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('counts a timeout that aborted the signal', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, clock });
    const controller = new AbortController();
    const call = breaker.execute(takes(clock, 1000), { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new TimeoutError('deadline', 10));
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(breaker.state).toBe('open');
  });
});

describe('circuitBreaker: events', () => {
  it('reports successes and failures with duration and slowness; disposed listeners stop', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 5, slowCall: { threshold: 100, rate: 1 }, clock });
    const events: unknown[] = [];
    const stop = breaker.onSuccess((e) => events.push(['ok', e]));
    breaker.onFailure((e) => events.push(['fail', e.durationMs, e.slow, e.counted, (e.error as Error).message]));
    await clock.run(breaker.execute(takes(clock, 150)));
    await clock.run(rejection(breaker.execute(takes(clock, 20, 'boom'))));
    stop();
    await succeed(breaker, 1);
    expect(events).toEqual([
      ['ok', { durationMs: 150, slow: true }],
      ['fail', 20, false, true, 'boom'],
    ]);
  });
});

describe('circuitBreaker: JSON', () => {
  it('round-trips an open breaker', async () => {
    const clock = createVirtualClock();
    const options = { consecutive: 1, openFor: { initial: 1000, max: 8000 }, clock } as const;
    const breaker = circuitBreaker(options);
    await fail(breaker, 1);
    await clock.advance(1000);
    await fail(breaker, 1); // second trip: open for 2s
    await clock.advance(500);
    const json = JSON.parse(JSON.stringify(breaker));
    expect(json).toMatchObject({ state: 'open', trips: 2, openUntil: 3000 });

    const copy = circuitBreaker(options);
    const seen = changes(copy);
    copy.restore(json);
    expect(copy.state).toBe('open');
    expect(copy.trips).toBe(2);
    expect(copy.retryAfterMs).toBe(1500);
    expect(seen).toEqual([{ from: 'closed', to: 'open', reason: 'restored' }]);
    await clock.advance(1500);
    await fail(copy, 1);
    expect(copy.retryAfterMs).toBe(4000); // the trip count carried over
  });

  it('round-trips window counters of a closed breaker', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ count: 5, minCalls: 4, clock });
    await fail(breaker, 1);
    await succeed(breaker, 1);
    await fail(breaker, 1);
    const copy = circuitBreaker({ count: 5, minCalls: 4, clock });
    copy.restore(JSON.parse(JSON.stringify(breaker.toJSON())));
    expect(copy.stats()).toEqual({ calls: 3, failures: 2, slowCalls: 0, trip: null });
    await succeed(copy, 1);
    expect(copy.state).toBe('open'); // 2 of 4
  });

  it('round-trips a half-open breaker and an isolated one', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: 10, halfOpen: { probes: 1, successesToClose: 2 }, clock });
    await fail(breaker, 1);
    await clock.advance(10);
    await succeed(breaker, 1);
    const copy = circuitBreaker({ consecutive: 1, openFor: 10, halfOpen: { probes: 1, successesToClose: 2 }, clock });
    copy.restore(JSON.parse(JSON.stringify(breaker)));
    expect(copy.state).toBe('half_open');
    await succeed(copy, 1);
    expect(copy.state).toBe('closed');

    breaker.isolate();
    copy.restore(JSON.parse(JSON.stringify(breaker)));
    expect(copy.state).toBe('isolated');
    copy.reset();
    expect(copy.state).toBe('closed');
  });

  it('refuses a malformed snapshot', () => {
    const breaker = circuitBreaker({ clock: createVirtualClock() });
    const bad = { state: 'ajar', openedAt: 0, openUntil: 0, trips: 0, halfOpenSuccesses: 0, window: null };
    expect(() => breaker.restore(bad as never)).toThrow(TypeError);
    expect(() => breaker.restore(null as never)).toThrow(TypeError);
    expect(breaker.state).toBe('closed');
  });
});

/** A store that applies writes at once but delivers them to subscribers only on `flush()`, like a slow pub/sub. */
function laggyStore(): StateStore & { flush(): void } {
  const inner = createMemoryStore();
  const listeners = new Map<string, Set<(value: JsonValue | undefined) => void>>();
  const queue: Array<[string, JsonValue | undefined]> = [];
  return {
    get: (key) => inner.get(key),
    set(key, value, ttlMs) {
      inner.set(key, value, ttlMs);
      queue.push([key, value]);
    },
    delete(key) {
      inner.delete(key);
      queue.push([key, undefined]);
    },
    subscribe(key, listener) {
      const set = listeners.get(key) ?? new Set();
      listeners.set(key, set);
      set.add(listener);
      return () => set.delete(listener);
    },
    flush() {
      while (queue.length > 0) {
        const [key, value] = queue.shift()!;
        for (const listener of [...(listeners.get(key) ?? [])]) listener(value);
      }
    },
  };
}

describe('circuitBreaker: shared store', () => {
  function pair(clock: VirtualClock, store: StateStore = createMemoryStore({ clock })) {
    const options = { consecutive: 2, openFor: { initial: 1000, max: 60_000 }, clock, store, key: 'target:gpt-4o' } as const;
    return [circuitBreaker(options), circuitBreaker(options), store] as const;
  }

  it('opens on one replica when the other opens', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    const seenA = changes(a);
    const seenB = changes(b);
    await fail(a, 2);
    expect(a.state).toBe('open');
    expect(b.state).toBe('open');
    expect(b.retryAfterMs).toBe(1000);
    const error = await rejection(b.execute(ok));
    expect(error).toBeInstanceOf(BrokenCircuitError);
    // Each side hears of the change once: A from itself, B from the store (the echo is ignored).
    expect(seenA).toEqual([{ from: 'closed', to: 'open', reason: 'failures' }]);
    expect(seenB).toEqual([{ from: 'closed', to: 'open', reason: 'remote' }]);
  });

  it('closes on one replica when the other closes after probing', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    await fail(a, 2);
    await clock.advance(1000);
    await succeed(b, 1);
    expect(b.state).toBe('closed');
    expect(a.state).toBe('closed');
    expect(a.trips).toBe(0);
  });

  it('shares a re-trip with its grown open duration', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    await fail(a, 2);
    await clock.advance(1000);
    await fail(b, 1); // B's probe fails
    expect(b.retryAfterMs).toBe(2000);
    expect(a.state).toBe('open');
    expect(a.retryAfterMs).toBe(2000);
    expect(a.trips).toBe(2);
  });

  it('shares isolation and reset', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    const release = a.isolate();
    expect(b.state).toBe('isolated');
    await expect(b.execute(ok)).rejects.toBeInstanceOf(IsolatedCircuitError);
    release();
    expect(b.state).toBe('closed');
    b.isolate();
    a.reset();
    expect(b.state).toBe('closed');
  });

  it('starts a new replica in the state the store holds', async () => {
    const clock = createVirtualClock();
    const [a, , store] = pair(clock);
    await fail(a, 2);
    const [late] = pair(clock, store);
    expect(late.state).toBe('open');
    expect(late.retryAfterMs).toBe(1000);
  });

  it("clears the other replica's counters on a reset, even when both are closed", async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    await fail(b, 1);
    a.reset();
    await fail(b, 1);
    expect(b.state).toBe('closed');
    await fail(b, 1);
    expect(b.state).toBe('open');
  });

  it('does not share window counters: each replica counts its own calls', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    await fail(a, 1);
    await fail(b, 1);
    expect(a.state).toBe('closed');
    expect(b.state).toBe('closed');
  });

  it('closes when the key is deleted, and ignores stale or foreign values', async () => {
    const clock = createVirtualClock();
    const [a, b, store] = pair(clock);
    await fail(a, 2);
    const current = store.get('target:gpt-4o') as { [key: string]: JsonValue };
    store.set('target:gpt-4o', { ...current, writer: 'zzz-old', version: 0, state: 'closed' });
    expect(b.state).toBe('open');
    store.set('target:gpt-4o', 'garbage');
    expect(b.state).toBe('open');
    store.delete('target:gpt-4o');
    expect(a.state).toBe('closed');
    expect(b.state).toBe('closed');
  });

  it('lets the larger (version, writer) win a tie', async () => {
    const clock = createVirtualClock();
    const [a, b, store] = pair(clock);
    await fail(a, 2); // version 1 everywhere
    const current = store.get('target:gpt-4o') as { [key: string]: JsonValue };
    store.set('target:gpt-4o', { ...current, writer: '!', state: 'closed' }); // sorts below any writer id
    expect([a.state, b.state]).toEqual(['open', 'open']);
    // The losing write was replaced in the store by the winner's state.
    const repaired = store.get('target:gpt-4o') as { [key: string]: JsonValue };
    expect(repaired.state).toBe('open');
    store.set('target:gpt-4o', { ...repaired, writer: '~', state: 'closed' }); // sorts above any writer id
    expect([a.state, b.state]).toEqual(['closed', 'closed']);
  });

  it('converges, store included, when two replicas write at once without seeing each other', async () => {
    for (const firstWriter of ['a', 'b'] as const) {
      const clock = createVirtualClock();
      const store = laggyStore();
      const [a, b] = pair(clock, store);
      await fail(a, 2);
      store.flush(); // version 1 everywhere
      await clock.advance(1000);
      // A's probe succeeds (closed) and B's fails (open again), each writing version 2.
      const probeA = () => a.execute(ok);
      const probeB = () => rejection(b.execute(boom));
      if (firstWriter === 'a') await Promise.all([probeA(), probeB()]);
      else await Promise.all([probeB(), probeA()]);
      expect(a.state).toBe('closed');
      expect(b.state).toBe('open');
      store.flush();
      expect(a.state).toBe(b.state);
      expect((store.get('target:gpt-4o') as { state: string }).state).toBe(a.state);
    }
  });

  it('stops following the store after dispose', async () => {
    const clock = createVirtualClock();
    const [a, b] = pair(clock);
    b.dispose();
    await fail(a, 2);
    expect(b.state).toBe('closed');
  });

  it('carries on locally when the store throws', async () => {
    const clock = createVirtualClock();
    const broken: StateStore = {
      get: () => {
        throw new Error('down');
      },
      set: () => {
        throw new Error('down');
      },
      delete: () => {},
      subscribe: () => {
        throw new Error('down');
      },
    };
    const breaker = circuitBreaker({ consecutive: 1, openFor: 100, clock, store: broken, key: 'k' });
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    await clock.advance(100);
    await succeed(breaker, 1);
    expect(breaker.state).toBe('closed');
  });

  it('needs a key with a shared store', () => {
    expect(() => circuitBreaker({ store: createMemoryStore() })).toThrow(/key/);
  });
});

describe('circuitBreaker: options', () => {
  it('validates', () => {
    expect(() => circuitBreaker({ halfOpen: { probes: 0 } })).toThrow(RangeError);
    expect(() => circuitBreaker({ halfOpen: { successesToClose: 1.5 } })).toThrow(RangeError);
    expect(() => circuitBreaker({ openFor: { initial: '10s', max: '1s' } })).toThrow(/max/);
    expect(() => circuitBreaker({ openFor: { initial: '1s', max: '10s', factor: 0.5 } })).toThrow(/factor/);
    expect(() => circuitBreaker({ openFor: 'later' })).toThrow(TypeError);
    expect(() => circuitBreaker({ count: 10, slowCall: { threshold: '1s', rate: 2 } })).toThrow(/slowCall/);
  });
});

describe('circuitBreaker: acquire (outcomes known later)', () => {
  it('counts what the ticket settles, once, and refuses like execute when open', () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 2, openFor: '10s', clock });
    const first = breaker.acquire();
    first.settle({ error: new Error('cut mid-stream') });
    first.settle('success'); // ignored: only the first outcome counts
    breaker.acquire().settle('ignore');
    expect(breaker.state).toBe('closed');
    breaker.acquire().settle({ error: new Error('cut again') });
    expect(breaker.state).toBe('open');
    expect(() => breaker.acquire()).toThrow(BrokenCircuitError);
  });

  it('a half-open probe holds its slot until settled; the given duration decides slowness', async () => {
    const clock = createVirtualClock();
    const breaker = circuitBreaker({ consecutive: 1, openFor: '10s', clock, slowCall: { threshold: '1s', rate: 1 } });
    breaker.acquire().settle({ error: new Error('x') });
    await clock.advance(10_000);
    const probe = breaker.acquire();
    expect(breaker.state).toBe('half_open');
    expect(() => breaker.acquire()).toThrow(BrokenCircuitError);
    // Released at the commit: the next probe may go while the first one's outcome is pending.
    probe.release();
    const second = breaker.acquire();
    // A long answer whose first token came quickly is not a slow call.
    probe.settle('success', 200);
    expect(breaker.state).toBe('closed');
    second.settle('ignore');
    expect(breaker.state).toBe('closed');
  });
});

import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { functionProvider } from '../providers/function-provider.js';
import type { ChatProvider } from '../providers/provider.js';
import { simulated, type SimulatedOptions } from '../providers/simulated.js';
import { runBatch, type BatchProgress } from './batch.js';
import { createRouter, type RouterOptions } from './router.js';

const ask = (content: string): ChatRequest => ({ messages: [{ role: 'user', content }] });
const asks = (n: number) => Array.from({ length: n }, (_, i) => ask(`q${i}`));

function setup(specs: Record<string, Omit<SimulatedOptions, 'clock' | 'name'>>, options: Partial<RouterOptions> = {}) {
  const clock = createVirtualClock();
  const providers = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, simulated({ ...spec, name, clock })]));
  const router = createRouter({
    targets: Object.keys(specs).map((name) => ({ provider: providers[name]!, model: 'm', id: name })),
    clock,
    retry: { wait: 100 },
    budget: false,
    ...options,
  });
  return { clock, providers, router };
}

/** Counts the calls running at once through a provider. */
function counting(provider: ChatProvider) {
  const seen = { now: 0, max: 0 };
  const wrapped: ChatProvider = {
    ...provider,
    async chat(request, call) {
      seen.max = Math.max(seen.max, ++seen.now);
      try {
        return await provider.chat(request, call);
      } finally {
        seen.now--;
      }
    },
  };
  return { provider: wrapped, seen };
}

describe('runBatch', () => {
  it('keeps input order when items finish out of order, with a typed error per failed item', async () => {
    const clock: VirtualClock = createVirtualClock();
    // The content says how long the item takes, or how it fails.
    const provider = functionProvider({
      name: 'fn',
      async chat(request, { signal }) {
        const content = String(request.messages[0]!.content);
        if (content === 'bad') throw Object.assign(new Error('unknown field'), { status: 400 });
        if (content === 'denied') throw Object.assign(new Error('no key'), { status: 401 });
        await clock.sleep(Number(content), signal);
        return `done ${content}`;
      },
    });
    const router = createRouter({ targets: [{ provider, model: 'm', id: 'fn' }], clock, retry: { attempts: 1 } });
    const { results, summary } = await clock.run(runBatch(router, [ask('300'), ask('bad'), ask('100'), ask('denied'), ask('200')], { concurrency: 5, clock }));

    expect(results.map((r) => (r.ok ? r.response.text : r.error.kind))).toEqual(['done 300', 'invalid_request', 'done 100', 'auth', 'done 200']);
    expect(summary).toMatchObject({ total: 5, succeeded: 3, failed: 2, durationMs: 300, byTarget: { fn: 3 } });
    expect(summary.topErrorKinds).toEqual([
      ['invalid_request', 1],
      ['auth', 1],
    ]);
  });

  it('never runs more than `concurrency` items at once', async () => {
    const { clock, providers } = setup({ a: { latency: 100 } });
    const { provider, seen } = counting(providers.a!);
    const router = createRouter({ targets: [{ provider, model: 'm', id: 'a' }], clock });
    const { summary } = await clock.run(runBatch(router, asks(10), { concurrency: 3, clock }));
    expect(seen.max).toBe(3);
    expect(summary.succeeded).toBe(10);
    // Four waves of at most three: the limit is used fully, not one item at a time.
    expect(summary.durationMs).toBe(400);
  });

  it('a provider limited to the batch concurrency never turns an item away', async () => {
    const { clock, router, providers } = setup({ a: { latency: 50, concurrency: 2 } }, { retry: { attempts: 1 } });
    const { summary } = await clock.run(runBatch(router, asks(6), { concurrency: 2, clock }));
    expect(summary.failed).toBe(0);
    expect(providers.a!.control.calls).toBe(6);
  });

  it('reports progress after each item', async () => {
    const { clock, router } = setup({ a: { latency: 10, faults: [{ kind: 'invalid_request', every: 2 }] } });
    const progress: BatchProgress[] = [];
    await clock.run(runBatch(router, asks(4), { concurrency: 1, clock, onProgress: (p) => progress.push(p) }));
    expect(progress).toEqual([
      { done: 1, total: 4, succeeded: 1, failed: 0 },
      { done: 2, total: 4, succeeded: 1, failed: 1 },
      { done: 3, total: 4, succeeded: 2, failed: 1 },
      { done: 4, total: 4, succeeded: 2, failed: 2 },
    ]);
  });

  it('ignores other traffic on the same router', async () => {
    const clock = createVirtualClock();
    const a = functionProvider({
      name: 'a',
      async chat(request, { signal }) {
        const content = String(request.messages[0]!.content);
        await clock.sleep(content === 'outside' ? 20 : 30, signal);
        if (content === 'outside') throw Object.assign(new Error('boom'), { status: 500 });
        return 'ok';
      },
    });
    const router = createRouter({
      targets: [
        { provider: a, model: 'm', id: 'a' },
        { provider: simulated({ name: 'b', clock }), model: 'm', id: 'b' },
      ],
      clock,
      retry: { attempts: 2, wait: 5 },
      budget: false,
    });
    const events: string[] = [];
    router.on('*', (e) => events.push(e.type));
    // The outside call retries on a and falls back to b while the batch runs.
    const outside = router.chat(ask('outside'));
    const { summary } = await clock.run(runBatch(router, asks(3), { concurrency: 1, clock }));
    expect((await outside).target).toBe('b');
    expect(events).toContain('retry');
    expect(events).toContain('fallback');
    expect(summary).toMatchObject({ succeeded: 3, retries: 0, fallbacks: 0, byTarget: { a: 3 }, durationMs: 90 });
  });

  it('counts the retries and fallbacks of the batch items', async () => {
    const { clock, router } = setup(
      { a: { latency: 10, faults: [{ kind: 'server', times: 3 }] }, b: { latency: 10, faults: [{ kind: 'overloaded', times: 1 }] } },
      { retry: { attempts: 2, wait: 5 } },
    );
    const { results, summary } = await clock.run(runBatch(router, asks(2), { concurrency: 1, clock }));
    // Item 0: a#1 fail, a#2 fail, b#1 overloaded, b#2 ok → 2 retries, 1 fallback.
    // Item 1: a#1 fail (3rd fault), a#2 ok → 1 retry.
    expect(results.map((r) => r.ok && r.response.target)).toEqual(['b', 'a']);
    expect(summary.retries).toBe(3);
    expect(summary.fallbacks).toBe(1);
  });

  it('counts retries and fallbacks of items that failed everywhere, with the top error kinds', async () => {
    const { clock, router } = setup(
      { a: { faults: [{ kind: 'overloaded' }] }, b: { faults: [{ kind: 'overloaded', times: 2 }, { kind: 'invalid_request' }] } },
      { retry: { attempts: 2, wait: 5 }, breaker: false },
    );
    const { results, summary } = await clock.run(runBatch(router, asks(2), { concurrency: 1, clock }));
    // Item 0: a, a, b, b all overloaded → 2 retries, 1 fallback. Item 1: a, a overloaded, b invalid → 1 retry, 1 fallback.
    expect(results.map((r) => !r.ok && r.error.kind)).toEqual(['overloaded', 'invalid_request']);
    expect(summary).toMatchObject({ failed: 2, retries: 3, fallbacks: 2 });
    expect(summary.topErrorKinds).toEqual([
      ['overloaded', 1],
      ['invalid_request', 1],
    ]);
  });

  it('the caller abort stops new items and aborts those in flight, all as `aborted` errors', async () => {
    const { clock, router, providers } = setup({ a: { latency: 1000 }, b: {} });
    const controller = new AbortController();
    const progress: BatchProgress[] = [];
    const batch = runBatch(router, asks(6), { concurrency: 2, clock, signal: controller.signal, onProgress: (p) => progress.push(p) });
    await clock.advance(500);
    controller.abort(new Error('user left'));
    const { results, summary } = await batch;
    await clock.advance(0); // lets the providers see their aborts

    expect(results.every((r) => !r.ok && r.error.kind === 'aborted')).toBe(true);
    expect(results).toHaveLength(6);
    expect(providers.a!.control.calls).toBe(2);
    expect(providers.a!.control.aborted).toBe(2);
    expect(providers.b!.control.calls).toBe(0);
    expect(summary).toMatchObject({ total: 6, succeeded: 0, failed: 6, topErrorKinds: [['aborted', 6]], durationMs: 500 });
    expect(progress.at(-1)).toEqual({ done: 6, total: 6, succeeded: 0, failed: 6 });
  });

  it('an item keeps its own signal: aborting it fails only that item', async () => {
    const { clock, router } = setup({ a: { latency: 1000 } });
    const own = new AbortController();
    const batch = runBatch(router, [ask('one'), { ...ask('two'), signal: own.signal }, ask('three')], { concurrency: 3, clock, signal: new AbortController().signal });
    await clock.advance(100);
    own.abort();
    const { results } = await clock.run(batch);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.kind))).toEqual(['ok', 'aborted', 'ok']);
  });

  it('can run the items as streams, retrying before the first token', async () => {
    const { clock, router, providers } = setup(
      { a: { firstToken: 50, chunkInterval: 5, faults: [{ kind: 'overloaded', times: 1 }] } },
      { retry: { attempts: 2, wait: 10 } },
    );
    const { results, summary } = await clock.run(runBatch(router, [ask('alpha beta'), ask('gamma')], { concurrency: 1, clock, stream: true }));
    expect(results.map((r) => r.ok && r.response.text)).toEqual(['[a/m] alpha beta', '[a/m] gamma']);
    expect(results.map((r) => r.ok && r.response.target)).toEqual(['a', 'a']);
    expect(providers.a!.control.log.every((c) => c.stream)).toBe(true);
    expect(summary.retries).toBe(1);
  });

  it('handles an empty batch and rejects a bad concurrency', async () => {
    const { router } = setup({ a: {} });
    const { results, summary } = await runBatch(router, []);
    expect(results).toEqual([]);
    expect(summary).toMatchObject({ total: 0, succeeded: 0, failed: 0, topErrorKinds: [] });
    await expect(runBatch(router, asks(1), { concurrency: 0 })).rejects.toThrow(/concurrency/);
  });
});

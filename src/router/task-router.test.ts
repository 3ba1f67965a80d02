import { describe, expect, it } from 'vitest';
import { isLlmError, type LlmError } from '../llm/llm-error.js';
import { retryBudget } from '../policy/retry-budget.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { isAllTargetsFailedError, type AllTargetsFailedError } from './all-targets-failed.js';
import type { RouterEvent } from './router-events.js';
import { createTaskRouter, type TaskRouterOptions, type TaskTarget } from './task-router.js';

type Speak = TaskTarget<string, string>;

/** A backend that takes `ms` (honouring its signal) and fails its first `failures` calls with `error`. */
function backend(clock: VirtualClock, id: string, spec: { ms?: number; failures?: number; error?: () => unknown; ignoreSignal?: boolean } = {}) {
  const seen = { calls: 0, aborted: 0 };
  const target: Speak = {
    id,
    async run(text, { signal }) {
      const n = ++seen.calls;
      signal.addEventListener('abort', () => seen.aborted++, { once: true });
      if (spec.ignoreSignal) await new Promise<never>(() => {});
      await clock.sleep(spec.ms ?? 0, signal);
      if (n <= (spec.failures ?? 0)) throw spec.error ? spec.error() : Object.assign(new Error('upstream broke'), { status: 500 });
      return `${id}:${text}`;
    },
  };
  return { target, seen };
}

function setup(targets: Speak[], clock: VirtualClock, options: Partial<TaskRouterOptions<string, string>> = {}) {
  const router = createTaskRouter<string, string>({ targets, clock, retry: { wait: 100 }, budget: false, ...options });
  const events: RouterEvent[] = [];
  router.on('*', (e) => events.push(e));
  return { router, events };
}

async function failure(promise: Promise<unknown>): Promise<AllTargetsFailedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAllTargetsFailedError(error)).toBe(true);
  return error as AllTargetsFailedError;
}

describe('createTaskRouter', () => {
  it('answers from the first target', async () => {
    const clock = createVirtualClock();
    const { router } = setup([backend(clock, 'a', { ms: 120 }).target, backend(clock, 'b').target], clock);
    const result = await clock.run(router.run('hi'));
    expect(result).toMatchObject({ value: 'a:hi', target: 'a', fallbacks: 0 });
    expect(result.attempts).toEqual([expect.objectContaining({ target: 'a', attempt: 1, outcome: 'success', durationMs: 120 })]);
  });

  it('falls back from a failing function to another, listing every attempt', async () => {
    const clock = createVirtualClock();
    const a = backend(clock, 'tts-primary', { ms: 50, failures: Infinity });
    const b = backend(clock, 'tts-backup', { ms: 30 });
    const { router, events } = setup([a.target, b.target], clock, { retry: { attempts: 2, wait: 100 } });
    const fallbacks: string[] = [];
    router.onFallback((from, to, error) => fallbacks.push(`${from}->${to}:${error.kind}`));
    const result = await clock.run(router.run('hello'));
    expect(result.value).toBe('tts-backup:hello');
    expect(result.fallbacks).toBe(1);
    expect(result.attempts.map((x) => [x.target, x.attempt, x.outcome, x.kind, x.status])).toEqual([
      ['tts-primary', 1, 'failure', 'server', 500],
      ['tts-primary', 2, 'failure', 'server', 500],
      ['tts-backup', 1, 'success', undefined, undefined],
    ]);
    expect(fallbacks).toEqual(['tts-primary->tts-backup:server']);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(clock.now()).toBe(50 + 100 + 50 + 30);
  });

  it('classifies thrown errors: a 429 with Retry-After cools the target down, a 400 stops the call', async () => {
    const clock = createVirtualClock();
    const limited = backend(clock, 'a', { failures: 1, error: () => Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after': '30' } }) });
    const { router, events } = setup([limited.target, backend(clock, 'b').target], clock);
    expect((await clock.run(router.run('x'))).target).toBe('b');
    expect(clock.now()).toBe(0);
    expect(events.find((e) => e.type === 'cooldown')).toMatchObject({ target: 'a', reason: 'rate_limit', until: 30_000 });
    const second = await clock.run(router.run('y'));
    expect(second.attempts[0]).toMatchObject({ target: 'a', outcome: 'skipped', skipReason: 'cooldown' });
    expect(limited.seen.calls).toBe(1);

    const bad = backend(clock, 'c', { failures: 1, error: () => Object.assign(new Error('bad voice'), { status: 400 }) });
    const other = backend(clock, 'd');
    const stopped = setup([bad.target, other.target], clock);
    const error = await failure(clock.run(stopped.router.run('z')));
    expect(error.kind).toBe('invalid_request');
    expect(other.seen.calls).toBe(0);
  });

  it("uses the target's own classify first", async () => {
    const clock = createVirtualClock();
    const a = backend(clock, 'a', { failures: Infinity, error: () => new Error('VOICE_QUOTA_EXCEEDED') });
    const classify = (e: unknown) => (e instanceof Error && e.message.includes('QUOTA') ? ('quota' as const) : undefined);
    const { router } = setup([{ ...a.target, classify }, backend(clock, 'b').target], clock, { retry: { attempts: 3, wait: 10 } });
    const result = await clock.run(router.run('x'));
    expect(result.target).toBe('b');
    expect(result.attempts[0]).toMatchObject({ target: 'a', kind: 'quota' });
    expect(a.seen.calls).toBe(1); // quota is never retried
  });

  it('opens the breaker after the threshold, skips the function, and half-opens later', async () => {
    const clock = createVirtualClock();
    const a = backend(clock, 'a', { failures: 3 });
    const { router, events } = setup([a.target, backend(clock, 'b').target], clock, { breaker: { consecutive: 3, openFor: '30s' }, retry: { attempts: 1 } });
    for (let i = 0; i < 3; i++) expect((await clock.run(router.run('x'))).target).toBe('b');
    expect(events.filter((e) => e.type === 'breaker')).toEqual([expect.objectContaining({ target: 'a', from: 'closed', to: 'open' })]);
    expect(router.runtime('a')?.breaker?.state).toBe('open');

    const skipped = await clock.run(router.run('x'));
    expect(skipped.attempts[0]).toMatchObject({ target: 'a', outcome: 'skipped', skipReason: 'breaker_open' });
    expect(a.seen.calls).toBe(3);

    await clock.advance(30_000);
    expect((await clock.run(router.run('x'))).target).toBe('a');
    expect(events.filter((e) => e.type === 'breaker').map((e) => (e as { to: string }).to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('a run that ignores its signal still ends at the attempt timeout', async () => {
    const clock = createVirtualClock();
    const stuck = backend(clock, 'stuck', { ignoreSignal: true });
    const { router } = setup([stuck.target, backend(clock, 'b', { ms: 10 }).target], clock, { timeouts: { attempt: '2s' }, retry: { attempts: 1 } });
    const result = await clock.run(router.run('x'));
    expect(result.target).toBe('b');
    expect(result.attempts[0]).toMatchObject({ target: 'stuck', kind: 'timeout', durationMs: 2000 });
    expect(stuck.seen.aborted).toBe(1);
    expect(clock.now()).toBe(2010);

    const alone = setup([backend(clock, 'only', { ignoreSignal: true }).target], clock, { timeouts: { attempt: '1s' }, retry: { attempts: 2, wait: 0 } });
    const start = clock.now();
    const error = await failure(clock.run(alone.router.run('x')));
    expect(error.kind).toBe('timeout');
    expect(error.attempts).toHaveLength(2);
    expect(clock.now() - start).toBe(2000);
  });

  it('the total deadline covers every attempt and wait', async () => {
    const clock = createVirtualClock();
    const { router } = setup([backend(clock, 'a', { ms: 4000 }).target, backend(clock, 'b', { ms: 4000 }).target], clock, {
      timeouts: { total: '5s', attempt: '3s' },
      retry: { attempts: 1 },
    });
    const error = await failure(clock.run(router.run('x')));
    expect(error.kind).toBe('timeout');
    expect(clock.now()).toBe(5000);
  });

  it('hedges a slow function: the hedge wins and the slow one is aborted', async () => {
    const clock = createVirtualClock();
    const slow = backend(clock, 'slow', { ms: 10_000 });
    const fast = backend(clock, 'fast', { ms: 500 });
    const { router, events } = setup([slow.target, fast.target], clock, { hedge: { delay: '2s' } });
    const result = await clock.run(router.run('x'));
    expect(result).toMatchObject({ value: 'fast:x', target: 'fast' });
    expect(clock.now()).toBe(2500);
    expect(slow.seen.aborted).toBe(1);
    expect(events.find((e) => e.type === 'hedge')).toMatchObject({ target: 'fast', afterMs: 2000 });
  });

  it('does not hedge a function that answers before the delay', async () => {
    const clock = createVirtualClock();
    const b = backend(clock, 'b');
    const { router } = setup([backend(clock, 'a', { ms: 1500 }).target, b.target], clock, { hedge: { delay: '2s' } });
    expect((await clock.run(router.run('x'))).target).toBe('a');
    expect(b.seen.calls).toBe(0);
  });

  it('a caller abort stops everything and is never retried', async () => {
    const clock = createVirtualClock();
    const a = backend(clock, 'a', { ms: 1000 });
    const b = backend(clock, 'b');
    const { router } = setup([a.target, b.target], clock, { retry: { attempts: 3 } });
    const controller = new AbortController();
    const outcome = router.run('x', { signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(300);
    controller.abort(new Error('user left'));
    const error = (await outcome) as LlmError;
    expect(isLlmError(error)).toBe(true);
    expect(error.kind).toBe('aborted');
    expect(a.seen).toEqual({ calls: 1, aborted: 1 });
    expect(b.seen.calls).toBe(0);
  });

  it('orders by priority, honours the ignore list, and reports all failures', async () => {
    const clock = createVirtualClock();
    const { router } = setup(
      [
        { ...backend(clock, 'a', { failures: Infinity }).target, priority: 2 },
        { ...backend(clock, 'b', { failures: Infinity }).target, priority: 1 },
        backend(clock, 'c').target,
      ],
      clock,
      { retry: { attempts: 1 } },
    );
    const failed: number[] = [];
    router.onAllFailed((_, attempts) => failed.push(attempts.length));
    const error = await failure(clock.run(router.run('x', { ignore: ['c'] })));
    expect(error.attempts.map((x) => `${x.target}:${x.outcome}`)).toEqual(['c:skipped', 'b:failure', 'a:failure']);
    expect(error.kind).toBe('server');
    expect(failed).toEqual([3]);
    expect(router.targets()).toEqual(['a', 'b', 'c']);
  });

  it('rejects bad options with a clear TypeError', () => {
    const run = async () => 'x';
    expect(() => createTaskRouter({ targets: [{ id: '', run }] })).toThrow(/targets\[0\]\.id/);
    expect(() => createTaskRouter({ targets: [{ id: 'a', run }, { id: 'a', run }] })).toThrow(/duplicate/);
    expect(() => createTaskRouter({ targets: [{ id: 'a', run: 'no' as never }] })).toThrow(/targets\[0\]\.run/);
  });
});

describe('task router: retry budget', () => {
  it('a run counts once in the budget, however many targets it tries', async () => {
    const clock = createVirtualClock();
    const budget = retryBudget({ ratio: 0.2, minPerSecond: 0, window: '10s', clock });
    const targets = ['a', 'b', 'c'].map((id) => backend(clock, id, { failures: Infinity }).target);
    const { router, events } = setup(targets, clock, { budget, breaker: false, retry: { attempts: 2, wait: 0 } });
    for (let i = 0; i < 50; i++) await clock.run(router.run('x').catch(() => undefined));
    expect(budget.snapshot().calls).toBe(50);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(10);
  });
});

import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';
import { deadline, timeout } from './timeout.js';
import { TimeoutError, isPolicyError } from './errors.js';
import type { PolicyContext } from './context.js';

/** An operation that settles only when its signal aborts (or after `ms`, if given). */
function waitForAbort(ctx: PolicyContext, clock = createVirtualClock(), ms = Infinity) {
  return new Promise<string>((resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
    if (ms !== Infinity) clock.setTimer(ms, () => resolve('late'));
  });
}

describe('timeout', () => {
  it('returns the value when the operation is fast and clears its timer', async () => {
    const clock = createVirtualClock();
    const policy = timeout('1s', { clock });
    const value = await clock.run(policy.execute(async () => 'ok'));
    expect(value).toBe('ok');
    expect(clock.pendingTimers).toBe(0);
  });

  it('aborts the signal with a TimeoutError and rejects with it', async () => {
    const clock = createVirtualClock();
    const policy = timeout(500, { clock });
    const events: unknown[] = [];
    policy.onTimeout((e) => events.push(e));
    let seen: AbortSignal | undefined;
    const run = policy.execute((ctx) => {
      seen = ctx.signal;
      return waitForAbort(ctx);
    });
    const error = await clock.run(run).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(isPolicyError(error, 'timeout')).toBe(true);
    expect((error as TimeoutError).scope).toBe('attempt');
    expect(seen?.reason).toBe(error);
    expect(clock.now()).toBe(500);
    expect(events).toEqual([{ scope: 'attempt', timeoutMs: 500 }]);
  });

  it('aggressive mode rejects at once even if the operation ignores the signal', async () => {
    const clock = createVirtualClock();
    const policy = timeout(100, { clock, mode: 'aggressive' });
    const run = policy.execute(() => new Promise<string>((resolve) => clock.setTimer(10_000, () => resolve('late'))));
    const outcome = expect(run).rejects.toBeInstanceOf(TimeoutError);
    await clock.advance(100);
    await outcome;
    expect(clock.now()).toBe(100);
  });

  it('cooperative mode waits for the operation and keeps a late success', async () => {
    const clock = createVirtualClock();
    const policy = timeout(100, { clock, mode: 'cooperative' });
    let aborted = false;
    const run = policy.execute((ctx) => {
      ctx.signal.addEventListener('abort', () => (aborted = true));
      return new Promise<string>((resolve) => clock.setTimer(300, () => resolve('late')));
    });
    await expect(clock.run(run)).resolves.toBe('late');
    expect(aborted).toBe(true);
    expect(clock.now()).toBe(300);
  });

  it('cooperative mode turns the aborted operation\'s error into the TimeoutError', async () => {
    const clock = createVirtualClock();
    const policy = timeout(100, { clock, mode: 'cooperative' });
    const run = policy.execute(() => Promise.reject(new Error('unrelated')));
    await expect(clock.run(run)).rejects.toThrow('unrelated');
    const run2 = policy.execute((ctx) => waitForAbort(ctx));
    await expect(clock.run(run2)).rejects.toBeInstanceOf(TimeoutError);
  });

  it('passes the caller abort through with its own reason', async () => {
    const clock = createVirtualClock();
    const policy = timeout(1000, { clock });
    const controller = new AbortController();
    const run = policy.execute((ctx) => waitForAbort(ctx), { signal: controller.signal });
    controller.abort(new Error('caller left'));
    await expect(run).rejects.toThrow('caller left');
  });

  it('rejects at once when the caller has already aborted', async () => {
    const policy = timeout(1000, { clock: createVirtualClock() });
    let ran = false;
    await expect(policy.execute(async () => (ran = true), { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(ran).toBe(false);
  });

  it('stops at the enclosing deadline when it is sooner, naming the deadline', async () => {
    const clock = createVirtualClock(1000);
    const policy = timeout(10_000, { clock });
    const run = policy.execute((ctx) => waitForAbort(ctx), { deadline: 1200 });
    const error = (await clock.run(run).catch((e: unknown) => e)) as TimeoutError;
    expect(error.scope).toBe('deadline');
    expect(clock.now()).toBe(1200);
  });

  it('does not start when the deadline has passed', async () => {
    const clock = createVirtualClock(5000);
    let ran = false;
    const run = timeout(100, { clock }).execute(async () => (ran = true), { deadline: 4000 });
    await expect(run).rejects.toBeInstanceOf(TimeoutError);
    expect(ran).toBe(false);
  });

  it('passes a synchronous throw through as a rejection', async () => {
    const clock = createVirtualClock();
    const run = timeout(100, { clock }).execute(() => {
      throw new Error('sync');
    });
    await expect(run).rejects.toThrow('sync');
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes attempt and elapsed through', async () => {
    const clock = createVirtualClock();
    const ctx = await timeout(100, { clock }).execute(async (c) => c, { attempt: 3, elapsed: 42 });
    expect(ctx.attempt).toBe(3);
    expect(ctx.elapsed).toBe(42);
    expect(ctx.deadline).toBe(Infinity);
  });
});

describe('deadline', () => {
  it('sets ctx.deadline for the work inside', async () => {
    const clock = createVirtualClock(1000);
    const ctx = await deadline('2s', { clock }).execute(async (c) => c);
    expect(ctx.deadline).toBe(3000);
  });

  it('keeps an enclosing deadline that is sooner', async () => {
    const clock = createVirtualClock(0);
    const ctx = await deadline('2s', { clock }).execute(async (c) => c, { deadline: 500 });
    expect(ctx.deadline).toBe(500);
  });

  it('aborts everything inside when it passes', async () => {
    const clock = createVirtualClock();
    const run = deadline(250, { clock }).execute((ctx) => waitForAbort(ctx));
    const error = (await clock.run(run).catch((e: unknown) => e)) as TimeoutError;
    expect(error.scope).toBe('deadline');
    expect(error.timeoutMs).toBe(250);
    expect(clock.now()).toBe(250);
  });
});

describe('timeout signal', () => {
  it('is aborted already when first read after the timeout passed', async () => {
    const clock = createVirtualClock();
    const policy = timeout(100, { clock, mode: 'cooperative' });
    const run = policy.execute(async (ctx) => {
      await clock.sleep(200);
      return ctx.signal;
    });
    const signal = await clock.run(run);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeoutError);
  });

  it('carries the caller reason when the caller aborted before it was read', async () => {
    const clock = createVirtualClock();
    const controller = new AbortController();
    const policy = timeout(1000, { clock, mode: 'cooperative' });
    const run = policy.execute(
      async (ctx) => {
        await clock.sleep(10);
        return ctx.signal;
      },
      { signal: controller.signal },
    );
    controller.abort('left');
    const signal = await clock.run(run);
    expect(signal.reason).toBe('left');
  });
});

describe('timeout: caller abort', () => {
  /** An operation that ignores its signal and never settles. */
  const stuck = () => new Promise<string>(() => {});

  for (const [name, policyOf] of [
    ['timeout', (clock: VirtualClock) => timeout(1000, { clock })],
    ['deadline', (clock: VirtualClock) => deadline(1000, { clock })],
  ] as const) {
    it(`${name}, aggressive: rejects at once with the caller's reason, even if the operation ignores its signal`, async () => {
      const clock = createVirtualClock();
      const policy = policyOf(clock);
      const timeouts: unknown[] = [];
      policy.onTimeout((e) => timeouts.push(e));
      const controller = new AbortController();
      const outcome = policy.execute(stuck, { signal: controller.signal }).catch((e: unknown) => e);
      await clock.advance(10);
      const reason = new Error('caller left');
      controller.abort(reason);
      // No time passes: the caller's abort alone ends the call, with its own reason.
      expect(await outcome).toBe(reason);
      expect(clock.now()).toBe(10);
      expect(clock.pendingTimers).toBe(0);
      await clock.advance(5000);
      expect(timeouts).toEqual([]);
    });
  }

  it('cooperative: after the caller aborts, time running out neither replaces the error nor reports a timeout', async () => {
    const clock = createVirtualClock();
    const policy = timeout(1000, { clock, mode: 'cooperative' });
    const timeouts: unknown[] = [];
    policy.onTimeout((e) => timeouts.push(e));
    const controller = new AbortController();
    const late = new Error('stopped late');
    // Ignores its signal for 3s, then fails with its own error.
    const run = policy.execute(() => new Promise<string>((_, reject) => clock.setTimer(3000, () => reject(late))), {
      signal: controller.signal,
    });
    const outcome = run.catch((e: unknown) => e);
    await clock.advance(10);
    controller.abort(new Error('caller left'));
    await clock.advance(5000);
    expect(await outcome).toBe(late);
    expect(timeouts).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a caller abort from inside the operation (synchronously) rejects with its reason and leaves no timer', async () => {
    const clock = createVirtualClock();
    const controller = new AbortController();
    const reason = new Error('aborted from inside');
    const run = timeout(1000, { clock }).execute(
      () => {
        controller.abort(reason);
        return new Promise<string>(() => {});
      },
      { signal: controller.signal },
    );
    await expect(run).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });
});

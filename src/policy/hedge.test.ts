import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HedgeLostError, UnacceptableResultError, hedge, type HedgeEvent, type HedgeWinEvent } from './hedge.js';
import { AllAttemptsFailedError, isPolicyError } from './errors.js';
import { tokenBucketBudget, unlimitedBudget, type RetryBudget } from './retry-budget.js';
import { NEVER_ABORTED, type PolicyContext } from './context.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';

/** A budget that allows `allow` extra attempts and records what it is told. */
function countingBudget(allow = Infinity) {
  const log = { calls: 0, asked: 0, granted: 0, successes: 0, failures: 0 };
  const budget: RetryBudget = {
    recordCall: () => void log.calls++,
    tryAcquire: () => {
      log.asked++;
      if (log.granted >= allow) return false;
      log.granted++;
      return true;
    },
    recordSuccess: () => void log.successes++,
    recordFailure: () => void log.failures++,
  };
  return { budget, log };
}

interface Plan {
  /** When the attempt settles, in ms after it starts. */
  after: number;
  value?: string;
  error?: Error;
}

/**
 * An operation whose attempts follow `plans` (by attempt number); each records its context and
 * rejects with the signal's reason when aborted, as a well-behaved operation does.
 */
function scripted(clock: VirtualClock, plans: Record<number, Plan>) {
  const seen: PolicyContext[] = [];
  const startedAt: number[] = [];
  const operation = (ctx: PolicyContext) =>
    new Promise<string>((resolve, reject) => {
      seen.push(ctx);
      startedAt.push(clock.now());
      const plan = plans[ctx.attempt];
      if (!plan) throw new Error(`no plan for attempt ${ctx.attempt}`);
      const cancel = clock.setTimer(plan.after, () => (plan.error ? reject(plan.error) : resolve(plan.value ?? `#${ctx.attempt}`)));
      ctx.signal.addEventListener('abort', () => {
        cancel();
        reject(ctx.signal.reason);
      });
    });
  return { operation, seen, startedAt };
}

function listen(policy: ReturnType<typeof hedge>) {
  const hedges: HedgeEvent[] = [];
  const wins: HedgeWinEvent[] = [];
  policy.onHedge((e) => hedges.push(e));
  policy.onWin((e) => wins.push(e));
  return { hedges, wins };
}

describe('hedge', () => {
  it('returns the first attempt when it answers before the delay, without hedging or spending budget', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: 100, budget, clock });
    const events = listen(policy);
    const { operation, seen } = scripted(clock, { 1: { after: 50 } });
    expect(await clock.run(policy.execute(operation))).toBe('#1');
    expect(seen).toHaveLength(1);
    expect(log).toMatchObject({ calls: 1, asked: 0, successes: 1, failures: 0 });
    expect(events.hedges).toEqual([]);
    expect(events.wins).toEqual([{ attempt: 1, afterMs: 50 }]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('starts a hedge after the delay; when the hedge wins, the first attempt is aborted at once with HedgeLostError', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: '100ms', budget, clock });
    const events = listen(policy);
    const { operation, seen, startedAt } = scripted(clock, { 1: { after: 1000 }, 2: { after: 50 } });
    expect(await clock.run(policy.execute(operation))).toBe('#2');
    expect(clock.now()).toBe(150);
    expect(startedAt).toEqual([0, 100]);
    expect(seen.map((c) => c.attempt)).toEqual([1, 2]);
    expect(seen[0]!.signal).not.toBe(seen[1]!.signal);
    expect(seen[0]!.signal.aborted).toBe(true);
    expect(seen[0]!.signal.reason).toBeInstanceOf(HedgeLostError);
    expect((seen[0]!.signal.reason as HedgeLostError).winner).toBe(2);
    expect(seen[1]!.signal.aborted).toBe(false);
    expect(events.hedges).toEqual([{ attempt: 2, afterMs: 100, cause: 'delay' }]);
    expect(events.wins).toEqual([{ attempt: 2, afterMs: 150 }]);
    expect(log).toMatchObject({ asked: 1, granted: 1, successes: 1, failures: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('when the first attempt wins late (after the hedge started), its result is returned and the hedge is aborted', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, budget: unlimitedBudget, clock });
    const events = listen(policy);
    const { operation, seen } = scripted(clock, { 1: { after: 120, value: 'first' }, 2: { after: 500, value: 'hedge' } });
    expect(await clock.run(policy.execute(operation))).toBe('first');
    expect(clock.now()).toBe(120);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.signal.aborted).toBe(true);
    expect(seen[1]!.signal.reason).toBeInstanceOf(HedgeLostError);
    expect((seen[1]!.signal.reason as HedgeLostError).winner).toBe(1);
    expect(seen[0]!.signal.aborted).toBe(false);
    expect(events.wins).toEqual([{ attempt: 1, afterMs: 120 }]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('when all fail, throws AllAttemptsFailedError with every error in start order', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: 100, maxAttempts: 3, budget, clock });
    const e1 = new Error('one');
    const e2 = new Error('two');
    const e3 = new Error('three');
    // They fail in reverse order of starting.
    const { operation } = scripted(clock, { 1: { after: 300, error: e1 }, 2: { after: 150, error: e2 }, 3: { after: 10, error: e3 } });
    const error = await clock.run(policy.execute(operation)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AllAttemptsFailedError);
    expect(isPolicyError(error, 'all_attempts_failed')).toBe(true);
    expect((error as AllAttemptsFailedError).errors).toEqual([e1, e2, e3]);
    expect((error as Error).message).toContain('#1 one; #2 two; #3 three');
    expect(log).toMatchObject({ calls: 1, granted: 2, failures: 3, successes: 0 });
  });

  it("onFailure 'start-next' (default): a failure starts the next attempt at once", async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, budget: unlimitedBudget, clock });
    const events = listen(policy);
    const { operation, startedAt } = scripted(clock, { 1: { after: 10, error: new Error('boom') }, 2: { after: 20 } });
    expect(await clock.run(policy.execute(operation))).toBe('#2');
    expect(startedAt).toEqual([0, 10]);
    expect(events.hedges).toEqual([{ attempt: 2, afterMs: 10, cause: 'failure' }]);
  });

  it("onFailure 'wait': a failure does not start the next early; the delay does", async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, onFailure: 'wait', budget: unlimitedBudget, clock });
    const { operation, startedAt } = scripted(clock, { 1: { after: 10, error: new Error('boom') }, 2: { after: 20 } });
    expect(await clock.run(policy.execute(operation))).toBe('#2');
    expect(startedAt).toEqual([0, 100]);
  });

  it('a failure-started attempt resets the delay for the one after it', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, maxAttempts: 3, budget: unlimitedBudget, clock });
    const { operation, startedAt } = scripted(clock, {
      1: { after: 30, error: new Error('x') },
      2: { after: 1000 },
      3: { after: 1 },
    });
    await clock.run(policy.execute(operation));
    expect(startedAt).toEqual([0, 30, 130]);
  });

  it('without a budget it does not hedge: it waits for the first attempt, and does not retry its failure', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 10, maxAttempts: 5, clock });
    const events = listen(policy);
    const slow = scripted(clock, { 1: { after: 10_000, value: 'slow' } });
    expect(await clock.run(policy.execute(slow.operation))).toBe('slow');
    expect(slow.seen).toHaveLength(1);
    expect(events.hedges).toEqual([]);

    const boom = new Error('boom');
    const failing = scripted(clock, { 1: { after: 5, error: boom } });
    const error = await clock.run(policy.execute(failing.operation)).catch((e: unknown) => e);
    expect((error as AllAttemptsFailedError).errors).toEqual([boom]);
    expect(failing.seen).toHaveLength(1);
  });

  it('an exhausted budget stops hedging (tryAcquire false), and the budget is asked once per hedge', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget(1);
    const policy = hedge({ delay: 100, maxAttempts: 4, budget, clock });
    const { operation, startedAt } = scripted(clock, { 1: { after: 1000 }, 2: { after: 1000 }, 3: { after: 1 } });
    expect(await clock.run(policy.execute(operation))).toBe('#1');
    expect(startedAt).toEqual([0, 100]); // the second hedge was refused at t=200
    expect(log).toMatchObject({ asked: 2, granted: 1 });
  });

  it('spends a real budget: gRPC throttling stops hedges after enough failures', async () => {
    const clock = createVirtualClock();
    const budget = tokenBucketBudget({ maxTokens: 3 }); // retries while tokens > 1.5
    const policy = hedge({ delay: 100, budget, clock });
    const boom = () => scripted(clock, { 1: { after: 1, error: new Error('a') }, 2: { after: 1, error: new Error('b') } });
    const first = boom();
    await clock.run(policy.execute(first.operation)).catch(() => undefined);
    expect(first.seen).toHaveLength(2); // after the first failure 2 > 1.5: hedged
    expect(budget.snapshot().tokens).toBe(1); // each failure cost a token
    const second = boom();
    await clock.run(policy.execute(second.operation)).catch(() => undefined);
    expect(second.seen).toHaveLength(1);
  });

  it('recordCalls: false leaves recordCall to an enclosing policy', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: 100, budget, recordCalls: false, clock });
    await clock.run(policy.execute(() => 'x'));
    expect(log.calls).toBe(0);
  });

  it("the caller's abort aborts every attempt and rejects at once with the caller's reason", async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: 100, maxAttempts: 3, budget, clock });
    const { operation, seen } = scripted(clock, { 1: { after: 10_000 }, 2: { after: 10_000 }, 3: { after: 10_000 } });
    const controller = new AbortController();
    const run = policy.execute(operation, { signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(150);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await run).toBe(reason);
    expect(seen).toHaveLength(2);
    for (const ctx of seen) expect(ctx.signal.reason).toBe(reason);
    expect(log.failures).toBe(0);
    await clock.runAll();
    expect(seen).toHaveLength(2); // no hedge started after the abort
  });

  it('rejects without running when the caller has already aborted', async () => {
    const policy = hedge({ delay: 1, budget: unlimitedBudget });
    const controller = new AbortController();
    controller.abort(new Error('early'));
    let ran = false;
    await expect(
      policy.execute(
        () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('early');
    expect(ran).toBe(false);
  });

  it('isAcceptable: an unacceptable result counts as a failure; the first acceptable one wins', async () => {
    const clock = createVirtualClock();
    const policy = hedge<string>({ delay: 100, maxAttempts: 3, isAcceptable: (r) => r !== 'empty', budget: unlimitedBudget, clock });
    const { operation, startedAt } = scripted(clock, {
      1: { after: 10, value: 'empty' },
      2: { after: 50, value: 'full' },
      3: { after: 1, value: 'never' },
    });
    expect(await clock.run(policy.execute(operation))).toBe('full');
    expect(startedAt).toEqual([0, 10]);
  });

  it('isAcceptable: when no result is acceptable, the errors hold each rejected result', async () => {
    const clock = createVirtualClock();
    const policy = hedge<string>({ delay: 100, isAcceptable: () => false, budget: unlimitedBudget, clock });
    const { operation } = scripted(clock, { 1: { after: 10, value: 'a' }, 2: { after: 10, value: 'b' } });
    const error = (await clock.run(policy.execute(operation)).catch((e: unknown) => e)) as AllAttemptsFailedError;
    expect(error.errors.map((e) => (e as UnacceptableResultError).result)).toEqual(['a', 'b']);
    expect(error.errors[0]).toBeInstanceOf(UnacceptableResultError);
  });

  it('isAcceptable that throws counts as that attempt failing with the thrown error', async () => {
    const clock = createVirtualClock();
    const bad = new Error('predicate broke');
    const policy = hedge({
      delay: 100,
      maxAttempts: 1,
      isAcceptable: () => {
        throw bad;
      },
      budget: unlimitedBudget,
      clock,
    });
    const error = (await clock.run(policy.execute(() => 'x')).catch((e: unknown) => e)) as AllAttemptsFailedError;
    expect(error.errors).toEqual([bad]);
  });

  it('a delay function gets the number of the attempt about to start', async () => {
    const clock = createVirtualClock();
    const asked: number[] = [];
    const policy = hedge({
      delay: (attempt) => {
        asked.push(attempt);
        return attempt * 100;
      },
      maxAttempts: 3,
      budget: unlimitedBudget,
      clock,
    });
    const { operation, startedAt } = scripted(clock, { 1: { after: 10_000 }, 2: { after: 10_000 }, 3: { after: 5 } });
    expect(await clock.run(policy.execute(operation))).toBe('#3');
    expect(asked).toEqual([2, 3]);
    expect(startedAt).toEqual([0, 200, 500]);
  });

  it("numbers attempts on from the caller's, passes the deadline, sets elapsed, and gives each its own signal", async () => {
    const clock = createVirtualClock(1000);
    const policy = hedge({ delay: 100, budget: unlimitedBudget, clock });
    const { operation, seen } = scripted(clock, { 2: { after: 10_000 }, 3: { after: 10 } });
    const controller = new AbortController();
    await clock.run(policy.execute(operation, { attempt: 2, deadline: 5000, elapsed: 40, signal: controller.signal }));
    expect(seen.map((c) => [c.attempt, c.deadline, c.elapsed])).toEqual([
      [2, 5000, 40],
      [3, 5000, 140],
    ]);
    expect(seen[0]!.signal).not.toBe(controller.signal);
    expect(controller.signal.aborted).toBe(false);
  });

  it('does not schedule a hedge that would start at or after the deadline', async () => {
    const clock = createVirtualClock();
    const { budget, log } = countingBudget();
    const policy = hedge({ delay: 100, budget, clock });
    const { operation, seen } = scripted(clock, { 1: { after: 500 } });
    expect(await clock.run(policy.execute(operation, { deadline: 100 }))).toBe('#1');
    expect(seen).toHaveLength(1);
    expect(log.asked).toBe(0);
  });

  it('a synchronous throw is an attempt failure like any other', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, budget: unlimitedBudget, clock });
    let n = 0;
    const result = await clock.run(
      policy.execute(() => {
        if (++n === 1) throw new Error('sync');
        return 'second';
      }),
    );
    expect(result).toBe('second');
  });

  it('many executions without a signal add no listener to the shared never-aborting signal', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 10, budget: unlimitedBudget, clock });
    const runs = Array.from({ length: 20 }, () => policy.execute(scripted(clock, { 1: { after: 100 }, 2: { after: 100 } }).operation));
    await clock.advance(20);
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    await clock.run(Promise.all(runs));
  });

  it('rejects invalid options', () => {
    expect(() => hedge({ delay: 1, maxAttempts: 0 })).toThrow(RangeError);
    expect(() => hedge({ delay: 1, maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => hedge({ delay: 'later' })).toThrow(TypeError);
  });

  it('leaves no timer behind when the operation aborts the caller synchronously', async () => {
    const clock = createVirtualClock();
    const policy = hedge({ delay: 100, budget: unlimitedBudget, clock });
    const controller = new AbortController();
    const reason = new Error('aborted from inside');
    const run = policy.execute(
      () => {
        controller.abort(reason);
        return new Promise<string>(() => {});
      },
      { signal: controller.signal },
    );
    await expect(run).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  for (const [when, failOn] of [
    ['before the first hedge', 2],
    ['after a hedge started', 3],
  ] as const) {
    it(`a delay function that throws ${when} rejects with its error, aborts the running attempts and cleans up`, async () => {
      const clock = createVirtualClock();
      const bug = new Error('delay bug');
      const policy = hedge({
        delay: (attempt) => {
          if (attempt === failOn) throw bug;
          return 100;
        },
        maxAttempts: 3,
        budget: unlimitedBudget,
        clock,
      });
      const { operation, seen } = scripted(clock, { 1: { after: 10_000 }, 2: { after: 10_000 } });
      const controller = new AbortController();
      const error = await clock.run(policy.execute(operation, { signal: controller.signal })).catch((e: unknown) => e);
      expect(error).toBe(bug);
      expect(seen).toHaveLength(failOn - 1);
      for (const ctx of seen) expect(ctx.signal.reason).toBe(bug);
      expect(clock.pendingTimers).toBe(0);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });
  }

  it('a delay function that returns a negative or NaN delay fails the hedge with a RangeError', async () => {
    for (const bad of [-1, Number.NaN]) {
      const clock = createVirtualClock();
      const policy = hedge({ delay: () => bad, budget: unlimitedBudget, clock });
      const { operation } = scripted(clock, { 1: { after: 10 } });
      await expect(clock.run(policy.execute(operation))).rejects.toThrow(RangeError);
      expect(clock.pendingTimers).toBe(0);
    }
  });
});

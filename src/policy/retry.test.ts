import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PolicyContext } from './context.js';
import { TimeoutError } from './errors.js';
import type { RetryBudget } from './retry-budget.js';
import { retryIfErrorType, retryIfMessage, retryIfResult, stopOn } from './retry-condition.js';
import { stopAfterElapsed, stopBeforeElapsed, stopNever } from './retry-stop.js';
import { waitExponential, waitFixed, type WaitInfo } from './retry-wait.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';
import { retry, type RetryGiveUpEvent, type RetryOptions, type RetryPolicy } from './retry.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message = `HTTP ${status}`,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
class AuthError extends Error {}

/** An operation that throws the given errors in turn, then returns `value`; records what it saw. */
function script<T>(errors: unknown[], value: T, clock?: VirtualClock, workMs = 0) {
  const seen: PolicyContext[] = [];
  const times: number[] = [];
  const op = async (ctx: PolicyContext): Promise<T> => {
    seen.push(ctx);
    if (clock) times.push(clock.now());
    if (clock && workMs > 0) await clock.sleep(workMs);
    const next = seen.length - 1;
    if (next < errors.length) throw errors[next];
    return value;
  };
  return { op, seen, times, calls: () => seen.length };
}

/** Records every event of a policy, in order, as `name:attempt[:extra]`. */
function record(policy: RetryPolicy) {
  const log: string[] = [];
  const giveUps: RetryGiveUpEvent[] = [];
  policy.onAttempt((e) => log.push(`attempt:${e.attempt}`));
  policy.onAttemptEnd((e) => log.push(`end:${e.attempt}:${'error' in e ? 'error' : 'result'}`));
  policy.onRetry((e) => log.push(`retry:${e.attempt}:${e.delay}`));
  policy.onSuccess((e) => log.push(`success:${e.attempts}`));
  policy.onGiveUp((e) => {
    log.push(`giveup:${e.reason}:${e.attempts}`);
    giveUps.push(e);
  });
  return { log, giveUps };
}

function setup(options: RetryOptions = {}) {
  const clock = createVirtualClock();
  const policy = retry({ wait: waitFixed(100), ...options, clock });
  return { clock, policy, ...record(policy) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('retry: basics', () => {
  it('returns the first success without sleeping or retrying', async () => {
    const { clock, policy, log } = setup();
    const { op, calls } = script([], 'ok');
    await expect(clock.run(policy.execute(op))).resolves.toBe('ok');
    expect(calls()).toBe(1);
    expect(clock.now()).toBe(0);
    expect(log).toEqual(['attempt:1', 'end:1:result', 'success:1']);
  });

  it('retries errors until one attempt succeeds', async () => {
    const { clock, policy, log } = setup({ attempts: 3 });
    const { op, calls, times } = script([new HttpError(503), new HttpError(502)], 'ok', clock);
    await expect(clock.run(policy.execute(op))).resolves.toBe('ok');
    expect(calls()).toBe(3);
    expect(times).toEqual([0, 100, 200]);
    expect(log).toEqual([
      'attempt:1', 'end:1:error', 'retry:1:100',
      'attempt:2', 'end:2:error', 'retry:2:100',
      'attempt:3', 'end:3:result', 'success:3',
    ]);
  });

  it('gives up after the attempts by rethrowing the last error unchanged', async () => {
    const { clock, policy, log, giveUps } = setup({ attempts: 3 });
    const last = new HttpError(500, 'third');
    const { op, calls } = script([new HttpError(500), new HttpError(500), last], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toBe(last);
    expect(calls()).toBe(3);
    expect(log.at(-1)).toBe('giveup:stopped:3');
    expect(giveUps[0]).toMatchObject({ reason: 'stopped', error: last, attempts: 3, elapsed: 200 });
  });

  it('defaults to 3 attempts with full jitter from 500ms', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const clock = createVirtualClock();
    const policy = retry({ clock });
    const { giveUps } = record(policy);
    const { op, times } = script([1, 2, 3, 4].map((n) => new Error(`e${n}`)), 'never', clock);
    await expect(clock.run(policy.execute(op))).rejects.toThrow('e3');
    // random(0, 500) then random(0, 1000), with random() = 0.5.
    expect(times).toEqual([0, 250, 750]);
    expect(giveUps[0]?.reason).toBe('stopped');
  });

  it('passes attempt, elapsed, signal and deadline to the operation', async () => {
    const { clock, policy } = setup({ attempts: 3 });
    const { op, seen } = script([new Error('a'), new Error('b')], 'ok', clock, 50);
    const controller = new AbortController();
    await clock.run(policy.execute(op, { signal: controller.signal, deadline: 10_000, attempt: 7, elapsed: 999 }));
    // Each attempt works 50ms, then waits 100ms.
    expect(seen.map((c) => [c.attempt, c.elapsed])).toEqual([[1, 0], [2, 150], [3, 300]]);
    for (const ctx of seen) {
      expect(ctx.signal).toBe(controller.signal);
      expect(ctx.deadline).toBe(10_000);
    }
  });

  it('without options, the operation still gets attempt numbers and a never-aborting signal', async () => {
    const { clock, policy } = setup({ attempts: 2 });
    const { op, seen } = script([new Error('a')], 'ok');
    await clock.run(policy.execute(op));
    expect(seen.map((c) => c.attempt)).toEqual([1, 2]);
    expect(seen[0]!.signal.aborted).toBe(false);
    expect(seen[0]!.deadline).toBe(Infinity);
  });

  it('accepts operations that return or throw synchronously', async () => {
    const { clock, policy } = setup({ attempts: 2 });
    let n = 0;
    const op = () => {
      if (n++ === 0) throw new Error('sync');
      return 42;
    };
    await expect(clock.run(policy.execute(op))).resolves.toBe(42);
    expect(n).toBe(2);
  });

  it('works on the real clock by default (zero waits do not sleep)', async () => {
    const policy = retry({ attempts: 2, wait: 0 });
    const { op, calls } = script([new Error('a')], 'ok');
    await expect(policy.execute(op)).resolves.toBe('ok');
    expect(calls()).toBe(2);
  });

  it('validates attempts', () => {
    expect(() => retry({ attempts: 0 })).toThrow(RangeError);
  });
});

describe('retry: stop', () => {
  it('uses a stop condition instead of the default attempts', async () => {
    const { clock, policy, giveUps } = setup({ stop: stopAfterElapsed(1000), wait: 300 });
    const { op, calls } = script(Array.from({ length: 10 }, () => new Error('x')), 'never');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('x');
    // Failures at 0, 300, 600, 900, 1200: the one at 1200 is past the limit.
    expect(calls()).toBe(5);
    expect(giveUps[0]).toMatchObject({ reason: 'stopped', attempts: 5, elapsed: 1200 });
  });

  it('combines attempts and stop with "or"', async () => {
    const { clock, policy } = setup({ attempts: 2, stop: stopNever });
    const { op, calls } = script([new Error('a'), new Error('b'), new Error('c')], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('b');
    expect(calls()).toBe(2);
  });

  it('the stop condition sees the upcoming delay (stopBeforeElapsed never sleeps past its limit)', async () => {
    const { clock, policy, giveUps } = setup({ stop: stopBeforeElapsed(1000), wait: waitExponential({ base: 300, maxDelay: 10_000 }) });
    const { op, calls } = script(Array.from({ length: 10 }, () => new Error('x')), 'never');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('x');
    // Attempts at 0 and 300; the next wait (600) would end at 900; then 900 + 1200 > 1000.
    expect(calls()).toBe(3);
    expect(clock.now()).toBe(900);
    expect(giveUps[0]?.reason).toBe('stopped');
  });
});

describe('retry: wait', () => {
  it('accepts a duration as a fixed wait', async () => {
    const { clock, policy } = setup({ attempts: 2, wait: '1s' });
    const { op, times } = script([new Error('a')], 'ok', clock);
    await clock.run(policy.execute(op));
    expect(times).toEqual([0, 1000]);
  });

  it('gives the strategy the attempt, elapsed, last delay and error', async () => {
    const seen: WaitInfo[] = [];
    const errors = [new Error('a'), new Error('b'), new Error('c')];
    const { clock, policy } = setup({ attempts: 4, wait: (info) => (seen.push(info), info.attempt * 10) });
    const { op } = script(errors, 'ok', clock, 5);
    await clock.run(policy.execute(op));
    expect(seen).toEqual([
      { error: errors[0], attempt: 1, elapsed: 5, lastDelay: 0 },
      { error: errors[1], attempt: 2, elapsed: 20, lastDelay: 10 },
      { error: errors[2], attempt: 3, elapsed: 45, lastDelay: 20 },
    ]);
  });

  it('retries at once, without timers, when the wait is 0', async () => {
    const { clock, policy } = setup({ attempts: 3, wait: 0 });
    const { op, calls } = script([new Error('a'), new Error('b')], 'ok');
    // No clock.run: nothing needs time to pass.
    await expect(policy.execute(op)).resolves.toBe('ok');
    expect(calls()).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects a strategy that returns a negative or non-finite delay', async () => {
    for (const bad of [-1, Number.NaN, Infinity]) {
      const { clock, policy } = setup({ attempts: 2, wait: () => bad });
      const { op } = script([new Error('a')], 'ok');
      await expect(clock.run(policy.execute(op))).rejects.toThrow(/wait strategy returned/);
    }
  });
});

describe('retry: retryIf', () => {
  it('does not retry what the condition refuses (reason not_retryable)', async () => {
    const { clock, policy, log } = setup({ attempts: 5, retryIf: retryIfErrorType(HttpError) });
    const auth = new AuthError('bad key');
    const { op, calls } = script([new HttpError(500), auth], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toBe(auth);
    expect(calls()).toBe(2);
    expect(log.at(-1)).toBe('giveup:not_retryable:2');
  });

  it('retries by message', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, retryIf: retryIfMessage('rate limit') });
    const fatal = new Error('model not found');
    const { op, calls } = script([new Error('Rate limit reached'), new Error('rate limit again'), fatal], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toBe(fatal);
    expect(calls()).toBe(3);
    expect(giveUps[0]?.reason).toBe('not_retryable');
  });

  it('never retries stopOn errors', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, retryIf: stopOn(AuthError) });
    const auth = new AuthError('401');
    const { op, calls } = script([new HttpError(503), auth], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toBe(auth);
    expect(calls()).toBe(2);
    expect(giveUps[0]).toMatchObject({ reason: 'not_retryable', error: auth, attempts: 2 });
  });

  it('retries a result, then returns the accepted one', async () => {
    const { clock, policy, log } = setup({ attempts: 5, retryIf: retryIfResult((r: { text: string }) => r.text === '') });
    const replies = [{ text: '' }, { text: '' }, { text: 'hello' }];
    let i = 0;
    const retried: unknown[] = [];
    policy.onRetry((e) => {
      if ('result' in e) retried.push(e.result);
    });
    const answer = await clock.run(policy.execute(async () => replies[i++]!));
    expect(answer).toEqual({ text: 'hello' });
    expect(retried).toEqual([{ text: '' }, { text: '' }]);
    expect(log).toContain('retry:1:100');
    expect(log.at(-1)).toBe('success:3');
  });

  it('returns the last retried result when it gives up on results', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 2, retryIf: retryIfResult((r: string) => r === '') });
    await expect(clock.run(policy.execute(async () => ''))).resolves.toBe('');
    expect(giveUps[0]).toMatchObject({ reason: 'stopped', result: '', attempts: 2 });
  });

  it('with an error-only condition, results are accepted without asking it', async () => {
    const condition = vi.fn(retryIfErrorType(HttpError));
    Object.defineProperty(condition, 'on', { value: 'error' });
    const { clock, policy } = setup({ retryIf: condition });
    await clock.run(policy.execute(async () => 'ok'));
    expect(condition).not.toHaveBeenCalled();
  });

  it('asks a plain predicate about results too', async () => {
    const { clock, policy } = setup({ attempts: 3, retryIf: (o) => 'result' in o && o.result === 0 });
    let n = 0;
    await expect(clock.run(policy.execute(async () => n++))).resolves.toBe(1);
  });
});

describe('retry: server hints (retryAfterMs)', () => {
  it('replaces the computed wait', async () => {
    const { clock, policy, log } = setup({ attempts: 2, wait: 100 });
    const { op, times } = script([new HttpError(429, 'slow down', 3000)], 'ok', clock);
    await clock.run(policy.execute(op));
    expect(times).toEqual([0, 3000]);
    expect(log).toContain('retry:1:3000');
  });

  it('treats a negative hint as "retry now" and ignores a non-numeric one', async () => {
    const { clock, policy, log } = setup({ attempts: 3, wait: 100 });
    const odd = Object.assign(new Error('odd'), { retryAfterMs: '5000' });
    const { op, times } = script([new HttpError(429, 'past reset', -20), odd], 'ok', clock);
    await clock.run(policy.execute(op));
    expect(times).toEqual([0, 0, 100]);
    expect(log).toContain('retry:1:0');
  });

  it('gives up at once, without sleeping, when the hint exceeds maxRetryAfter', async () => {
    const { clock, policy, log, giveUps } = setup({ attempts: 5, maxRetryAfter: '20s' });
    const limited = new HttpError(429, 'rate limited', 30_000);
    const { op, calls } = script([limited], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toBe(limited);
    expect(calls()).toBe(1);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(log).not.toContain('retry:1:30000');
    expect(giveUps[0]).toMatchObject({ reason: 'retry_after_exceeds_cap', error: limited, attempts: 1, elapsed: 0 });
  });

  it('obeys hints up to 60s by default', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 3 });
    const { op, times } = script([new HttpError(429, 'a', 60_000), new HttpError(429, 'b', 60_001)], 'never', clock);
    await expect(clock.run(policy.execute(op))).rejects.toThrow('b');
    expect(times).toEqual([0, 60_000]);
    expect(giveUps[0]?.reason).toBe('retry_after_exceeds_cap');
  });

  it('an infinite hint is over any cap', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 3, maxRetryAfter: Infinity });
    const { op } = script([new HttpError(429, 'never again', Infinity)], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('never again');
    expect(giveUps[0]?.reason).toBe('retry_after_exceeds_cap');
  });

  it('stopped wins over the cap when no attempt is left', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 1, maxRetryAfter: '1s' });
    const { op } = script([new HttpError(429, 'x', 5000)], 'never');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('x');
    expect(giveUps[0]?.reason).toBe('stopped');
  });
});

describe('retry: deadline', () => {
  it('gives up at once when the next wait would end past the deadline', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, wait: 1000 });
    const first = new HttpError(503);
    const { op, calls } = script([first], 'ok');
    await expect(clock.run(policy.execute(op, { deadline: 500 }))).rejects.toBe(first);
    expect(calls()).toBe(1);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(giveUps[0]).toMatchObject({ reason: 'deadline', error: first, attempts: 1, elapsed: 0 });
  });

  it('retries while the waits fit, then stops before the one that does not', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 10, wait: waitExponential({ base: 100, maxDelay: 10_000 }) });
    const { op, times } = script(Array.from({ length: 10 }, (_, i) => new Error(`e${i + 1}`)), 'never', clock);
    await expect(clock.run(policy.execute(op, { deadline: 1000 }))).rejects.toThrow('e4');
    // 0, +100, +200, +400 = 700; the next wait (800) would end at 1500.
    expect(times).toEqual([0, 100, 300, 700]);
    expect(clock.now()).toBe(700);
    expect(giveUps[0]?.reason).toBe('deadline');
  });

  it('a hint longer than the time left stops at once, even under maxRetryAfter', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, maxRetryAfter: '1m' });
    const { op } = script([new HttpError(429, 'wait 10s', 10_000)], 'ok');
    await expect(clock.run(policy.execute(op, { deadline: 5000 }))).rejects.toThrow('wait 10s');
    expect(clock.now()).toBe(0);
    expect(giveUps[0]?.reason).toBe('deadline');
  });

  it('returns the retried result when the deadline stops a result retry', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, wait: 1000, retryIf: retryIfResult((r: string) => r === '') });
    await expect(clock.run(policy.execute(async () => '', { deadline: 500 }))).resolves.toBe('');
    expect(giveUps[0]).toMatchObject({ reason: 'deadline', result: '' });
  });
});

describe('retry: abort', () => {
  it('an abort during a backoff sleep rejects at once with the reason and runs no further attempt', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5, wait: 10_000 });
    const { op, calls } = script([new HttpError(503), new HttpError(503)], 'ok');
    const controller = new AbortController();
    const reason = new Error('user went away');
    const done = policy.execute(op, { signal: controller.signal });
    const settled = vi.fn();
    done.then(settled, settled);
    await clock.advance(1000);
    expect(calls()).toBe(1);
    expect(settled).not.toHaveBeenCalled();
    controller.abort(reason);
    await expect(done).rejects.toBe(reason);
    expect(clock.now()).toBe(1000);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(20_000);
    expect(calls()).toBe(1);
    expect(giveUps[0]).toMatchObject({ reason: 'aborted', error: reason, attempts: 1 });
  });

  it('never retries an error thrown while the caller signal is aborted', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 5 });
    const controller = new AbortController();
    const thrown = new Error('request aborted');
    let calls = 0;
    const op = async () => {
      calls++;
      controller.abort(new Error('reason'));
      throw thrown;
    };
    await expect(clock.run(policy.execute(op, { signal: controller.signal }))).rejects.toBe(thrown);
    expect(calls).toBe(1);
    expect(giveUps[0]).toMatchObject({ reason: 'aborted', error: thrown, attempts: 1 });
  });

  it('does not start when the signal has already aborted', async () => {
    const { clock, policy, giveUps } = setup();
    const reason = new Error('already gone');
    const { op, calls } = script([], 'ok');
    await expect(clock.run(policy.execute(op, { signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
    expect(calls()).toBe(0);
    expect(giveUps[0]).toMatchObject({ reason: 'aborted', attempts: 0 });
  });

  it("says 'deadline' when a deadline policy aborted the signal", async () => {
    for (const [reason, expected] of [
      [new TimeoutError('deadline', 3500), 'deadline'],
      [new TimeoutError('attempt', 500), 'aborted'],
    ] as const) {
      const { clock, policy, giveUps } = setup({ attempts: 5, wait: 1000 });
      const controller = new AbortController();
      const done = policy.execute(script([new Error('a')], 'ok').op, { signal: controller.signal });
      await clock.advance(10);
      controller.abort(reason);
      await expect(done).rejects.toBe(reason);
      expect(giveUps[0]?.reason).toBe(expected);
    }
  });

  it('an abort during the sleep of a result retry rejects too', async () => {
    const { clock, policy } = setup({ attempts: 5, wait: 1000, retryIf: retryIfResult((r: string) => r === '') });
    const controller = new AbortController();
    const done = policy.execute(async () => '', { signal: controller.signal });
    await clock.advance(10);
    controller.abort('stop');
    await expect(done).rejects.toBe('stop');
  });
});

describe('retry: budget', () => {
  function fakeBudget(retries: number) {
    const calls: string[] = [];
    let left = retries;
    const budget: RetryBudget = {
      recordCall: () => calls.push('call'),
      tryAcquire: () => (calls.push('acquire'), left-- > 0),
      recordSuccess: () => calls.push('success'),
      recordFailure: () => calls.push('failure'),
    };
    return { budget, calls };
  }

  it('stops retrying when the budget refuses (reason budget)', async () => {
    const { budget, calls } = fakeBudget(1);
    const { clock, policy, giveUps } = setup({ attempts: 10, budget });
    const { op, calls: opCalls } = script([new Error('a'), new Error('b'), new Error('c')], 'ok');
    await expect(clock.run(policy.execute(op))).rejects.toThrow('b');
    expect(opCalls()).toBe(2);
    expect(calls).toEqual(['call', 'failure', 'acquire', 'failure', 'acquire']);
    expect(giveUps[0]).toMatchObject({ reason: 'budget', attempts: 2 });
  });

  it('records one call per execute and feedback per attempt', async () => {
    const { budget, calls } = fakeBudget(10);
    const { clock, policy } = setup({ attempts: 3, budget });
    const { op } = script([new Error('a')], 'ok');
    await clock.run(policy.execute(op));
    expect(calls).toEqual(['call', 'failure', 'acquire', 'success']);
  });

  it('recordCalls: false leaves the calls to the caller and still asks before each retry', async () => {
    const { budget, calls } = fakeBudget(10);
    const { clock, policy } = setup({ attempts: 3, budget, recordCalls: false });
    await clock.run(policy.execute(script([new Error('a')], 'ok').op));
    expect(calls).toEqual(['failure', 'acquire', 'success']);
  });

  it('spends nothing on a non-retryable error or when already stopped', async () => {
    const { budget, calls } = fakeBudget(10);
    const { clock, policy } = setup({ attempts: 1, budget, retryIf: stopOn(AuthError) });
    await expect(clock.run(policy.execute(script([new AuthError()], 'x').op))).rejects.toBeInstanceOf(AuthError);
    await expect(clock.run(policy.execute(script([new Error('x')], 'x').op))).rejects.toThrow('x');
    expect(calls).toEqual(['call', 'call', 'failure']);
  });
});

describe('retry: events', () => {
  it('fire in order across retries and give-up, with their details', async () => {
    const { clock, policy, log } = setup({ attempts: 2, wait: 250 });
    const details: unknown[] = [];
    policy.onRetry((e) => details.push(e));
    policy.onAttemptEnd((e) => details.push(e));
    const a = new Error('a');
    const b = new Error('b');
    const { op } = script([a, b], 'never', clock, 40);
    await expect(clock.run(policy.execute(op))).rejects.toBe(b);
    expect(log).toEqual(['attempt:1', 'end:1:error', 'retry:1:250', 'attempt:2', 'end:2:error', 'giveup:stopped:2']);
    expect(details).toEqual([
      { error: a, attempt: 1, elapsed: 40, duration: 40 },
      { error: a, attempt: 1, delay: 250, elapsed: 40 },
      { error: b, attempt: 2, elapsed: 330, duration: 40 },
    ]);
  });

  it('onRetry fires before the sleep', async () => {
    const { clock, policy } = setup({ attempts: 2, wait: 500 });
    const at: number[] = [];
    policy.onRetry(() => at.push(clock.now()));
    await clock.run(policy.execute(script([new Error('a')], 'ok').op));
    expect(at).toEqual([0]);
  });

  it('onSuccess reports the result, attempts and elapsed time', async () => {
    const { clock, policy } = setup({ attempts: 3 });
    const successes: unknown[] = [];
    policy.onSuccess((e) => successes.push(e));
    await clock.run(policy.execute(script([new Error('a')], 'ok').op));
    expect(successes).toEqual([{ result: 'ok', attempts: 2, elapsed: 100 }]);
  });

  it('a disposed listener hears nothing more', async () => {
    const { clock, policy } = setup({ attempts: 2 });
    const heard: number[] = [];
    const dispose = policy.onAttempt((e) => heard.push(e.attempt));
    await clock.run(policy.execute(script([], 'ok').op));
    dispose();
    await clock.run(policy.execute(script([], 'ok').op));
    expect(heard).toEqual([1]);
  });

  it('a throwing listener does not break the retry', async () => {
    const { clock, policy } = setup({ attempts: 2 });
    vi.spyOn(console, 'error').mockImplementation(() => {});
    policy.onRetry(() => {
      throw new Error('listener bug');
    });
    await expect(clock.run(policy.execute(script([new Error('a')], 'ok').op))).resolves.toBe('ok');
  });
});

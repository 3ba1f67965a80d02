import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bulkhead } from './bulkhead.js';
import { BulkheadRejectedError, TimeoutError, isPolicyError } from './errors.js';
import { createVirtualClock } from './virtual-clock.js';
import { NEVER_ABORTED } from './context.js';

/** A promise with its resolve/reject exposed. */
function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('bulkhead', () => {
  it('runs up to `concurrency` calls at once and counts them', async () => {
    const policy = bulkhead({ concurrency: 2, queue: 1 });
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const calls = gates.map((gate, i) =>
      policy.execute(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    expect(policy.running).toBe(2);
    expect(policy.queued).toBe(1);

    gates[0]!.resolve('a');
    await flush();
    expect(started).toEqual([0, 1, 2]);
    expect(policy.running).toBe(2);
    expect(policy.queued).toBe(0);

    gates[1]!.resolve('b');
    gates[2]!.resolve('c');
    expect(await Promise.all(calls)).toEqual(['a', 'b', 'c']);
    expect(policy.running).toBe(0);
  });

  it('rejects at once with BulkheadRejectedError when slots and queue are full (queue defaults to 0)', async () => {
    const policy = bulkhead({ concurrency: 1 });
    const events: unknown[] = [];
    policy.onReject((e) => events.push(e));
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    let ran = false;
    const error = await policy
      .execute(() => {
        ran = true;
        return 'x';
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(isPolicyError(error, 'bulkhead_full')).toBe(true);
    expect(ran).toBe(false);
    expect(events).toEqual([{ running: 1, queued: 0 }]);
    gate.resolve('done');
    expect(await first).toBe('done');
  });

  it('rejects when the queue is full too', async () => {
    const policy = bulkhead({ concurrency: 1, queue: 2 });
    const gate = deferred();
    const calls = [0, 1, 2].map(() => policy.execute(() => gate.promise));
    await flush();
    expect(policy.queued).toBe(2);
    await expect(policy.execute(() => 'x')).rejects.toBeInstanceOf(BulkheadRejectedError);
    gate.resolve('ok');
    expect(await Promise.all(calls)).toEqual(['ok', 'ok', 'ok']);
  });

  it('admits queued calls first in first out, and a newcomer never jumps the queue', async () => {
    const policy = bulkhead({ concurrency: 1, queue: 3 });
    const order: string[] = [];
    const gate = deferred();
    const first = policy.execute(async () => {
      await gate.promise;
      order.push('first');
    });
    const queued = ['q1', 'q2', 'q3'].map((name) => policy.execute(() => void order.push(name)));
    await flush();
    gate.resolve('');
    // A call arriving while the slot is being handed over must queue behind q1..q3.
    await first;
    const late = policy.execute(() => void order.push('late'));
    await Promise.all([...queued, late]);
    expect(order).toEqual(['first', 'q1', 'q2', 'q3', 'late']);
  });

  it('a queued call whose signal aborts leaves the queue at once, never runs, and the next moves up', async () => {
    const policy = bulkhead({ concurrency: 1, queue: 2 });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = policy.execute(
      () => {
        abortedRan = true;
        return 'never';
      },
      { signal: controller.signal },
    );
    const next = policy.execute(() => 'next');
    await flush();
    expect(policy.queued).toBe(2);

    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(policy.queued).toBe(1);
    // Its place is free again: another call can queue.
    const third = policy.execute(() => 'third');
    await flush();
    expect(policy.queued).toBe(2);

    gate.resolve('running');
    expect(await running).toBe('running');
    expect(await next).toBe('next');
    expect(await third).toBe('third');
    expect(abortedRan).toBe(false);
    expect(policy.running).toBe(0);
  });

  it('rejects at once, without running, when the signal has already aborted', async () => {
    const policy = bulkhead({ concurrency: 1 });
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    let ran = false;
    await expect(
      policy.execute(
        () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('gone');
    expect(ran).toBe(false);
    expect(policy.running).toBe(0);
  });

  it('a queued call whose deadline passes leaves the queue with a TimeoutError', async () => {
    const clock = createVirtualClock(1_000);
    const policy = bulkhead({ concurrency: 1, queue: 2, clock });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    let ran = false;
    const late = policy
      .execute(
        () => {
          ran = true;
        },
        { deadline: 1_500 },
      )
      .catch((e: unknown) => e);
    const patient = policy.execute(() => 'patient');
    await clock.advance(499);
    expect(policy.queued).toBe(2);
    await clock.advance(1);
    const error = await late;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).scope).toBe('deadline');
    expect(policy.queued).toBe(1);
    gate.resolve('x');
    await running;
    expect(await patient).toBe('patient');
    expect(ran).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a queued call admitted before its deadline cancels its deadline timer', async () => {
    const clock = createVirtualClock();
    const policy = bulkhead({ concurrency: 1, queue: 1, clock });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const queued = policy.execute(() => 'in time', { deadline: 10_000 });
    await flush();
    expect(clock.pendingTimers).toBe(1);
    gate.resolve('first');
    await running;
    expect(await queued).toBe('in time');
    expect(clock.pendingTimers).toBe(0);
  });

  it('a call whose deadline has already passed is not queued', async () => {
    const clock = createVirtualClock(100);
    const policy = bulkhead({ concurrency: 1, queue: 1, clock });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    await expect(policy.execute(() => 'x', { deadline: 100 })).rejects.toBeInstanceOf(TimeoutError);
    expect(policy.queued).toBe(0);
    gate.resolve('');
    await running;
  });

  it('frees the slot when the operation throws (sync or async)', async () => {
    const policy = bulkhead({ concurrency: 1 });
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(policy.execute(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    expect(policy.running).toBe(0);
    expect(await policy.execute(() => 'ok')).toBe('ok');
  });

  it('passes the caller context through', async () => {
    const policy = bulkhead({ concurrency: 1 });
    const controller = new AbortController();
    const seen = await policy.execute((ctx) => ctx, { signal: controller.signal, attempt: 3, deadline: 99, elapsed: 7 });
    expect(seen).toMatchObject({ signal: controller.signal, attempt: 3, deadline: 99, elapsed: 7 });
  });

  it('queued calls without a signal add no listener to the shared never-aborting signal', async () => {
    const policy = bulkhead({ concurrency: 1, queue: Infinity });
    const gate = deferred();
    const calls = Array.from({ length: 20 }, () => policy.execute(() => gate.promise));
    await flush();
    expect(policy.queued).toBe(19);
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    gate.resolve('ok');
    await Promise.all(calls);
  });

  it('rejects invalid options', () => {
    expect(() => bulkhead({ concurrency: 0 })).toThrow(RangeError);
    expect(() => bulkhead({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => bulkhead({ concurrency: 1, queue: -1 })).toThrow(RangeError);
    expect(() => bulkhead({ concurrency: 1, queue: Infinity })).not.toThrow();
  });

  it('property: never exceeds concurrency or queue, admits in arrival order, and every admitted call finishes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 20 }), work: fc.integer({ min: 1, max: 50 }) }), {
          minLength: 5,
          maxLength: 30,
        }),
        async (concurrency, queue, calls) => {
          const clock = createVirtualClock();
          const policy = bulkhead({ concurrency, queue, clock });
          let active = 0;
          let peak = 0;
          const starts: number[] = [];
          const outcomes: Array<Promise<string>> = [];
          for (const [i, call] of calls.entries()) {
            await clock.advance(call.gap);
            outcomes.push(
              policy
                .execute(async () => {
                  starts.push(i);
                  active++;
                  peak = Math.max(peak, active);
                  await clock.sleep(call.work);
                  active--;
                  return 'ok';
                })
                .catch((e: unknown) => (e instanceof BulkheadRejectedError ? 'rejected' : 'other')),
            );
            expect(policy.running).toBeLessThanOrEqual(concurrency);
            expect(policy.queued).toBeLessThanOrEqual(queue);
          }
          await clock.runAll();
          const results = await Promise.all(outcomes);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(results).not.toContain('other');
          const admitted = results.flatMap((r, i) => (r === 'ok' ? [i] : []));
          expect(starts).toEqual(admitted);
          expect(policy.running).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

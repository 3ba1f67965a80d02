import { describe, expect, expectTypeOf, it } from 'vitest';
import { fallback } from './fallback.js';
import { pipeline } from './pipeline.js';
import { deadline, timeout } from './timeout.js';
import { createVirtualClock } from './virtual-clock.js';
import type { Policy } from './policy.js';
import { toContext, type ExecuteOptions, type Operation, type PolicyContext } from './context.js';

/** A policy that records when it is entered and left, and bumps `attempt` for the inside. */
function tracer(name: string, log: string[]): Policy {
  return {
    async execute(operation, options) {
      log.push(`enter ${name}`);
      try {
        return await operation({
          signal: options?.signal ?? new AbortController().signal,
          attempt: (options?.attempt ?? 1) + 1,
          deadline: options?.deadline ?? Infinity,
          elapsed: options?.elapsed ?? 0,
        });
      } finally {
        log.push(`leave ${name}`);
      }
    },
  };
}

describe('pipeline', () => {
  it('runs policies outermost first and threads the context through', async () => {
    const log: string[] = [];
    const composed = pipeline(tracer('a', log), tracer('b', log));
    const ctx = await composed.execute(async (c: PolicyContext) => {
      log.push('op');
      return c;
    });
    expect(log).toEqual(['enter a', 'enter b', 'op', 'leave b', 'leave a']);
    expect(ctx.attempt).toBe(3);
  });

  it('with no policies runs the operation', async () => {
    await expect(pipeline().execute(async () => 5)).resolves.toBe(5);
    await expect(
      pipeline().execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('gives the inner timeout the outer deadline', async () => {
    const clock = createVirtualClock();
    const composed = pipeline(deadline('1s', { clock }), timeout('10s', { clock }));
    const ctx = await composed.execute(async (c) => c);
    expect(ctx.deadline).toBe(1000);
  });

  it('passes the caller signal to the innermost operation', async () => {
    const clock = createVirtualClock();
    const controller = new AbortController();
    const composed = pipeline(deadline('1s', { clock }), timeout('10s', { clock }));
    const run = composed.execute(
      (c) => new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason))),
      { signal: controller.signal },
    );
    controller.abort(new Error('user'));
    await expect(run).rejects.toThrow('user');
  });

  it('hands inner policies a rejected promise, never a synchronous throw, when the operation throws', async () => {
    // A policy written against "an operation returns a promise".
    const recover: Policy = {
      execute: <T>(operation: Operation<T>, options?: ExecuteOptions) =>
        Promise.resolve(operation(toContext(options))).catch(() => 'recovered' as T),
    };
    const throwing = () => {
      throw new Error('sync');
    };
    await expect(pipeline(recover).execute(throwing)).resolves.toBe('recovered');
  });

  it('composes a fallback to a value, and types the result with its answer', async () => {
    const clock = createVirtualClock();
    const composed = pipeline(fallback('sorry'), timeout(100, { clock }));
    const run = composed.execute((ctx) => new Promise<number>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
    expectTypeOf(run).toEqualTypeOf<Promise<number | string>>();
    expect(await clock.run(run)).toBe('sorry');
  });

  it('is typed: plain policies make a plain Policy; fallbacks widen the result, nested pipelines included', () => {
    const clock = createVirtualClock();
    const plain = pipeline(deadline('1s', { clock }), timeout('1s', { clock }));
    expectTypeOf(plain).toExtend<Policy>();
    expectTypeOf(plain.execute(async () => true)).toEqualTypeOf<Promise<boolean>>();
    expectTypeOf(pipeline(plain, plain).execute(async () => true)).toEqualTypeOf<Promise<boolean>>();
    const widened = pipeline(fallback(() => 0), fallback(null), plain);
    expectTypeOf(widened.execute(async () => 'text')).toEqualTypeOf<Promise<string | number | null>>();
    expectTypeOf(widened).not.toExtend<Policy>();
    expectTypeOf(pipeline(plain, widened).execute(async () => true)).toEqualTypeOf<Promise<boolean | number | null>>();
    // A fallback to another policy answers with the operation's own type.
    expectTypeOf(pipeline(fallback(plain), plain)).toExtend<Policy>();
  });
});

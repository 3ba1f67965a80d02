import { describe, expect, it } from 'vitest';
import { pipeline } from './pipeline.js';
import { deadline, timeout } from './timeout.js';
import { createVirtualClock } from './virtual-clock.js';
import type { Policy } from './policy.js';
import type { PolicyContext } from './context.js';

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
});

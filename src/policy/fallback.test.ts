import { describe, expect, expectTypeOf, it } from 'vitest';
import { fallback, type FallbackEvent, type FallbackPolicy } from './fallback.js';
import { TimeoutError } from './errors.js';
import type { PolicyContext } from './context.js';
import type { Policy } from './policy.js';

const fail = (message = 'primary failed') => (): Promise<string> => Promise.reject(new Error(message));

describe('fallback', () => {
  it('returns the value when the operation fails, and tells onFallback with the error', async () => {
    const policy = fallback('sorry, try later');
    const events: FallbackEvent[] = [];
    policy.onFallback((e) => events.push(e));
    expect(await policy.execute(fail())).toBe('sorry, try later');
    expect(events).toHaveLength(1);
    expect((events[0]!.error as Error).message).toBe('primary failed');
  });

  it('passes a success through, without falling back', async () => {
    const policy = fallback('unused');
    const events: FallbackEvent[] = [];
    policy.onFallback((e) => events.push(e));
    expect(await policy.execute(() => 'primary')).toBe('primary');
    expect(events).toEqual([]);
  });

  it('falls back on a synchronous throw too', async () => {
    const policy = fallback(0);
    expect(
      await policy.execute((): number => {
        throw new Error('sync');
      }),
    ).toBe(0);
  });

  it('calls a handler with the error and the context, sync or async', async () => {
    const seen: Array<[unknown, PolicyContext]> = [];
    const policy = fallback(async (error, ctx) => {
      seen.push([error, ctx]);
      return `handled ${(error as Error).message} on attempt ${ctx.attempt}`;
    });
    expect(await policy.execute(fail('boom'), { attempt: 4 })).toBe('handled boom on attempt 4');
    expect(seen[0]![1].attempt).toBe(4);
    expect(await fallback(() => 'sync').execute(fail())).toBe('sync');
  });

  it('runs the same operation again under another policy', async () => {
    let runs = 0;
    const patient: Policy = {
      async execute(operation, options) {
        for (;;) {
          try {
            return await operation({ signal: options?.signal ?? new AbortController().signal, attempt: 9, deadline: Infinity, elapsed: 0 });
          } catch {
            // keep trying
          }
        }
      },
    };
    const policy = fallback(patient);
    const result = await policy.execute((ctx) => {
      runs++;
      if (runs < 3) throw new Error(`run ${runs}`);
      return `ok on attempt ${ctx.attempt}`;
    });
    expect(result).toBe('ok on attempt 9');
    expect(runs).toBe(3);
  });

  it('a function value is given by wrapping it', async () => {
    const noop = () => 'noop';
    const policy = fallback(() => noop);
    const result = await policy.execute((): (() => string) => {
      throw new Error('x');
    });
    expect(result).toBe(noop);
  });

  it('`when` decides: false rethrows the original error, true falls back', async () => {
    const calls: Array<[unknown, number]> = [];
    const policy = fallback('backup', {
      when: (error, ctx) => {
        calls.push([error, ctx.attempt]);
        return error instanceof TimeoutError;
      },
    });
    const other = new Error('bad request');
    await expect(policy.execute(() => Promise.reject(other))).rejects.toBe(other);
    expect(await policy.execute(() => Promise.reject(new TimeoutError('attempt', 10)), { attempt: 2 })).toBe('backup');
    expect(calls).toEqual([
      [other, 1],
      [expect.any(TimeoutError), 2],
    ]);
  });

  it("never falls back on the caller's own abort (even when `when` would say yes)", async () => {
    for (const policy of [fallback('backup'), fallback('backup', { when: () => true })]) {
      const events: FallbackEvent[] = [];
      policy.onFallback((e) => events.push(e));
      const controller = new AbortController();
      const reason = new Error('user cancelled');
      const run = policy.execute(
        (ctx) =>
          new Promise<string>((_, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
        { signal: controller.signal },
      );
      controller.abort(reason);
      await expect(run).rejects.toBe(reason);
      expect(events).toEqual([]);
    }
  });

  it("does fall back on an inner abort (a timeout) while the caller's signal is live", async () => {
    const policy = fallback('backup');
    const controller = new AbortController();
    const abortError = new DOMException('inner', 'AbortError');
    expect(await policy.execute(() => Promise.reject(abortError), { signal: controller.signal })).toBe('backup');
  });

  it("propagates the alternative's own error", async () => {
    const policy = fallback(() => {
      throw new Error('backup failed too');
    });
    await expect(policy.execute(fail())).rejects.toThrow('backup failed too');
  });

  it('is typed: the result is the operation type or the alternative type', () => {
    expectTypeOf(fallback('x').execute(() => 1)).toEqualTypeOf<Promise<string | number>>();
    expectTypeOf(fallback(async () => null).execute(() => 1)).toEqualTypeOf<Promise<number | null>>();
    expectTypeOf(fallback((_e: unknown, ctx: PolicyContext) => ctx.attempt).execute(async () => 'a')).toEqualTypeOf<Promise<string | number>>();
    const retryLike: Policy = { execute: (operation, options) => Promise.resolve(operation({ signal: options!.signal!, attempt: 1, deadline: 0, elapsed: 0 })) };
    expectTypeOf(fallback(retryLike)).toEqualTypeOf<FallbackPolicy<never>>();
    expectTypeOf(fallback(retryLike).execute(() => true)).toEqualTypeOf<Promise<boolean>>();
    expectTypeOf(fallback(retryLike)).toExtend<Policy>();
    expectTypeOf(fallback('x')).not.toExtend<Policy>();
  });
});

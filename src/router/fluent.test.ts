import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import type { StreamEvent } from '../llm/stream-events.js';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { simulated, type SimulatedOptions } from '../providers/simulated.js';
import { withFallbacks, withRetry } from './fluent.js';
import { createRouter, type Router } from './router.js';
import type { RouterEvent } from './router-events.js';
import type { TargetOptions } from './target.js';

const ask: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };

/** Fresh providers on a fresh clock, from the same fault scripts. */
function world(specs: Record<string, Omit<SimulatedOptions, 'clock' | 'name'>>) {
  const clock = createVirtualClock();
  const providers = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, simulated({ ...spec, name, clock })]));
  const target = (name: string, extra: Partial<TargetOptions> = {}): TargetOptions => ({ provider: providers[name]!, model: 'm', id: name, ...extra });
  return { clock, providers, target };
}

/** What a run of calls looked like: every attempt, and when each call ended. */
async function trace(router: Pick<Router, 'chat'>, clock: ReturnType<typeof createVirtualClock>, calls: number) {
  const out: string[] = [];
  for (let i = 0; i < calls; i++) {
    const outcome = await clock.run(router.chat(ask)).then(
      (r) => `ok ${r.target} ${r.attempts.map((a) => `${a.target}#${a.attempt}:${a.outcome}:${a.kind ?? ''}:${a.delayBeforeMs}`).join(',')}`,
      (e: { kind: string }) => `error ${e.kind}`,
    );
    out.push(`${outcome} @${clock.now()}`);
  }
  return out;
}

describe('fluent routers', () => {
  const specs = {
    primary: { latency: 20, faults: [{ kind: 'server' as const, times: 4 }] },
    backup: { latency: 50, faults: [{ kind: 'overloaded' as const, times: 1 }] },
  };

  it('withFallbacks(...).withRetry(...) gives exactly the createRouter options', () => {
    const { target } = world(specs);
    const built = withFallbacks(target('primary'), [target('backup')], { budget: false }).withRetry({ attempts: 3 });
    expect(built.options).toEqual({
      budget: false,
      targets: [
        { ...target('primary'), priority: 0 },
        { ...target('backup'), priority: 1 },
      ],
      retry: { attempts: 3 },
    });
  });

  it('behaves like the equivalent createRouter', async () => {
    const fluentWorld = world(specs);
    const built = withFallbacks(fluentWorld.target('primary'), [fluentWorld.target('backup')], { clock: fluentWorld.clock, budget: false }).withRetry({
      attempts: 3,
      wait: 100,
    });
    const plainWorld = world(specs);
    const plain = createRouter({
      targets: [plainWorld.target('primary'), plainWorld.target('backup')],
      retry: { attempts: 3, wait: 100 },
      clock: plainWorld.clock,
      budget: false,
    });
    const expected = await trace(plain, plainWorld.clock, 3);
    expect(await trace(built, fluentWorld.clock, 3)).toEqual(expected);
    // The scripts make the chain work: retries on the primary, a fallback, a retry on the backup
    // (faults fail at once; the backup's success takes its 50 ms latency).
    expect(expected[0]).toBe('ok backup primary#1:failure:server:0,primary#2:failure:server:100,primary#3:failure:server:100,backup#1:failure:overloaded:0,backup#2:success::100 @350');
  });

  it('keeps the chain order over the priorities the targets carry', async () => {
    const { clock, target } = world({ a: {}, b: {} });
    const built = withFallbacks(target('a', { priority: 9 }), [target('b', { priority: 1 })], { clock });
    expect((await clock.run(built.chat(ask))).target).toBe('a');
  });

  it('withRetry on one model retries it', async () => {
    const { clock, target, providers } = world({ a: { faults: [{ kind: 'server', times: 2 }] } });
    const answer = await clock.run(withRetry(target('a'), { attempts: 3, wait: 10 }).with({ clock, budget: false }).chat(ask));
    expect(answer.target).toBe('a');
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'failure', 'success']);
    expect(providers.a!.control.calls).toBe(3);

    const once = world({ a: { faults: [{ kind: 'server', times: 2 }] } });
    await expect(once.clock.run(withRetry(once.target('a'), { attempts: 1 }).with({ clock: once.clock }).chat(ask))).rejects.toMatchObject({ kind: 'server' });
  });

  it('each step returns a new builder; the one it came from is unchanged', () => {
    const { target } = world({ a: {}, b: {}, c: {} });
    const base = withFallbacks(target('a'), [target('b')]);
    const more = base.withFallbacks([target('c')]).withRetry({ attempts: 4 }).withRetry({ wait: 5 });
    expect(base.options.targets.map((t) => t.id)).toEqual(['a', 'b']);
    expect(base.options.retry).toBeUndefined();
    expect(more.options.targets.map((t) => [t.id, t.priority])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    expect(more.options.retry).toEqual({ attempts: 4, wait: 5 });
    expect(more.router).toBe(more.router);
    expect(more.router).not.toBe(base.router);
  });

  it('streams and reports events like a router', async () => {
    const { clock, target } = world({ a: { faults: [{ kind: 'overloaded' }] }, b: { chunkInterval: 5 } });
    const built = withFallbacks(target('a'), [target('b')], { clock, retry: { attempts: 1 } });
    const events: RouterEvent[] = [];
    built.on('*', (e) => events.push(e));
    const moves: string[] = [];
    built.onFallback((from, to) => moves.push(`${from}->${to}`));
    const stream = built.stream(ask);
    const seen: StreamEvent[] = [];
    await clock.run(
      (async () => {
        for await (const e of stream) seen.push(e);
      })(),
    );
    expect(stream.target).toBe('b');
    expect(seen.map((e) => (e.type === 'text' ? e.text : '')).join('')).toBe('[b/m] hello');
    expect(moves).toEqual(['a->b']);
    expect(events.some((e) => e.type === 'success')).toBe(true);
    built.close();
  });

  it('rejects a non-array of backups', () => {
    const { target } = world({ a: {} });
    expect(() => withFallbacks(target('a'), target('a') as never)).toThrow(/backups/);
  });
});

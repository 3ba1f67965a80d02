import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { createMemoryStore } from '../policy/memory-store.js';
import { createVirtualClock, type VirtualClock } from '../policy/virtual-clock.js';
import { seededRandom } from '../providers/seeded-random.js';
import { simulated, type SimulatedOptions } from '../providers/simulated.js';
import { createRouter, type RouterOptions } from './router.js';
import {
  STRATEGY_NAMES,
  custom,
  isStrategyName,
  leastBusy,
  leastCost,
  leastLatency,
  priority,
  priorityStrategy,
  roundRobin,
  strategyByName,
  weighted,
  type Strategy,
  type StrategyInput,
} from './strategies.js';
import { createTargetRuntime, type TargetRuntime } from './target-runtime.js';
import { toTarget, type TargetOptions } from './target.js';

const ask: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };
const provider = simulated({ name: 'unit' });

interface Spec extends Partial<Omit<TargetOptions, 'provider' | 'model' | 'id'>> {
  latency?: number;
  ttft?: number;
  inFlight?: number;
}

/** Runtimes in configured order; priority defaults to the position, as in the router. */
function runtimes(specs: Record<string, Spec>): TargetRuntime[] {
  const clock = createVirtualClock();
  const store = createMemoryStore({ clock });
  return Object.entries(specs).map(([id, { latency, ttft, inFlight, ...options }], index) => {
    const runtime = createTargetRuntime(toTarget({ provider, model: 'm', id, ...options }, index), {
      clock,
      store,
      breaker: false,
      keyPrefix: 'test:',
    });
    runtime.latencyEwma = latency;
    runtime.ttftEwma = ttft;
    runtime.inFlight = inFlight ?? 0;
    return runtime;
  });
}

function input(overrides: Partial<StrategyInput> = {}): StrategyInput {
  return { request: ask, stream: false, random: seededRandom(1).next, ...overrides };
}

const ids = (list: readonly TargetRuntime[]) => list.map((r) => r.target.id);

/** The id of the first target over `n` calls, counted. */
function firstCounts(strategy: Strategy, candidates: readonly TargetRuntime[], n: number, make: () => StrategyInput = input): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = strategy(candidates, make())[0]!.target.id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

describe('priority', () => {
  it('is the existing priority strategy by default: lowest first, ties in configured order', () => {
    expect(priority()).toBe(priorityStrategy);
    const list = runtimes({ a: { priority: 2 }, b: { priority: 1 }, c: { priority: 2 }, d: { priority: 0 } });
    expect(ids(priority()(list, input()))).toEqual(['d', 'b', 'a', 'c']);
    expect(ids(priority({ ties: 'order' })(list, input()))).toEqual(['d', 'b', 'a', 'c']);
  });

  it('shuffles equal priorities, never across priority groups', () => {
    const list = runtimes({ a: { priority: 1 }, b: { priority: 1 }, c: { priority: 1 }, z: { priority: 0 }, y: { priority: 5 } });
    const random = seededRandom(7).next;
    const strategy = priority({ ties: 'shuffle' });
    const firstOfGroup: Record<string, number> = {};
    const shapes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const order = ids(strategy(list, input({ random })));
      shapes.add(`${order[0]} ${[...order.slice(1, 4)].sort().join('')} ${order[4]}`);
      firstOfGroup[order[1]!] = (firstOfGroup[order[1]!] ?? 0) + 1;
    }
    expect([...shapes]).toEqual(['z abc y']);
    for (const id of ['a', 'b', 'c']) expect(Math.abs(firstOfGroup[id]! / 3000 - 1 / 3)).toBeLessThan(0.03);
  });

  it('takes turns among equal priorities, in each priority group', () => {
    const list = runtimes({ a: { priority: 0 }, b: { priority: 0 }, c: { priority: 1 }, d: { priority: 1 } });
    const strategy = priority({ ties: 'round-robin' });
    const orders = Array.from({ length: 4 }, () => ids(strategy(list, input())).join(''));
    expect(orders).toEqual(['abcd', 'badc', 'abcd', 'badc']);
  });

  it('rejects an unknown ties mode', () => {
    expect(() => priority({ ties: 'random' as never })).toThrow(/ties must be/);
  });
});

describe('roundRobin', () => {
  it('rotates over the candidates in configured order', () => {
    const list = runtimes({ a: {}, b: {}, c: {} });
    const strategy = roundRobin();
    const orders = Array.from({ length: 4 }, () => ids(strategy(list, input())).join(''));
    expect(orders).toEqual(['abc', 'bca', 'cab', 'abc']);
  });

  it('ignores priority and keeps turns per instance', () => {
    const list = runtimes({ a: { priority: 9 }, b: { priority: 0 } });
    const one = roundRobin();
    const two = roundRobin();
    expect(ids(one(list, input()))).toEqual(['a', 'b']);
    expect(ids(one(list, input()))).toEqual(['b', 'a']);
    expect(ids(two(list, input()))).toEqual(['a', 'b']);
  });

  it('rotates evenly over a subset of the candidates', () => {
    const [a, b, c] = runtimes({ a: {}, b: {}, c: {} });
    const strategy = roundRobin();
    strategy([a!, b!, c!], input()); // a's turn
    const firsts = Array.from({ length: 6 }, () => strategy([a!, c!], input())[0]!.target.id);
    expect(firsts).toEqual(['c', 'a', 'c', 'a', 'c', 'a']);
  });

  it('gives a newly added target the next turn', () => {
    const [a, b, c] = runtimes({ a: {}, b: {}, c: {} });
    const strategy = roundRobin();
    strategy([a!, b!], input());
    strategy([a!, b!], input());
    expect(ids(strategy([a!, b!, c!], input()))).toEqual(['c', 'a', 'b']);
  });

  it('does not mutate the candidates', () => {
    const list = runtimes({ a: {}, b: {} });
    const frozen = Object.freeze([...list]);
    const strategy = roundRobin();
    strategy(frozen, input());
    expect(ids(strategy(frozen, input()))).toEqual(['b', 'a']);
    expect(ids(frozen)).toEqual(['a', 'b']);
  });
});

describe('weighted', () => {
  it('draws the first target in proportion to its weight', () => {
    const list = runtimes({ a: { weight: 1 }, b: { weight: 2 }, c: { weight: 7 } });
    const random = seededRandom(42).next;
    const counts = firstCounts(weighted(), list, 20_000, () => input({ random }));
    expect(Math.abs(counts.a! / 20_000 - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(counts.b! / 20_000 - 0.2)).toBeLessThan(0.015);
    expect(Math.abs(counts.c! / 20_000 - 0.7)).toBeLessThan(0.015);
  });

  it('orders without replacement: every call lists every target once, the second by the remaining weights', () => {
    const list = runtimes({ a: { weight: 1 }, b: { weight: 1 }, c: { weight: 2 } });
    const random = seededRandom(3).next;
    let aSecond = 0;
    const sets = new Set<string>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const order = ids(weighted()(list, input({ random })));
      sets.add([...order].sort().join(''));
      if (order[1] === 'a') aSecond++;
    }
    expect([...sets]).toEqual(['abc']);
    // P(b first)·1/3 + P(c first)·1/2 = 1/4·1/3 + 1/2·1/2 = 1/3
    expect(Math.abs(aSecond / n - 1 / 3)).toBeLessThan(0.015);
  });

  it('puts weight-0 targets last, by priority, and never first', () => {
    const list = runtimes({ off2: { weight: 0, priority: 2 }, on: { weight: 1 }, off1: { weight: 0, priority: 1 } });
    const random = seededRandom(5).next;
    for (let i = 0; i < 200; i++) expect(ids(weighted()(list, input({ random })))).toEqual(['on', 'off1', 'off2']);
  });

  it('draws only from input.random: the same seed gives the same orders', () => {
    const list = runtimes({ a: {}, b: {}, c: {}, d: {} });
    const run = (seed: number) => {
      const random = seededRandom(seed).next;
      return Array.from({ length: 20 }, () => ids(weighted()(list, input({ random }))).join('')).join(' ');
    };
    expect(run(11)).toBe(run(11));
    expect(run(11)).not.toBe(run(12));
  });
});

describe('leastLatency', () => {
  it('puts unmeasured targets first (by priority), then the fastest', () => {
    const list = runtimes({ slow: { latency: 900 }, fast: { latency: 100 }, newB: { priority: 7 }, newA: { priority: 5 }, mid: { latency: 300 } });
    expect(ids(leastLatency()(list, input()))).toEqual(['newA', 'newB', 'fast', 'mid', 'slow']);
  });

  it('breaks equal latencies by priority', () => {
    const list = runtimes({ a: { latency: 100, priority: 3 }, b: { latency: 100, priority: 1 } });
    expect(ids(leastLatency({ metric: 'latency' })(list, input()))).toEqual(['b', 'a']);
  });

  it('auto: time to first token for streams, latency otherwise', () => {
    const list = runtimes({ quickStart: { latency: 800, ttft: 50 }, quickEnd: { latency: 200, ttft: 150 } });
    const strategy = leastLatency({ metric: 'auto' });
    expect(ids(strategy(list, input({ stream: false })))).toEqual(['quickEnd', 'quickStart']);
    expect(ids(strategy(list, input({ stream: true })))).toEqual(['quickStart', 'quickEnd']);
    expect(ids(leastLatency({ metric: 'latency' })(list, input({ stream: true })))).toEqual(['quickEnd', 'quickStart']);
    expect(ids(leastLatency({ metric: 'ttft' })(list, input({ stream: false })))).toEqual(['quickStart', 'quickEnd']);
  });

  it('rejects an unknown metric', () => {
    expect(() => leastLatency({ metric: 'p99' as never })).toThrow(/metric must be/);
  });
});

describe('leastCost', () => {
  const prices = {
    cheapIn: { cost: { input: 1, output: 20 } },
    cheapOut: { cost: { input: 10, output: 2 } },
  };

  it('ranks by the estimated cost of this request: a long prompt favours cheap input', () => {
    const list = runtimes(prices);
    const long: ChatRequest = { messages: [{ role: 'user', content: 'x'.repeat(40_000) }], maxTokens: 100 };
    const chatty: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4000 };
    expect(ids(leastCost()(list, input({ request: long })))).toEqual(['cheapIn', 'cheapOut']);
    expect(ids(leastCost()(list, input({ request: chatty })))).toEqual(['cheapOut', 'cheapIn']);
  });

  it('uses defaultOutputTokens when the request sets no maxTokens', () => {
    const list = runtimes(prices);
    // 1000 input tokens: cheapIn = 1000·1 + out·20, cheapOut = 1000·10 + out·2: equal at out = 500.
    const request: ChatRequest = { messages: [{ role: 'user', content: 'x'.repeat(4000) }] };
    expect(ids(leastCost({ defaultOutputTokens: 100 })(list, input({ request })))).toEqual(['cheapIn', 'cheapOut']);
    expect(ids(leastCost({ defaultOutputTokens: 2000 })(list, input({ request })))).toEqual(['cheapOut', 'cheapIn']);
  });

  it('puts targets without prices last, ties by priority', () => {
    const list = runtimes({ free2: { priority: 2 }, priced: { cost: { input: 5, output: 5 } }, free1: { priority: 1 }, same: { cost: { input: 5, output: 5 }, priority: -1 } });
    expect(ids(leastCost()(list, input()))).toEqual(['same', 'priced', 'free1', 'free2']);
  });

  it('rejects a bad defaultOutputTokens', () => {
    expect(() => leastCost({ defaultOutputTokens: -1 })).toThrow(/defaultOutputTokens/);
    expect(() => leastCost({ defaultOutputTokens: Number.NaN })).toThrow(/defaultOutputTokens/);
  });
});

describe('leastBusy', () => {
  it('fewest calls in flight first, ties by priority', () => {
    const list = runtimes({ busy: { inFlight: 3 }, idleLow: { priority: 4 }, idleHigh: { priority: 2 }, one: { inFlight: 1 } });
    expect(ids(leastBusy()(list, input()))).toEqual(['idleHigh', 'idleLow', 'one', 'busy']);
  });
});

describe('custom, names', () => {
  it('custom returns the selector itself and rejects a non-function', () => {
    const reverse: Strategy = (candidates) => [...candidates].reverse();
    expect(custom(reverse)).toBe(reverse);
    expect(() => custom(42 as never)).toThrow(TypeError);
  });

  it('strategyByName builds every named strategy, each a fresh instance', () => {
    const list = runtimes({ a: { latency: 50, cost: { input: 9, output: 9 } }, b: { latency: 10, cost: { input: 1, output: 1 } } });
    for (const name of STRATEGY_NAMES) expect(typeof strategyByName(name)).toBe('function');
    expect(ids(strategyByName('least-latency')(list, input()))).toEqual(['b', 'a']);
    expect(ids(strategyByName('least-cost')(list, input()))).toEqual(['b', 'a']);
    expect(ids(strategyByName('priority')(list, input()))).toEqual(['a', 'b']);
    const one = strategyByName('round-robin');
    one(list, input());
    expect(ids(one(list, input()))).toEqual(['b', 'a']);
    expect(ids(strategyByName('round-robin')(list, input()))).toEqual(['a', 'b']);
  });

  it('strategyByName passes the options on', () => {
    const list = runtimes({ a: { latency: 10, ttft: 90 }, b: { latency: 90, ttft: 10 } });
    expect(ids(strategyByName('least-latency', { metric: 'ttft' })(list, input()))).toEqual(['b', 'a']);
    const tied = runtimes({ a: { priority: 0 }, b: { priority: 0 } });
    const rr = strategyByName('priority', { ties: 'round-robin' });
    expect([rr(tied, input())[0]!.target.id, rr(tied, input())[0]!.target.id]).toEqual(['a', 'b']);
  });

  it('strategyByName names the valid choices for an unknown name', () => {
    expect(() => strategyByName('fastest' as never)).toThrow(/expected one of 'priority', 'round-robin'.*got "fastest"/);
    expect(isStrategyName('least-busy')).toBe(true);
    expect(isStrategyName('fastest')).toBe(false);
    expect(isStrategyName(3)).toBe(false);
  });
});

// --- through the router, on the virtual clock ------------------------------------------------

interface RouterSpec extends Omit<SimulatedOptions, 'clock' | 'name'> {
  target?: Partial<Omit<TargetOptions, 'provider' | 'model' | 'id'>>;
}

function setup(specs: Record<string, RouterSpec>, options: Partial<RouterOptions> = {}) {
  const clock = createVirtualClock();
  const providers = Object.fromEntries(Object.entries(specs).map(([name, { target: _target, ...spec }]) => [name, simulated({ ...spec, name, clock })]));
  const router = createRouter({
    targets: Object.entries(specs).map(([name, spec]) => ({ provider: providers[name]!, model: 'm', id: name, ...spec.target })),
    clock,
    retry: { attempts: 1 },
    ...options,
  });
  return { clock: clock as VirtualClock, providers, router };
}

async function served(clock: VirtualClock, call: () => Promise<{ target: string }>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await clock.run(call())).target);
  return out;
}

describe('strategies in the router', () => {
  it('least-latency measures every target once, then sends traffic to the fastest', async () => {
    const { clock, router } = setup({ a: { latency: 300 }, b: { latency: 100 }, c: { latency: 200 } }, { strategy: leastLatency() });
    const targets = await served(clock, () => router.chat(ask), 13);
    expect(targets.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(targets.slice(3)).toEqual(Array(10).fill('b'));
    expect(router.runtime('b')!.latencyEwma).toBe(100);
  });

  it('least-latency moves traffic away from a target that became slow', async () => {
    const { clock, router } = setup(
      { a: { latency: 150 }, b: { latency: 100, faults: [{ kind: 'slow', slowBy: '1s', between: ['1m', '1h'] }] } },
      { strategy: leastLatency() },
    );
    await served(clock, () => router.chat(ask), 2); // measures a, then b
    expect(await served(clock, () => router.chat(ask), 3)).toEqual(['b', 'b', 'b']);
    await clock.advance(60_000);
    const after = await served(clock, () => router.chat(ask), 5);
    expect(after[0]).toBe('b'); // the first slow answer raises b's mean above a's
    expect(after.slice(1)).toEqual(['a', 'a', 'a', 'a']);
  });

  it('least-latency with auto ranks streams by time to first token', async () => {
    const { clock, router } = setup(
      { quickStart: { latency: 900, firstToken: 40 }, quickEnd: { latency: 100, firstToken: 300 } },
      { strategy: leastLatency({ metric: 'auto' }) },
    );
    await served(clock, () => router.chat(ask), 2);
    const stream = async () => {
      const s = router.stream(ask);
      for await (const _event of s);
      return { target: s.target! };
    };
    await served(clock, stream, 2);
    expect(await served(clock, () => router.chat(ask), 3)).toEqual(['quickEnd', 'quickEnd', 'quickEnd']);
    expect(await served(clock, stream, 3)).toEqual(['quickStart', 'quickStart', 'quickStart']);
  });

  it('round-robin spreads calls evenly', async () => {
    const { clock, router } = setup({ a: {}, b: {}, c: {} }, { strategy: roundRobin() });
    const targets = await served(clock, () => router.chat(ask), 30);
    expect(targets.slice(0, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) expect(targets.filter((t) => t === id)).toHaveLength(10);
  });

  it('weighted matches the weights over many seeded calls', async () => {
    const { clock, router } = setup(
      { a: { target: { weight: 1 } }, b: { target: { weight: 3 } }, off: { target: { weight: 0 } } },
      { strategy: weighted(), random: seededRandom(2024).next },
    );
    const targets = await served(clock, () => router.chat(ask), 1200);
    const share = targets.filter((t) => t === 'b').length / 1200;
    expect(Math.abs(share - 0.75)).toBeLessThan(0.04);
    expect(targets).not.toContain('off');
  });

  it('weighted still falls back after its first pick', async () => {
    const { clock, router } = setup(
      { a: { target: { weight: 1 }, faults: [{ kind: 'server' }] }, b: { target: { weight: 1 }, faults: [{ kind: 'server' }] }, c: { target: { weight: 1 } } },
      { strategy: weighted(), random: seededRandom(9).next },
    );
    expect(await served(clock, () => router.chat(ask), 20)).toEqual(Array(20).fill('c'));
  });

  it('least-busy avoids a target with a call in flight', async () => {
    const { clock, router } = setup({ a: { latency: 1000 }, b: { latency: 1000 } }, { strategy: leastBusy() });
    const first = router.chat(ask);
    await clock.advance(10);
    expect(router.runtime('a')!.inFlight).toBe(1);
    const second = router.chat(ask);
    await clock.advance(10);
    const third = router.chat(ask); // both busy: priority decides
    const answers = await clock.run(Promise.all([first, second, third]));
    expect(answers.map((a) => a.target)).toEqual(['a', 'b', 'a']);
    expect(router.runtime('a')!.inFlight).toBe(0);
    expect((await clock.run(router.chat(ask))).target).toBe('a');
  });

  it('least-cost sends each request to the target cheapest for it', async () => {
    const { clock, router } = setup(
      {
        unpriced: {},
        cheapIn: { target: { cost: { input: 1, output: 20 } } },
        cheapOut: { target: { cost: { input: 10, output: 2 } } },
      },
      { strategy: leastCost() },
    );
    const long: ChatRequest = { messages: [{ role: 'user', content: 'y'.repeat(40_000) }], maxTokens: 50 };
    const chatty: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4000 };
    expect((await clock.run(router.chat(long))).target).toBe('cheapIn');
    expect((await clock.run(router.chat(chatty))).target).toBe('cheapOut');
  });
});

import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../llm/chat-request.js';
import { createMemoryStore } from '../policy/memory-store.js';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { simulated } from '../providers/simulated.js';
import { matchesCondition, when, type RoutingRule } from './conditional.js';
import { createRouter } from './router.js';
import { leastCost, roundRobin, type Strategy, type StrategyInput } from './strategies.js';
import { createTargetRuntime, type TargetRuntime } from './target-runtime.js';
import { toTarget, type TargetOptions } from './target.js';

const ask: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };
const big: ChatRequest = { messages: [{ role: 'user', content: 'z'.repeat(80_000) }] }; // ≈ 20 000 tokens
const withTools: ChatRequest = { ...ask, tools: [{ name: 'search', parameters: { type: 'object' } }] };
const withImage: ChatRequest = {
  messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', url: 'https://example.com/a.png' }] }],
};

const provider = simulated({ name: 'unit' });

function runtimes(specs: Record<string, Partial<Omit<TargetOptions, 'provider' | 'model' | 'id'>>>): TargetRuntime[] {
  const clock = createVirtualClock();
  const store = createMemoryStore({ clock });
  return Object.entries(specs).map(([id, options], index) =>
    createTargetRuntime(toTarget({ provider, model: 'm', id, ...options }, index), { clock, store, breaker: false, keyPrefix: 'test:' }),
  );
}

const input = (request: ChatRequest, stream = false): StrategyInput => ({ request, stream, random: () => 0.5 });
const ids = (list: readonly TargetRuntime[]) => list.map((r) => r.target.id);

const fleet = runtimes({
  small: { tags: ['cheap'] },
  vision: { tags: ['vision'] },
  huge: { tags: ['big-context', 'slow'] },
  tools: { tags: ['tools'] },
});

describe('matchesCondition', () => {
  it('prompt size bounds are inclusive, on the estimated input tokens', () => {
    const request: ChatRequest = { messages: [{ role: 'user', content: 'x'.repeat(4000) }] }; // 1000 tokens
    expect(matchesCondition({ minPromptTokens: 1000 }, request)).toBe(true);
    expect(matchesCondition({ minPromptTokens: 1001 }, request)).toBe(false);
    expect(matchesCondition({ maxPromptTokens: 1000 }, request)).toBe(true);
    expect(matchesCondition({ maxPromptTokens: 999 }, request)).toBe(false);
    expect(matchesCondition({ minPromptTokens: 500, maxPromptTokens: 2000 }, request)).toBe(true);
  });

  it('tools, images and streaming, both ways', () => {
    expect(matchesCondition({ hasTools: true }, withTools)).toBe(true);
    expect(matchesCondition({ hasTools: true }, ask)).toBe(false);
    expect(matchesCondition({ hasTools: false }, { ...ask, tools: [] })).toBe(true);
    expect(matchesCondition({ hasImages: true }, withImage)).toBe(true);
    expect(matchesCondition({ hasImages: false }, withImage)).toBe(false);
    expect(matchesCondition({ hasImages: false }, ask)).toBe(true);
    expect(matchesCondition({ stream: true }, ask, true)).toBe(true);
    expect(matchesCondition({ stream: true }, ask)).toBe(false);
  });

  it('metadata: every key must equal the value, or one of the values', () => {
    const request: ChatRequest = { ...ask, metadata: { tier: 'gold', team: 'search' } };
    expect(matchesCondition({ metadata: { tier: 'gold' } }, request)).toBe(true);
    expect(matchesCondition({ metadata: { tier: 'gold', team: 'search' } }, request)).toBe(true);
    expect(matchesCondition({ metadata: { tier: 'gold', team: 'ads' } }, request)).toBe(false);
    expect(matchesCondition({ metadata: { tier: ['silver', 'gold'] } }, request)).toBe(true);
    expect(matchesCondition({ metadata: { tier: 'gold' } }, ask)).toBe(false);
  });

  it('all given conditions must hold; {} matches everything', () => {
    expect(matchesCondition({}, ask)).toBe(true);
    expect(matchesCondition({ hasTools: true, minPromptTokens: 1 }, withTools)).toBe(true);
    expect(matchesCondition({ hasTools: true, minPromptTokens: 10_000 }, withTools)).toBe(false);
  });
});

describe('when', () => {
  const rules: RoutingRule[] = [
    { if: { minPromptTokens: 8000 }, use: { tags: ['big-context'] }, only: true },
    { if: { hasImages: true }, use: { tags: ['vision'] } },
    { if: { hasTools: true }, use: { ids: ['tools'], tags: ['cheap'] } },
  ];
  const strategy = when(rules);

  it('without a matching rule, the fallback strategy orders every candidate', () => {
    expect(ids(strategy(fleet, input(ask)))).toEqual(['small', 'vision', 'huge', 'tools']);
    const reversed: Strategy = (c) => [...c].reverse();
    expect(ids(when(rules, reversed)(fleet, input(ask)))).toEqual(['tools', 'huge', 'vision', 'small']);
  });

  it('only: keeps just the selected targets', () => {
    expect(ids(strategy(fleet, input(big)))).toEqual(['huge']);
  });

  it('without only: the selected targets go first, the rest follow', () => {
    expect(ids(strategy(fleet, input(withImage)))).toEqual(['vision', 'small', 'huge', 'tools']);
  });

  it('selects by ids or by any tag, keeping the fallback order within each part', () => {
    expect(ids(strategy(fleet, input(withTools)))).toEqual(['small', 'tools', 'vision', 'huge']);
  });

  it('the first matching rule wins', () => {
    const bigWithTools: ChatRequest = { ...big, tools: withTools.tools };
    expect(ids(strategy(fleet, input(bigWithTools)))).toEqual(['huge']);
  });

  it('a rule selecting none of the candidates leaves the order to the fallback, or none with only', () => {
    const withoutHuge = fleet.filter((r) => r.target.id !== 'huge');
    expect(ids(strategy(withoutHuge, input(big)))).toEqual([]);
    const soft = when([{ if: { minPromptTokens: 8000 }, use: { tags: ['big-context'] } }]);
    expect(ids(soft(withoutHuge, input(big)))).toEqual(['small', 'vision', 'tools']);
  });

  it('a predicate is the escape hatch, and sees the stream flag', () => {
    const seen: boolean[] = [];
    const byPredicate = when([
      {
        if: (request, { stream }) => {
          seen.push(stream);
          return request.messages.length > 1;
        },
        use: { ids: ['tools'] },
      },
    ]);
    expect(ids(byPredicate(fleet, input(ask, true)))[0]).toBe('small');
    const twoTurns: ChatRequest = { messages: [...ask.messages, { role: 'assistant', content: 'hi' }] };
    expect(ids(byPredicate(fleet, input(twoTurns)))[0]).toBe('tools');
    expect(seen).toEqual([true, false]);
  });

  it("a rule's own strategy orders its targets", () => {
    const pool = runtimes({
      a: { tags: ['gpu'], cost: { input: 9, output: 9 } },
      b: { tags: ['gpu'], cost: { input: 1, output: 1 } },
      c: {},
    });
    const cheapest = when([{ if: {}, use: { tags: ['gpu'] }, strategy: leastCost() }]);
    expect(ids(cheapest(pool, input(ask)))).toEqual(['b', 'a', 'c']);
  });

  it('round-robin as the fallback still rotates evenly within the selected targets', () => {
    const pool = runtimes({ x: {}, g1: { tags: ['gpu'] }, y: {}, g2: { tags: ['gpu'] } });
    const rotating = when([{ if: { hasTools: true }, use: { tags: ['gpu'] } }], roundRobin());
    const firsts = Array.from({ length: 6 }, () => rotating(pool, input(withTools))[0]!.target.id);
    expect(firsts).toEqual(['g1', 'g2', 'g1', 'g2', 'g1', 'g2']);
  });

  it('does not mutate the candidates', () => {
    const frozen = Object.freeze([...fleet]);
    strategy(frozen, input(withImage));
    strategy(frozen, input(big));
    expect(ids(frozen)).toEqual(['small', 'vision', 'huge', 'tools']);
  });

  it('checks the rules once, naming the bad field', () => {
    const bad = (rule: unknown) => () => when([rule as RoutingRule]);
    expect(() => when({} as never)).toThrow(/rules must be an array/);
    expect(bad(null)).toThrow(/rules\[0\]: expected an object/);
    expect(bad({ use: { tags: ['x'] } })).toThrow(/rules\[0\]\.if: expected an object of conditions or a function, got undefined/);
    expect(bad({ if: { minTokens: 5 }, use: { tags: ['x'] } })).toThrow(/rules\[0\]\.if\.minTokens: unknown field/);
    expect(bad({ if: { minPromptTokens: -1 }, use: { tags: ['x'] } })).toThrow(/rules\[0\]\.if\.minPromptTokens: expected a number >= 0, got -1/);
    expect(bad({ if: { minPromptTokens: 10, maxPromptTokens: 5 }, use: { tags: ['x'] } })).toThrow(/minPromptTokens \(10\) is above maxPromptTokens \(5\)/);
    expect(bad({ if: { hasTools: 'yes' }, use: { tags: ['x'] } })).toThrow(/if\.hasTools: expected a boolean, got "yes"/);
    expect(bad({ if: { metadata: { tier: 3 } }, use: { tags: ['x'] } })).toThrow(/if\.metadata\.tier: expected a string or a list of strings/);
    expect(bad({ if: {}, use: {} })).toThrow(/rules\[0\]\.use: expected a non-empty `tags` or `ids` list/);
    expect(bad({ if: {}, use: { tags: 'big' } })).toThrow(/use\.tags: expected a list of strings, got "big"/);
    expect(bad({ if: {}, use: { tag: ['big'] } })).toThrow(/use\.tag: unknown field/);
    expect(bad({ if: {}, use: { ids: ['a'] }, only: 'true' })).toThrow(/rules\[0\]\.only: expected a boolean/);
    expect(bad({ if: {}, use: { ids: ['a'] }, unless: {} })).toThrow(/rules\[0\]\.unless: unknown field/);
    expect(bad({ if: {}, use: { ids: ['a'] }, strategy: 'least-cost' })).toThrow(/rules\[0\]\.strategy: expected a strategy function/);
  });

  it('accepts rules parsed from JSON (as the gateway config carries them)', () => {
    const parsed = JSON.parse('[{"if":{"minPromptTokens":8000,"metadata":{"tier":["gold"]}},"use":{"tags":["big-context"]},"only":true}]') as RoutingRule[];
    const fromConfig = when(parsed);
    expect(ids(fromConfig(fleet, input({ ...big, metadata: { tier: 'gold' } })))).toEqual(['huge']);
    expect(ids(fromConfig(fleet, input(big)))).toEqual(['small', 'vision', 'huge', 'tools']);
  });
});

describe('conditional routing in the router', () => {
  it('sends big prompts to the big-context targets and the rest by priority', async () => {
    const clock = createVirtualClock();
    const small = simulated({ name: 'small', clock, contextWindow: 8000 });
    const large = simulated({ name: 'large', clock, contextWindow: 200_000 });
    const router = createRouter({
      targets: [
        { provider: small, model: 'm', id: 'small', contextWindow: 8000 },
        { provider: large, model: 'm', id: 'large', contextWindow: 200_000, tags: ['big-context'] },
      ],
      clock,
      strategy: when([{ if: { minPromptTokens: 6000 }, use: { tags: ['big-context'] } }]),
    });
    expect((await clock.run(router.chat(ask))).target).toBe('small');
    const answer = await clock.run(router.chat(big));
    expect(answer.target).toBe('large');
    expect(answer.attempts.map((a) => a.target)).toEqual(['large']); // no wasted call on the small window
    expect(small.control.calls).toBe(1);
    expect(large.control.calls).toBe(1);
  });

  it('without only, the other targets are still fallbacks', async () => {
    const clock = createVirtualClock();
    const fast = simulated({ name: 'fast', clock });
    const gpu = simulated({ name: 'gpu', clock, faults: [{ kind: 'overloaded' }] });
    const router = createRouter({
      targets: [
        { provider: fast, model: 'm', id: 'fast' },
        { provider: gpu, model: 'm', id: 'gpu', tags: ['gpu'] },
      ],
      clock,
      retry: { attempts: 1 },
      strategy: when([{ if: { metadata: { team: 'vision' } }, use: { tags: ['gpu'] } }]),
    });
    const answer = await clock.run(router.chat({ ...ask, metadata: { team: 'vision' } }));
    expect(answer.target).toBe('fast');
    expect(answer.attempts.map((a) => [a.target, a.outcome])).toEqual([
      ['gpu', 'failure'],
      ['fast', 'success'],
    ]);
  });
});

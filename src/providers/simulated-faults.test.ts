import { describe, expect, it } from 'vitest';
import { compileFaults, decideFault, type FaultRule } from './simulated-faults.js';

/** Kinds decided for `n` calls at time 0 for `model`, with every probability draw giving `draw`. */
function decide(rules: FaultRule[], n: number, { model = 'm', draw = 0.5, now = 0 } = {}) {
  const compiled = compileFaults(rules, 0);
  return Array.from({ length: n }, () => decideFault(compiled, now, model, () => draw)?.kind ?? 'ok');
}

describe('decideFault', () => {
  it('lets the first rule that strikes decide', () => {
    expect(decide([{ kind: 'auth' }, { kind: 'server' }], 2)).toEqual(['auth', 'auth']);
    expect(decide([{ kind: 'auth', times: 1 }, { kind: 'server' }], 3)).toEqual(['auth', 'server', 'server']);
  });

  it('strikes on probability when the draw is below it', () => {
    expect(decide([{ kind: 'server', probability: 0.4 }], 1, { draw: 0.39 })).toEqual(['server']);
    expect(decide([{ kind: 'server', probability: 0.4 }], 1, { draw: 0.4 })).toEqual(['ok']);
    expect(decide([{ kind: 'server', probability: 0 }], 1, { draw: 0 })).toEqual(['ok']);
  });

  it('counts every per rule, over all calls in its scope, whoever decides them', () => {
    expect(decide([{ kind: 'auth', times: 2 }, { kind: 'server', every: 2 }], 6)).toEqual(['auth', 'auth', 'ok', 'server', 'ok', 'server']);
  });

  it('counts times over the calls the rule decided, not those it only saw', () => {
    expect(decide([{ kind: 'auth', every: 2 }, { kind: 'server', times: 2 }], 5)).toEqual(['server', 'auth', 'server', 'auth', 'ok']);
  });

  it('keeps between half-open [from, to) and models exact', () => {
    const compiled = compileFaults([{ kind: 'server', between: ['1s', '2s'], models: ['a'] }], 500);
    const at = (now: number, model = 'a') => decideFault(compiled, now, model, () => 0)?.kind ?? 'ok';
    expect([at(1499), at(1500), at(2499), at(2500), at(2000, 'b')]).toEqual(['ok', 'server', 'server', 'ok', 'ok']);
  });

  it('does not count calls out of scope for every', () => {
    expect(decide([{ kind: 'server', every: 2, models: ['x'] }], 3, { model: 'y' })).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('compileFaults', () => {
  it('gives rate_limit a 1 s retryAfter by default, and reads durations', () => {
    const [rl, other] = compileFaults(
      [{ kind: 'rate_limit' }, { kind: 'stall', retryAfter: '20s', stallFor: '1m', slowBy: 5, delay: '250ms' }],
      0,
    );
    expect(rl!.retryAfterMs).toBe(1000);
    expect([other!.retryAfterMs, other!.stallForMs, other!.slowByMs, other!.delay?.(undefined as never)]).toEqual([20_000, 60_000, 5, 250]);
  });

  it('names the rule and field of each problem', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ kind: 'nope' }, /faults\[0\]\.kind: expected an error kind or one of stall, cut, slow, filtered/],
      [{ kind: 'server', probability: -0.1 }, /faults\[0\]\.probability/],
      [{ kind: 'server', between: ['1h'] }, /faults\[0\]\.between: expected \[from, to\]/],
      [{ kind: 'server', between: ['1h', 'later'] }, /faults\[0\]\.between\[1\]: invalid duration/],
      [{ kind: 'server', times: 1.5 }, /faults\[0\]\.times/],
      [{ kind: 'server', afterChunks: -1 }, /faults\[0\]\.afterChunks/],
      [{ kind: 'server', models: 'gpt' }, /faults\[0\]\.models/],
      [{ kind: 'slow', factor: -2 }, /faults\[0\]\.factor/],
      [{ kind: 'server', status: 'x' }, /faults\[0\]\.status/],
      [{ kind: 'server', delay: { dist: 'uniform', min: 2, max: 1 } }, /faults\[0\]\.delay: max/],
      [null, /faults\[0\]: expected a fault rule object/],
    ];
    for (const [rule, message] of bad) expect(() => compileFaults([rule as FaultRule], 0)).toThrow(message);
    expect(() => compileFaults('x' as unknown as FaultRule[], 0)).toThrow(/faults: expected a list/);
  });
});

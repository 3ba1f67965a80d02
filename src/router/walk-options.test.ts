import { describe, expect, it } from 'vitest';
import { simulated } from '../providers/simulated.js';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { createRouter } from './router.js';
import { createTaskRouter } from './task-router.js';
import { resolveWalkOptions, type WalkOptionsInput } from './walk-options.js';

describe('resolveWalkOptions', () => {
  const clock = createVirtualClock();

  it.each<[string, WalkOptionsInput, RegExp]>([
    ['timeouts.total: 0', { timeouts: { total: 0 } }, /^timeouts\.total: expected a duration > 0, got 0$/],
    ['timeouts.attempt: "0s"', { timeouts: { attempt: '0s' } }, /^timeouts\.attempt: expected a duration > 0, got "0s"$/],
    ['timeouts.firstToken: 0', { timeouts: { firstToken: 0 } }, /^timeouts\.firstToken: expected a duration > 0/],
    ['timeouts.idle: 0', { timeouts: { idle: 0 } }, /^timeouts\.idle: expected a duration > 0/],
    ['timeouts.idle: -1', { timeouts: { idle: -1 } }, /^timeouts\.idle: invalid duration: -1 \(negative\)$/],
    ['hedge.maxAttempts: 1', { hedge: { delay: 10, maxAttempts: 1 } }, /^hedge\.maxAttempts: expected an integer >= 2, got 1$/],
    ['hedge.maxAttempts: -3', { hedge: { delay: 10, maxAttempts: -3 } }, /^hedge\.maxAttempts: expected an integer >= 2, got -3$/],
    ['hedge.maxAttempts: 2.5', { hedge: { delay: 10, maxAttempts: 2.5 } }, /^hedge\.maxAttempts: expected an integer >= 2, got 2.5$/],
    ['resume.attempts: -1', { resume: { attempts: -1 } }, /^resume\.attempts: expected an integer >= 0, got -1$/],
    ['resume.attempts: 1.5', { resume: { attempts: 1.5 } }, /^resume\.attempts: expected an integer >= 0, got 1.5$/],
    ['retry.attempts: 0', { retry: { attempts: 0 } }, /^retry\.attempts: expected an integer >= 1, got 0$/],
    ['retry.attempts: NaN', { retry: { attempts: NaN } }, /^retry\.attempts: expected an integer >= 1, got NaN$/],
    ['retry.wait: -5', { retry: { wait: -5 } }, /^retry\.wait: invalid duration: -5 \(negative\)$/],
    ['cooldowns.quota: -1', { cooldowns: { quota: -1 } }, /^cooldowns\.quota: invalid duration/],
  ])('rejects %s with a TypeError naming the option', (_label, options, message) => {
    expect(() => resolveWalkOptions(options, clock)).toThrow(TypeError);
    expect(() => resolveWalkOptions(options, clock)).toThrow(message);
  });

  it('accepts the smallest valid values', () => {
    const resolved = resolveWalkOptions(
      { timeouts: { total: 1, attempt: '1ms', firstToken: 1, idle: 1 }, hedge: { delay: 0, maxAttempts: 2 }, resume: { attempts: 0 }, retry: { attempts: 1, wait: 0 } },
      clock,
    );
    expect(resolved.totalMs).toBe(1);
    expect(resolved.hedge).toEqual({ delayMs: 0, maxLanes: 2 });
    expect(resolveWalkOptions({ resume: true, retry: { wait: () => 5 } }, clock).hedge).toBeUndefined();
  });

  it('is what createRouter and createTaskRouter check their options with', () => {
    const targets = [{ provider: simulated(), model: 'm' }];
    expect(() => createRouter({ targets, timeouts: { idle: 0 } })).toThrow(/^timeouts\.idle: /);
    expect(() => createRouter({ targets, resume: { attempts: -1 } })).toThrow(/^resume\.attempts: /);
    expect(() => createRouter({ targets, retry: { attempts: 0 } })).toThrow(/^retry\.attempts: /);
    expect(() => createRouter({ targets: [{ ...targets[0]!, retry: { attempts: 0 } }] })).toThrow(/^targets\[0\]\.retry\.attempts: /);
    const task = { id: 't', run: (text: string) => Promise.resolve(text) };
    expect(() => createTaskRouter<string, string>({ targets: [task], retry: { attempts: 0 } })).toThrow(/^retry\.attempts: /);
    expect(() => createTaskRouter<string, string>({ targets: [task], hedge: { delay: 1, maxAttempts: 0 } })).toThrow(/^hedge\.maxAttempts: /);
  });
});

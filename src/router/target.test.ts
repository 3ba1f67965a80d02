import { describe, expect, it } from 'vitest';
import { simulated } from '../providers/simulated.js';
import { toTarget, type TargetOptions } from './target.js';

describe('toTarget', () => {
  const base: TargetOptions = { provider: simulated({ name: 'p' }), model: 'm' };

  it('normalizes a valid target', () => {
    const target = toTarget({ ...base, priority: -2, contextWindow: 8000, cost: { input: 0, output: 1.5 }, retry: { attempts: 1 } }, 3);
    expect(target).toMatchObject({ id: 'p/m', priority: -2, weight: 1, contextWindow: 8000, cost: { input: 0, output: 1.5 }, retry: { attempts: 1 } });
    expect(toTarget(base, 3).priority).toBe(3);
  });

  it.each<[string, Partial<TargetOptions>, RegExp]>([
    ['priority: NaN', { priority: NaN }, /^targets\[2\]\.priority: expected a finite number, got NaN$/],
    ['priority: Infinity', { priority: Infinity }, /^targets\[2\]\.priority: expected a finite number, got Infinity$/],
    ['contextWindow: 0', { contextWindow: 0 }, /^targets\[2\]\.contextWindow: expected a number of tokens > 0, got 0$/],
    ['contextWindow: -5', { contextWindow: -5 }, /^targets\[2\]\.contextWindow: expected a number of tokens > 0, got -5$/],
    ['cost.input: -1', { cost: { input: -1, output: 1 } }, /^targets\[2\]\.cost\.input: expected US dollars per million tokens >= 0, got -1$/],
    ['cost.output: NaN', { cost: { input: 1, output: NaN } }, /^targets\[2\]\.cost\.output: expected US dollars per million tokens >= 0, got NaN$/],
    ['retry.attempts: 0', { retry: { attempts: 0 } }, /^targets\[2\]\.retry\.attempts: expected an integer >= 1, got 0$/],
  ])('rejects %s with a TypeError naming the field', (_label, fields, message) => {
    expect(() => toTarget({ ...base, ...fields }, 2)).toThrow(TypeError);
    expect(() => toTarget({ ...base, ...fields }, 2)).toThrow(message);
  });
});

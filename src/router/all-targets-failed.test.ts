import { describe, expect, it } from 'vitest';
import { LlmError } from '../llm/llm-error.js';
import { AllTargetsFailedError, isAllTargetsFailedError } from './all-targets-failed.js';
import type { AttemptRecord } from './attempt-record.js';

describe('isAllTargetsFailedError', () => {
  const attempts: AttemptRecord[] = [];

  it('recognises its own class', () => {
    expect(isAllTargetsFailedError(new AllTargetsFailedError(attempts, { now: 0 }))).toBe(true);
  });

  it('recognises one from another copy of the package by brand, code and attempts', () => {
    const brand = { [Symbol.for('ballast.llm-error')]: true, kind: 'server' };
    const foreign = Object.assign(new Error('all targets failed'), brand, { code: 'all_targets_failed', attempts });
    expect(isAllTargetsFailedError(foreign)).toBe(true);
  });

  it('rejects other errors', () => {
    expect(isAllTargetsFailedError(new LlmError({ kind: 'server', message: 'x', code: 'all_targets_failed' }))).toBe(false);
    expect(isAllTargetsFailedError(new LlmError({ kind: 'server', message: 'x' }))).toBe(false);
    expect(isAllTargetsFailedError(Object.assign(new Error('x'), { code: 'all_targets_failed', attempts }))).toBe(false);
    const notList = { [Symbol.for('ballast.llm-error')]: true, kind: 'server', code: 'all_targets_failed', attempts: 'x' };
    expect(isAllTargetsFailedError(Object.assign(new Error('x'), notList))).toBe(false);
    expect(isAllTargetsFailedError(null)).toBe(false);
  });
});

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { linkSignal } from './abort.js';
import { NEVER_ABORTED } from './context.js';

describe('linkSignal', () => {
  it('follows its parent and detaches on dispose', () => {
    const parent = new AbortController();
    const linked = linkSignal(parent.signal);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    parent.abort('stop');
    expect(linked.signal.reason).toBe('stop');
    linked.dispose();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it('adds no listener to the shared never-aborting signal, and still aborts by itself', () => {
    const links = Array.from({ length: 20 }, () => linkSignal(NEVER_ABORTED));
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    links[0]!.abort('lost');
    expect(links[0]!.signal.reason).toBe('lost');
    for (const link of links) link.dispose();
  });
});

import { describe, expect, it } from 'vitest';
import { createMemoryStore } from './memory-store.js';
import type { JsonValue } from './state-store.js';
import { createVirtualClock } from './virtual-clock.js';

describe('createMemoryStore', () => {
  it('gets what was set, and undefined for unknown keys', () => {
    const store = createMemoryStore();
    expect(store.get('a')).toBeUndefined();
    store.set('a', { state: 'open', n: [1, 2] });
    expect(store.get('a')).toEqual({ state: 'open', n: [1, 2] });
    store.set('a', 2);
    expect(store.get('a')).toBe(2);
  });

  it('expires a value after its ttl, on the given clock', async () => {
    const clock = createVirtualClock();
    const store = createMemoryStore({ clock });
    store.set('a', 'x', 1000);
    store.set('b', 'y');
    await clock.advance(999);
    expect(store.get('a')).toBe('x');
    await clock.advance(1);
    expect(store.get('a')).toBeUndefined();
    await clock.advance(1_000_000);
    expect(store.get('b')).toBe('y');
  });

  it('restarts the ttl on a new set', async () => {
    const clock = createVirtualClock();
    const store = createMemoryStore({ clock });
    store.set('a', 1, 100);
    await clock.advance(60);
    store.set('a', 2, 100);
    await clock.advance(60);
    expect(store.get('a')).toBe(2);
    store.set('a', 3);
    await clock.advance(10_000);
    expect(store.get('a')).toBe(3);
  });

  it('pushes every write of a key to its subscribers, the writer included', () => {
    const store = createMemoryStore();
    const seenA: Array<JsonValue | undefined> = [];
    const seenB: Array<JsonValue | undefined> = [];
    store.subscribe('k', (v) => seenA.push(v));
    store.subscribe('k', (v) => seenB.push(v));
    const other: Array<JsonValue | undefined> = [];
    store.subscribe('other', (v) => other.push(v));
    store.set('k', 1);
    store.set('k', 1);
    expect(seenA).toEqual([1, 1]);
    expect(seenB).toEqual([1, 1]);
    expect(other).toEqual([]);
  });

  it('stops pushing after unsubscribe (twice is harmless)', () => {
    const store = createMemoryStore();
    const seen: Array<JsonValue | undefined> = [];
    const kept: Array<JsonValue | undefined> = [];
    const dispose = store.subscribe('k', (v) => seen.push(v));
    store.subscribe('k', (v) => kept.push(v));
    store.set('k', 1);
    dispose();
    dispose();
    store.set('k', 2);
    expect(seen).toEqual([1]);
    expect(kept).toEqual([1, 2]);
  });

  it('lets a listener unsubscribe while being notified', () => {
    const store = createMemoryStore();
    const seen: string[] = [];
    const first = store.subscribe('k', () => {
      seen.push('first');
      first();
    });
    store.subscribe('k', () => seen.push('second'));
    store.set('k', 1);
    store.set('k', 2);
    expect(seen).toEqual(['first', 'second', 'second']);
  });

  it('tells subscribers of a delete with undefined, and only when something was removed', () => {
    const store = createMemoryStore();
    const seen: Array<JsonValue | undefined> = [];
    store.subscribe('k', (v) => seen.push(v));
    store.delete('k');
    expect(seen).toEqual([]);
    store.set('k', 'v');
    store.delete('k');
    expect(store.get('k')).toBeUndefined();
    expect(seen).toEqual(['v', undefined]);
  });
});

describe('memory store subscribers', () => {
  it('a subscriber that throws keeps neither the write nor the other subscribers from going on', () => {
    const store = createMemoryStore();
    const heard: unknown[] = [];
    store.subscribe('k', () => {
      throw new Error('a bug in one subscriber');
    });
    store.subscribe('k', (v) => heard.push(v));
    expect(() => store.set('k', 1)).not.toThrow();
    expect(store.get('k')).toBe(1);
    expect(heard).toEqual([1]);
  });
});

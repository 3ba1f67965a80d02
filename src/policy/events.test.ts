import { describe, expect, it, vi } from 'vitest';
import { createEmitter } from './events.js';

describe('createEmitter', () => {
  it('calls listeners in order and stops after dispose', () => {
    const emitter = createEmitter<number>();
    const seen: string[] = [];
    const disposeA = emitter.on((n) => seen.push(`a${n}`));
    emitter.on((n) => seen.push(`b${n}`));
    emitter.emit(1);
    disposeA();
    disposeA();
    emitter.emit(2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
  });

  it('reports whether anyone listens', () => {
    const emitter = createEmitter<void>();
    expect(emitter.active).toBe(false);
    const dispose = emitter.on(() => {});
    expect(emitter.active).toBe(true);
    dispose();
    expect(emitter.active).toBe(false);
  });

  it('keeps going when a listener throws', () => {
    const emitter = createEmitter<number>();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const seen: number[] = [];
    emitter.on(() => {
      throw new Error('boom');
    });
    emitter.on((n) => seen.push(n));
    expect(() => emitter.emit(7)).not.toThrow();
    expect(seen).toEqual([7]);
    expect(error).toHaveBeenCalledOnce();
    error.mockRestore();
  });

  it('logs a rejection from an async listener instead of leaving it unhandled', async () => {
    const emitter = createEmitter<number>();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const seen: number[] = [];
      emitter.on(async () => {
        throw new Error('sink down');
      });
      emitter.on((n) => seen.push(n));
      expect(() => emitter.emit(3)).not.toThrow();
      expect(seen).toEqual([3]);
      // Unhandled rejections are reported once the microtasks drain: one turn of the event loop is enough.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
      expect(error).toHaveBeenCalledOnce();
      expect(error.mock.calls[0]![1]).toMatchObject({ message: 'sink down' });
    } finally {
      process.off('unhandledRejection', unhandled);
      error.mockRestore();
    }
  });

  it('does not call a listener added during an emit until the next one', () => {
    const emitter = createEmitter<number>();
    const seen: number[] = [];
    emitter.on(() => {
      emitter.on((n) => seen.push(n));
    });
    emitter.emit(1);
    expect(seen).toEqual([]);
    emitter.emit(2);
    expect(seen).toEqual([2]);
  });

  it('a dispose removes only its own subscription when one function is subscribed twice', () => {
    const emitter = createEmitter<number>();
    const seen: number[] = [];
    const listener = (n: number) => seen.push(n);
    const first = emitter.on(listener);
    emitter.on(listener);
    first();
    first();
    emitter.emit(1);
    expect(seen).toEqual([1]);
    expect(emitter.active).toBe(true);
  });
});

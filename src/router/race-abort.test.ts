import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { NEVER_ABORTED } from '../policy/context.js';
import { raceAbort } from './race-abort.js';

describe('raceAbort', () => {
  it('rejects with the reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const racing = raceAbort(new Promise<never>(() => {}), controller.signal);
    controller.abort('gone');
    await expect(racing).rejects.toBe('gone');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('adds no listener to the shared never-aborting signal', async () => {
    const racing = Array.from({ length: 20 }, (_, i) => raceAbort(Promise.resolve(i), NEVER_ABORTED));
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    expect(await Promise.all(racing)).toHaveLength(20);
  });
});

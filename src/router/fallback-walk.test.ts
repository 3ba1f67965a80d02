import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { NEVER_ABORTED } from '../policy/context.js';
import { createVirtualClock } from '../policy/virtual-clock.js';
import { functionProvider } from '../providers/function-provider.js';
import { createRouter } from './router.js';

describe('the fallback walk', () => {
  it('calls without a signal or deadline add no listener to the shared never-aborting signal, hedged or not', async () => {
    const clock = createVirtualClock();
    const slow = (name: string) => functionProvider({ name, chat: async (_req, { signal }) => (await clock.sleep(100, signal), name) });
    const targets = [
      { provider: slow('a'), model: 'm' },
      { provider: slow('b'), model: 'm' },
    ];
    for (const hedge of [undefined, { delay: 10 }]) {
      const router = createRouter({ targets, clock, hedge, budget: false });
      const calls = Array.from({ length: 12 }, () => router.chat({ messages: [{ role: 'user', content: 'hi' }] }));
      await clock.advance(50);
      expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
      await clock.advance(200);
      expect(await Promise.all(calls)).toHaveLength(12);
      router.close();
    }
  });
});

/**
 * The README's policy examples, run on the virtual clock. If one of these breaks, the README
 * is lying: fix both together.
 */
import { describe, expect, it } from 'vitest';
import {
  circuitBreaker,
  createVirtualClock,
  deadline,
  fallback,
  hedge,
  pipeline,
  retry,
  retryBudget,
  retryIfMessage,
  stopOn,
  timeout,
  waitChain,
  waitExponential,
  waitFixed,
  type PolicyContext,
} from '../src/index.js';

class AuthError extends Error {}

describe('README examples', () => {
  it('the first example: deadline, retry with server hints, breaker, per-attempt timeout', async () => {
    const clock = createVirtualClock();
    let calls = 0;
    // A flaky upstream: a 429 with a 2 s hint, then an answer.
    const callModel = async (prompt: string, { signal }: { signal: AbortSignal }) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('rate limited'), { retryAfterMs: 2000 });
      await clock.sleep(300, signal);
      return `echo: ${prompt}`;
    };

    const resilient = pipeline(
      deadline('60s', { clock }),
      retry({ attempts: 4, maxRetryAfter: '20s', clock }),
      circuitBreaker({ window: '30s', failureRate: 0.5, minCalls: 10, openFor: '60s', clock }),
      timeout('10s', { clock }),
    );
    const text = await clock.run(resilient.execute(({ signal }: PolicyContext) => callModel('hi', { signal })));
    expect(text).toBe('echo: hi');
    expect(calls).toBe(2);
    expect(clock.now()).toBe(2300);
  });

  it('retry algebra: chained waits, message conditions, stopOn', async () => {
    const clock = createVirtualClock();
    const policy = retry({
      attempts: 6,
      wait: waitChain([2, waitFixed('100ms')], waitExponential({ base: '1s', maxDelay: '30s' })),
      retryIf: retryIfMessage('rate limit', /overloaded/i),
      clock,
    });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delay));
    let n = 0;
    const result = await clock.run(
      policy.execute(async () => {
        if (++n < 5) throw new Error(n % 2 ? 'Rate limit reached' : 'Overloaded');
        return n;
      }),
    );
    expect(result).toBe(5);
    expect(delays).toEqual([100, 100, 1000, 2000]);

    const never = retry({ retryIf: stopOn(AuthError), clock });
    let tries = 0;
    await expect(
      never.execute(async () => {
        tries++;
        throw new AuthError('bad key');
      }),
    ).rejects.toBeInstanceOf(AuthError);
    expect(tries).toBe(1);
  });

  it('hedge with a budget, fallback to a value', async () => {
    const clock = createVirtualClock();
    const budget = retryBudget({ ratio: 0.2, minPerSecond: 10, clock });
    const fast = hedge({ delay: '2s', maxAttempts: 2, budget, clock });
    let starts = 0;
    const answer = await clock.run(
      fast.execute(async ({ signal }) => {
        const mine = ++starts;
        await clock.sleep(mine === 1 ? 10_000 : 500, signal);
        return `attempt ${mine}`;
      }),
    );
    expect(answer).toBe('attempt 2');
    expect(clock.now()).toBe(2500);

    const safe = fallback('Sorry, try again later.');
    await expect(safe.execute(async () => Promise.reject(new Error('down')))).resolves.toBe('Sorry, try again later.');
  });
});

describe('README examples: routing', () => {
  it('routes, batches, runs any async function, and builds fluently', async () => {
    const { createRouter, simulated, runBatch, createTaskRouter, withFallbacks } = await import('../src/index.js');
    const clock = createVirtualClock();
    const llm = createRouter({
      clock,
      targets: [
        { provider: simulated({ name: 'openai', clock, faults: [{ kind: 'overloaded' }] }), model: 'gpt-4o', contextWindow: 128_000 },
        { provider: simulated({ name: 'anthropic', clock }), model: 'claude-sonnet-4-5', contextWindow: 200_000 },
      ],
      retry: { attempts: 2, maxRetryAfter: '20s', wait: 100 },
      timeouts: { total: '60s', attempt: '30s', firstToken: '8s', idle: '15s' },
      hedge: { delay: '3s' },
      resume: true,
    });
    const moves: string[] = [];
    llm.onFallback((from, to, error) => moves.push(`${from} -> ${to}: ${error.kind}`));
    const answer = await clock.run(llm.chat({ messages: [{ role: 'user', content: 'Hello' }] }));
    expect(answer.target).toBe('anthropic/claude-sonnet-4-5');
    expect(moves).toEqual(['openai/gpt-4o -> anthropic/claude-sonnet-4-5: overloaded']);
    expect(llm.status().targets.find((t) => t.id === 'anthropic/claude-sonnet-4-5')?.status).toBe('healthy');

    const { results, summary } = await clock.run(runBatch(llm, [{ messages: [{ role: 'user', content: 'a' }] }, { messages: [{ role: 'user', content: 'b' }] }], { concurrency: 8 }));
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(summary.succeeded).toBe(2);

    const speak = createTaskRouter<string, string>({
      clock,
      targets: [
        { id: 'eleven', run: async () => Promise.reject(Object.assign(new Error('busy'), { status: 503 })) },
        { id: 'openai-tts', run: async (text) => `audio(${text})` },
      ],
      retry: { attempts: 1 },
      timeouts: { attempt: '20s' },
    });
    const spoken = await clock.run(speak.run('Hello'));
    expect(spoken).toMatchObject({ value: 'audio(Hello)', target: 'openai-tts' });

    const fluent = withFallbacks({ provider: simulated({ name: 'a', clock, faults: [{ kind: 'server' }] }), model: 'm' }, [
      { provider: simulated({ name: 'b', clock }), model: 'm' },
    ]).withRetry({ attempts: 1 });
    expect((await clock.run(fluent.chat({ messages: [{ role: 'user', content: 'x' }] }))).target).toBe('b/m');
    llm.close();
  });

  it('the mock server example', async () => {
    const { startOpenAiMock } = await import('../src/mock/index.js');
    const mock = await startOpenAiMock([{ type: 'error', kind: 'rate_limit', retryAfter: 2 }, { type: 'text', text: 'hi' }]);
    const post = () =>
      fetch(`${mock.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      });
    expect((await post()).status).toBe(429);
    expect(((await (await post()).json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('hi');
    expect(mock.requests).toHaveLength(2);
    await mock.close();
  });
});

describe('README examples: the gateway config', () => {
  it('the config example is valid once its environment variables are set', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseConfigText } = await import('../src/gateway/config-load.js');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const env = { BALLAST_TOKEN: 't', OPENAI_API_KEY: 'k', GROQ_API_KEY: 'k', AZURE_KEY: 'k', ANTHROPIC_API_KEY: 'k', GEMINI_API_KEY: 'k', REDIS_URL: 'redis://:pw@redis:6379' };
    const result = parseConfigText(yaml!, 'yaml', { env });
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.config.store).toEqual({ type: 'redis', url: 'redis://:pw@redis:6379', prefix: 'ballast:' });
  });
});

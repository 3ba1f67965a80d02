import type { GatewayConfigInput } from './config-schema.js';

/** What every demo answer says, so nobody mistakes it for a model's. */
export const DEMO_REPLY =
  '[simulated] This answer comes from the simulated provider {provider} (model {model}) in Ballast demo mode: no real model was called. You said: "{input}". Send a few requests a second and watch the log: retries, fallbacks, cooldowns and a breaker opening.';

/**
 * The config of demo mode: three simulated providers on the real clock behind one route, with
 * faults that show every mechanism within a minute of traffic — `primary` has an outage (503s)
 * that starts 20 s after launch and comes back every 90 s for 25 s (its breaker opens, traffic falls
 * back), random 429s with a Retry-After longer than the route waits (cooldown and fallback), slow
 * first tokens (first-token timeout, retry) and an occasional mid-stream cut (the stream resumes
 * on the next target); `backup` is rate-limited to 30 requests a minute; `local` is slow and steady.
 */
export const DEMO_CONFIG: GatewayConfigInput = {
  providers: {
    primary: {
      type: 'simulated',
      seed: 1,
      reply: DEMO_REPLY,
      firstToken: { dist: 'lognormal', median: '250ms', p99: '1200ms' },
      chunkInterval: { dist: 'uniform', min: '10ms', max: '40ms' },
      faults: [
        { kind: 'rate_limit', probability: 0.08, retryAfter: '3s' },
        { kind: 'slow', probability: 0.08, slowBy: '4s' },
        { kind: 'cut', when: 'mid_stream', afterChunks: 6, probability: 0.06 },
        { kind: 'server', probability: 0.05 },
      ],
      outages: [{ kind: 'overloaded', start: '20s', every: '90s', duration: '25s', status: 503 }],
    },
    backup: {
      type: 'simulated',
      seed: 2,
      reply: DEMO_REPLY,
      firstToken: { dist: 'lognormal', median: '450ms', p99: '2s' },
      chunkInterval: { dist: 'uniform', min: '15ms', max: '50ms' },
      faults: [{ kind: 'overloaded', probability: 0.05, status: 503 }],
      rateLimit: { requestsPerMinute: 30 },
    },
    local: {
      type: 'simulated',
      seed: 3,
      reply: DEMO_REPLY,
      firstToken: { dist: 'normal', mean: '900ms', sd: '150ms' },
      chunkInterval: '50ms',
    },
  },
  routes: {
    demo: {
      strategy: 'priority',
      targets: [
        { provider: 'primary', model: 'sim-large' },
        { provider: 'backup', model: 'sim-medium' },
        { provider: 'local', model: 'sim-small' },
      ],
      retry: { attempts: 2, maxRetryAfter: '1s' },
      breaker: { window: '30s', failureRate: 0.5, minCalls: 4, openFor: '15s' },
      timeouts: { total: '30s', attempt: '5s', firstToken: '2500ms', idle: '5s' },
      resume: true,
    },
    'demo-hedged': {
      targets: [
        { provider: 'primary', model: 'sim-large' },
        { provider: 'backup', model: 'sim-medium' },
        { provider: 'local', model: 'sim-small' },
      ],
      hedge: { delay: '600ms' },
      timeouts: { total: '30s', idle: '5s' },
    },
  },
};

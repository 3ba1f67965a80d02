/**
 * Per-call overhead of the router over an in-process provider that answers at once, in one run:
 * - `router.chat` (default options: breaker and retry budget on, plus a 1 s attempt timeout) against
 *   a bare `provider.chat` and against cockatiel 3.2.1's wrap(retry, circuitBreaker, timeout)
 *   around the same call, configured alike (one retry, a 50 %-over-30 s breaker open for 30 s, 1 s);
 * - `router.stream` against iterating the provider's stream directly (start, 10 × text, finish).
 *
 * `npm run bench:router` (add `-- --quick` for a short run). Runs on the built `dist/`, so that
 * tsx's keepNames wrappers do not distort the figures.
 */
import {
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  circuitBreaker as cockatielBreaker,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap,
} from 'cockatiel';
import type { ChatProvider, ChatRequest, ChatResponse, ProviderCall, StreamEvent } from '../src/index.js';
import type * as BallastModule from '../src/index.js';
import type { Transport } from '../src/providers/transport.js';
import { benchOptions, loadBuilt, printTable, runBench, type BenchResult } from './harness.js';
import { body as upstreamBody } from './gateway-upstream.js';

const { createRouter, openai } = await loadBuilt<typeof BallastModule>('../dist/index.js');

const answer: ChatResponse = {
  text: 'Hello!',
  toolCalls: [],
  finishReason: 'stop',
  usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
};

const TEXT_EVENTS = 10;

/** Answers at once: one fixed response, or a stream of start, 10 text deltas and finish. */
const provider: ChatProvider = {
  name: 'in-process',
  protocol: 'function',
  chat: async () => answer,
  async *stream() {
    yield { type: 'start' };
    for (let i = 0; i < TEXT_EVENTS; i++) yield { type: 'text', text: 'word ' };
    yield { type: 'finish', finishReason: 'stop' };
  },
};

const request: ChatRequest = { messages: [{ role: 'user', content: 'Hello' }] };
const call: ProviderCall = { model: 'm', signal: new AbortController().signal };

const cockatiel = wrap(
  cockatielRetry(handleAll, { maxAttempts: 1, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 30_000 }) }),
  cockatielTimeout(1000, TimeoutStrategy.Aggressive),
);

// Default router options (breaker on, budget on, 2 attempts per target) plus an attempt timeout.
const router = createRouter({ targets: [{ provider, model: 'm' }], timeouts: { attempt: '1s' } });

async function drain(stream: AsyncIterable<StreamEvent>): Promise<number> {
  let events = 0;
  for await (const _event of stream) events++;
  return events;
}

// Sanity: every case does the same work before it is timed.
const expectedEvents = TEXT_EVENTS + 2;
if ((await router.chat(request)).text !== answer.text) throw new Error('router.chat did not return the answer');
if ((await drain(router.stream(request))) !== expectedEvents) throw new Error('router.stream did not pass every event');
if ((await drain(provider.stream(request, call))) !== expectedEvents) throw new Error('the provider stream is not 12 events');

const options = benchOptions();
const streamOptions = { ...options, iterations: Math.max(1, Math.round(options.iterations / 4)), warmup: Math.max(1, Math.round(options.warmup / 4)) };
console.log(`bench:router  node ${process.version}  ${options.rounds} rounds (median)\n`);

console.log(`chat: ${options.iterations} calls per round`);
const [bare, wrapped, routed] = (await runBench(
  [
    { name: 'bare provider.chat', run: () => provider.chat(request, call) },
    { name: 'cockatiel wrap(retry, breaker, timeout)', run: () => cockatiel.execute(({ signal }) => provider.chat(request, { model: 'm', signal })) },
    { name: 'router.chat (breaker, budget, attempt timeout)', run: () => router.chat(request) },
  ],
  options,
)) as [BenchResult, BenchResult, BenchResult];
printTable([bare, wrapped, routed]);

const overhead = (r: BenchResult, base: BenchResult) => r.nsPerOp - base.nsPerOp;
console.log(`\noverhead per call: cockatiel ${overhead(wrapped, bare).toFixed(0)} ns, router ${overhead(routed, bare).toFixed(0)} ns`);
console.log(`ratio router/cockatiel overhead: ${(overhead(routed, bare) / overhead(wrapped, bare)).toFixed(2)}`);
console.log(`router throughput vs bare: ${(routed.opsPerSec / bare.opsPerSec).toFixed(3)}× (router ${Math.round(routed.opsPerSec).toLocaleString('en-US')} ops/s)`);
console.log(`router throughput vs cockatiel: ${(routed.opsPerSec / wrapped.opsPerSec).toFixed(2)}×`);

console.log(`\nstream (start, ${TEXT_EVENTS} × text, finish): ${streamOptions.iterations} streams per round`);
const [bareStream, routedStream] = (await runBench(
  [
    { name: 'bare provider.stream', run: () => drain(provider.stream(request, call)) },
    { name: 'router.stream', run: () => drain(router.stream(request)) },
  ],
  streamOptions,
)) as [BenchResult, BenchResult];
printTable([bareStream, routedStream]);
console.log(
  `\noverhead per stream: router ${overhead(routedStream, bareStream).toFixed(0)} ns ` +
    `(${(overhead(routedStream, bareStream) / expectedEvents).toFixed(0)} ns per event)`,
);
console.log(`router throughput vs bare: ${(routedStream.opsPerSec / bareStream.opsPerSec).toFixed(3)}×`);

// The gateway's path without its sockets: the OpenAI adapter (serialize, SSE and JSON parsing,
// mapping) on an in-memory transport that answers with bench:gateway's upstream bytes at once.
const memoryTransport: Transport = async (sent) => {
  const stream = sent.body?.includes('"stream":true') === true;
  const bytes = upstreamBody('gpt-4o-mini', stream, stream);
  const type = stream ? 'text/event-stream' : 'application/json';
  return {
    status: 200,
    headers: { get: (name) => (name === 'content-type' ? type : null), has: (name) => name === 'content-type' },
    body: (async function* () {
      yield new Uint8Array(bytes);
    })(),
  };
};
const adapter = openai({ apiKey: 'sk-bench', baseURL: 'http://127.0.0.1:1/v1', transport: memoryTransport });
const overAdapter = createRouter({ targets: [{ provider: adapter, model: 'gpt-4o-mini' }] });
const adapterEvents = await drain(adapter.stream(request, call));
if ((await drain(overAdapter.stream(request))) !== adapterEvents) throw new Error('router.stream over the adapter lost events');
console.log(`
over the OpenAI adapter and bench:gateway's upstream bytes (in memory, ${adapterEvents} events per stream)`);
const adapterResults = (await runBench(
  [
    { name: 'adapter.chat', run: () => adapter.chat(request, call) },
    { name: 'router.chat over the adapter', run: () => overAdapter.chat(request) },
    { name: 'adapter.stream', run: () => drain(adapter.stream(request, call)) },
    { name: 'router.stream over the adapter', run: () => drain(overAdapter.stream(request)) },
  ],
  streamOptions,
)) as [BenchResult, BenchResult, BenchResult, BenchResult];
printTable(adapterResults);
const us = (r: BenchResult) => (r.nsPerOp / 1000).toFixed(1);
console.log(
  `
per request in Ballast's own code (no sockets): chat ${us(adapterResults[1])} µs, stream ${us(adapterResults[3])} µs ` +
    `(of which the adapter ${us(adapterResults[0])} / ${us(adapterResults[2])} µs)`,
);

overAdapter.close();
router.close();

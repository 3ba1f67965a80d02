/**
 * Per-call overhead of retry + circuit breaker + timeout around an async function that
 * resolves at once: Ballast against cockatiel 3.2.1's wrap(retry, circuitBreaker, timeout)
 * and a bare call, in the same run. `npm run bench:policy` (add `-- --quick` for a short run).
 */
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker as cockatielBreaker,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap,
} from 'cockatiel';
import type * as PolicyModule from '../src/policy/index.js';
import { benchOptions, loadBuilt, printTable, runBench } from './harness.js';

const { circuitBreaker, pipeline, retry, timeout } = await loadBuilt<typeof PolicyModule>('../dist/policy/index.js');

const work = async () => 42;

const cockatiel = wrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
  cockatielTimeout(1000, TimeoutStrategy.Aggressive),
);

const ballast = pipeline(retry({ attempts: 3 }), circuitBreaker({ consecutive: 5, openFor: '10s' }), timeout('1s'));

const options = benchOptions();
console.log(`bench:policy  node ${process.version}  ${options.rounds} rounds × ${options.iterations} calls (median)\n`);
const [bare, cockatielResult, ballastResult] = await runBench(
  [
    { name: 'bare call', run: work },
    { name: 'cockatiel wrap(retry, breaker, timeout)', run: () => cockatiel.execute(work) },
    { name: 'ballast pipeline(retry, breaker, timeout)', run: () => ballast.execute(work) },
  ],
  options,
);
printTable([bare!, cockatielResult!, ballastResult!]);

const overhead = (r: { nsPerOp: number }) => r.nsPerOp - bare!.nsPerOp;
console.log(`\noverhead per call: cockatiel ${overhead(cockatielResult!).toFixed(0)} ns, ballast ${overhead(ballastResult!).toFixed(0)} ns`);
console.log(`ratio ballast/cockatiel overhead: ${(overhead(ballastResult!) / overhead(cockatielResult!)).toFixed(2)} (goal <= 1.00)`);
console.log(`ratio ballast/cockatiel throughput: ${(ballastResult!.opsPerSec / cockatielResult!.opsPerSec).toFixed(2)}×`);

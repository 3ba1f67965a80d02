/** A tiny benchmark harness: interleaved rounds (so drift hits every case alike), median of rounds. */

export interface BenchCase {
  name: string;
  /** One call of the thing measured. */
  run: () => Promise<unknown>;
}

export interface BenchResult {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
}

export interface BenchOptions {
  iterations: number;
  rounds: number;
  warmup: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Runs every case `rounds` times, `iterations` sequential awaited calls each, and keeps the median. */
export async function runBench(cases: BenchCase[], options: BenchOptions): Promise<BenchResult[]> {
  for (const c of cases) for (let i = 0; i < options.warmup; i++) await c.run();
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    // Rotate the order each round so no case always runs first or last.
    const order = cases.map((_, i) => cases[(i + round) % cases.length]!);
    for (const c of order) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < options.iterations; i++) await c.run();
      const ns = Number(process.hrtime.bigint() - start);
      samples.get(c.name)!.push(ns / options.iterations);
    }
  }
  return cases.map((c) => {
    const nsPerOp = median(samples.get(c.name)!);
    return { name: c.name, nsPerOp, opsPerSec: 1e9 / nsPerOp };
  });
}

/** Options from argv: `--quick` for a short run, `--iterations N`, `--rounds N`. */
export function benchOptions(argv = process.argv.slice(2)): BenchOptions {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    iterations: get('--iterations') ?? (quick ? 20_000 : 200_000),
    rounds: get('--rounds') ?? (quick ? 3 : 9),
    warmup: quick ? 5_000 : 50_000,
  };
}

/** Prints a table of results with ops/s and ns/op. */
export function printTable(results: BenchResult[]): void {
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    console.log(
      `${r.name.padEnd(width)}  ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ops/s  ${r.nsPerOp.toFixed(0).padStart(7)} ns/op`,
    );
  }
}

/**
 * Loads the BUILT package (`npm run bench:*` runs tsup first), typed as the sources. Benchmarks run
 * the built code so that tsx's transform (which wraps every closure) does not distort our numbers;
 * the import path is a variable so typechecking does not need a build.
 */
export async function loadBuilt<T>(path: string): Promise<T> {
  return (await import(new URL(path, import.meta.url).href)) as T;
}

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { realClock } from '../policy/clock.js';
import { createMemoryStore } from '../policy/memory-store.js';
import { loadConfigFile, validateConfig, type ConfigResult } from '../gateway/config-load.js';
import { formatProblem } from '../gateway/config-problems.js';
import { defaultConfig } from '../gateway/default-config.js';
import { buildRouteTable, RouteTableError } from '../gateway/route-table.js';
import { describeStoreConfig } from '../gateway/store.js';
import { CHECK_HELP } from './help.js';
import { describeRoutes, summarize } from './describe.js';
import { UsageError, type CliIo } from './io.js';

/** `ballast check [FILE]`: prints every problem of a config; 0 when valid, 1 when not. */
export async function checkCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    io.out(CHECK_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`check takes one file, got ${positionals.length}`);
  const file = positionals[0] ?? io.env.BALLAST_CONFIG;
  let result: ConfigResult;
  let label: string;
  if (file) {
    label = file;
    result = await loadConfigFile(resolve(io.cwd, file), { env: io.env });
  } else {
    const fallback = defaultConfig(io.env);
    label = fallback.demo ? 'the demo config (no config file, no provider keys set)' : `the config from ${fallback.sources.join(', ')} (no config file)`;
    result = validateConfig(fallback.config, { env: io.env });
  }
  if (result.ok) {
    // Providers check a few things only when built (fault windows, API keys with control characters).
    try {
      buildRouteTable(result.config, { clock: realClock, store: createMemoryStore() }).close();
    } catch (error) {
      if (!(error instanceof RouteTableError)) throw error;
      result = { ok: false, problems: error.problems };
    }
  }
  if (!result.ok) {
    for (const problem of result.problems) io.out(`${formatProblem(problem)}\n`);
    const n = result.problems.length;
    io.err(`${label}: ${n} problem${n === 1 ? '' : 's'}\n`);
    return 1;
  }
  io.out(`${label} is valid: ${summarize(result.config)}\n${describeRoutes(result.config).join('\n')}\nstore: ${describeStoreConfig(result.config.store)}\n`);
  return 0;
}

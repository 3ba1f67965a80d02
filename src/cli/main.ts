import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkCommand } from './check.js';
import { MAIN_HELP } from './help.js';
import { mockCommand } from './mock.js';
import { processIo, UsageError, type CliIo } from './io.js';
import { ConfigError, serveCommand } from './serve.js';
import { simulateCommand } from './simulate.js';

/** Runs `ballast <command> …` and resolves with the exit code. Errors are one line, never a stack trace. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'help':
        // `ballast help serve` is `ballast serve --help`.
        if (rest[0] !== undefined && COMMANDS.has(rest[0])) return await main([rest[0], '--help'], io);
        io.out(MAIN_HELP);
        return 0;
      case undefined:
      case '-h':
      case '--help':
        io.out(MAIN_HELP);
        return command === undefined ? 2 : 0;
      case '-v':
      case '--version':
        io.out(`${version()}\n`);
        return 0;
      case 'serve':
        return await serveCommand(rest, io);
      case 'check':
        return await checkCommand(rest, io);
      case 'mock':
        return await mockCommand(rest, io);
      case 'simulate':
        return await simulateCommand(rest, io);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.lines.join('\n')}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    const usage = error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS');
    const where = command !== undefined && COMMANDS.has(command) ? `ballast ${command} --help` : 'ballast --help';
    const message = code?.startsWith('ERR_PARSE_ARGS') ? parseArgsMessage(error as Error) : ((error as Error).message ?? String(error));
    io.err(`ballast: ${message}${usage ? ` (see ${where})` : ''}\n`);
    return usage ? 2 : 1;
  }
}

const COMMANDS = new Set(['serve', 'check', 'mock', 'simulate']);

/** Node's `parseArgs` errors in one line of ours (its own run to several lines, with odd quoting). */
function parseArgsMessage(error: Error): string {
  const quoted = /'([^']*)'/.exec(error.message)?.[1];
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted ?? ''}`.trim();
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${JSON.stringify(quoted ?? '')}`;
  if (/argument is ambiguous/.test(error.message) && quoted) return `${quoted} needs a value; for one starting with a dash write ${quoted}=<value>`;
  return error.message.split('\n')[0]!;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** True when this module is the program (`node --import tsx src/cli/main.ts …`), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`ballast: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

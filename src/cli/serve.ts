import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile, validateConfig, type ConfigResult } from '../gateway/config-load.js';
import { formatProblem } from '../gateway/config-problems.js';
import type { GatewayConfig } from '../gateway/config-schema.js';
import { defaultConfig } from '../gateway/default-config.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../gateway/logger.js';
import { RouteTableError } from '../gateway/route-table.js';
import { createGateway, type Gateway, type ListenAddress } from '../gateway/server.js';
import { describeStore } from '../gateway/store.js';
import { describeRoutes } from './describe.js';
import { SERVE_HELP } from './help.js';
import { UsageError, type CliIo } from './io.js';

/** A running `ballast serve`. */
export interface Serving {
  gateway: Gateway;
  address: ListenAddress;
  /** Re-reads the config file and swaps it in (what SIGHUP and a file change do). */
  reload(): Promise<boolean>;
  /** Drains and stops; resolves when everything is closed. */
  stop(): Promise<void>;
}

/** A config error that ends `serve` before it starts: its problems are printed, exit code 1. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Parses the options of `serve`, loads the config, starts the gateway and prints the banner. */
export async function startServe(args: string[], io: CliIo): Promise<Serving | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(SERVE_HELP);
    return undefined;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port expects a port number from 0 to 65535, got ${JSON.stringify(values.port)}`);
  }
  const level = (values['log-level'] ?? io.env.BALLAST_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level expects one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);

  const file = values.config ?? io.env.BALLAST_CONFIG;
  const path = file ? resolve(io.cwd, file) : undefined;
  const overrides = (config: GatewayConfig): GatewayConfig => ({
    ...config,
    server: { ...config.server, ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}) },
  });

  let demo = false;
  let sources: string[] = [];
  let result: ConfigResult;
  if (path) result = await loadConfigFile(path, { env: io.env });
  else {
    const fallback = defaultConfig(io.env);
    demo = fallback.demo;
    sources = fallback.sources;
    result = validateConfig(fallback.config, { env: io.env });
  }
  if (!result.ok) throw new ConfigError([`${file ?? 'the default config'} is invalid:`, ...result.problems.map(formatProblem)]);

  const logger = createLogger({ level, write: (line) => io.out(line) });
  let gateway: Gateway;
  try {
    gateway = createGateway({ config: overrides(result.config), demo, logger });
  } catch (error) {
    if (error instanceof RouteTableError) throw new ConfigError([`${file ?? 'the default config'} is invalid:`, ...error.problems.map(formatProblem)]);
    throw error;
  }
  let address: ListenAddress;
  try {
    address = await gateway.listen();
  } catch (error) {
    await gateway.close();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${gateway.config.server.host}:${gateway.config.server.port}`;
    if (code === 'EADDRINUSE') throw new UsageError(`cannot listen on ${where}: the address is already in use (choose another with --port)`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${where}: no such local address (check --host)`);
    if (code === 'EACCES') throw new UsageError(`cannot listen on ${where}: permission denied (use a port above 1023)`);
    throw error;
  }

  io.err(banner(gateway, address, { demo, sources, file }));

  const reload = async (): Promise<boolean> => {
    if (!path) {
      logger.info('reload skipped: no config file (the config comes from the environment)');
      return false;
    }
    const next = await loadConfigFile(path, { env: io.env });
    // A file that does not even load (YAML syntax, an unset variable, gone) never reaches the
    // gateway's own reload, which logs the rest: said in the JSON log too, for log-based alerts.
    if (!next.ok) logger.warn('reload rejected: the config file does not load, the old config stays', { file, problems: next.problems.length });
    const outcome = next.ok ? gateway.reload(overrides(next.config)) : next;
    if (!outcome.ok) {
      io.err(`config reload rejected, the old config stays in force:\n${outcome.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
      return false;
    }
    io.err(`config reloaded from ${file}:\n${describeRoutes(outcome.config).join('\n')}\n`);
    return true;
  };
  let lastChange = 0;
  const onFileChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs || current.mtimeMs === lastChange) return;
    lastChange = current.mtimeMs;
    void reload();
  };
  if (path) watchFile(path, { interval: 500, persistent: false }, onFileChange);
  const onHup = () => void reload();
  process.on('SIGHUP', onHup);

  return {
    gateway,
    address,
    reload,
    async stop() {
      process.off('SIGHUP', onHup);
      if (path) unwatchFile(path, onFileChange);
      await gateway.close();
    },
  };
}

/** `ballast serve`: runs until SIGINT / SIGTERM, then drains. Resolves with the exit code. */
export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  const serving = await startServe(args, io);
  if (!serving) return 0;
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.err('stopping now\n');
        process.exit(130);
      }
      stopping = true;
      const grace = serving.gateway.config.server.shutdownGrace;
      io.err(`${signal}: shutting down; in-flight requests get up to ${typeof grace === 'number' ? `${grace}ms` : grace} (press Ctrl-C again to stop now)\n`);
      void serving.stop().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolveExit(0);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function banner(gateway: Gateway, address: ListenAddress, info: { demo: boolean; sources: string[]; file: string | undefined }): string {
  const { config } = gateway;
  const lines = [`ballast gateway listening on ${address.url} (OpenAI base URL: ${address.url}/v1)`];
  if (info.demo) {
    lines.push('mode: DEMO - simulated providers with injected faults (outages, 429s, slow first tokens, mid-stream cuts);');
    lines.push('      no real model is called and every answer is labelled simulated. Set OPENAI_API_KEY, ANTHROPIC_API_KEY,');
    lines.push('      GEMINI_API_KEY or OLLAMA_HOST, or pass --config FILE, to route to real providers.');
  } else if (info.file) lines.push(`config: ${info.file} (edit it or send SIGHUP to reload)`);
  else lines.push(`config: from the environment (${info.sources.join(', ')})`);
  lines.push(`auth: ${config.server.tokens.length ? `bearer token required (${config.server.tokens.length} configured)` : 'none (no server.tokens)'}`);
  lines.push(`store: ${describeStore(gateway.store)}`);
  lines.push('routes (the "model" clients ask for):', ...describeRoutes(config));
  const first = Object.keys(config.routes)[0]!;
  const token = config.server.tokens.length ? ` -H 'authorization: Bearer <token>'` : '';
  lines.push(
    'try:',
    `  curl -s ${address.url}/v1/chat/completions -H 'content-type: application/json'${token} -d '{"model":${JSON.stringify(first)},"messages":[{"role":"user","content":"hi"}]}'`,
    `  dashboard: ${address.url}/   status: ${address.url}/status   metrics: ${address.url}/metrics`,
    '',
  );
  return lines.join('\n');
}

import { redactSecrets } from '../llm/redact.js';

/** How much is logged: each level includes the ones after it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The level names, most verbose first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** Structured one-line JSON logs. Fields must be JSON-serializable. */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** True when `level` is written (lets callers skip building fields). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** Known secrets (API keys, client tokens) masked wherever they appear, on top of pattern redaction. */
  setSecrets(secrets: readonly string[]): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default standard output. Each call gets one line ending in `\n`. */
  write?: (line: string) => void;
  secrets?: readonly string[];
}

/**
 * Creates a {@link Logger} writing `{"time","level","msg",...fields}` lines. Every line passes
 * through `redactSecrets` and the known-secret mask before it is written, so a key that slips into
 * a field (an upstream error echoing it) never reaches the log.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const threshold = LOG_LEVELS.indexOf(level);
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  let masks: string[] = [];
  const setSecrets = (secrets: readonly string[]) => {
    // A secret may appear raw or JSON-escaped inside the line; short values would mask ordinary words.
    masks = [...new Set(secrets.filter((s) => s.length >= 6).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))].sort((a, b) => b.length - a.length);
  };
  setSecrets(options.secrets ?? []);
  const log = (at: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    let line = JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields });
    for (const secret of masks) if (line.includes(secret)) line = line.split(secret).join('***');
    write(`${redactSecrets(line)}\n`);
  };
  return {
    level,
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    enabled: (at) => LOG_LEVELS.indexOf(at) >= threshold,
    setSecrets,
  };
}

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { resolveEnvRefs, type Env, type ResolveOptions } from './config-env.js';
import { hideEnvValues, problemsFromIssues, scrubEnvValues, type ConfigProblem } from './config-problems.js';
import { referenceProblems } from './config-refs.js';
import { configSchema, type GatewayConfig } from './config-schema.js';

/** The outcome of loading a config: the config, or every problem found. */
export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: ConfigProblem[] };

/** Options of the loaders. */
export interface LoadOptions {
  /** Where `${NAME}` references are looked up. Default `process.env`. */
  env?: Env;
  /**
   * A value for an unset `${NAME}` instead of a problem (see `resolveEnvRefs`). When the schema
   * rejects a stand-in, the problem reported there is the unset variable.
   */
  standIn?: ResolveOptions['standIn'];
}

/**
 * Validates a config object as written (YAML or JSON parsed, or built in code): resolves
 * `${ENV}` references, then checks it against the schema. Every problem is reported, not the first;
 * none shows a value that came from the environment.
 */
export function validateConfig(raw: unknown, options: LoadOptions = {}): ConfigResult {
  const { value, problems, uses, standIns } = resolveEnvRefs(raw, options.env ?? process.env, { standIn: options.standIn });
  const parsed = configSchema.safeParse(value, { reportInput: true });
  // A missing variable left an empty string behind: the schema's complaint about it would be noise.
  const envPaths = new Set(problems.map((p) => p.path));
  const standInAt = new Map(standIns.map((p) => [p.path, p]));
  const schemaProblems = parsed.success
    ? []
    : problemsFromIssues(parsed.error.issues, [], { uses })
        .filter((p) => !envPaths.has(p.path))
        .map((p) => standInAt.get(p.path) ?? scrubEnvValues(p, uses));
  const all = [...problems, ...schemaProblems, ...hideEnvValues(referenceProblems(value), uses)];
  if (all.length > 0 || !parsed.success) return { ok: false, problems: dedupe(all) };
  return { ok: true, config: parsed.data };
}

/**
 * Validates a config object that has no `${ENV}` references left (e.g. the output of a loader,
 * changed in code). Used by reload, where resolving twice could expand an escaped `$${X}`.
 */
export function checkConfig(value: unknown): ConfigResult {
  const parsed = configSchema.safeParse(value, { reportInput: true });
  const problems = [...(parsed.success ? [] : problemsFromIssues(parsed.error.issues)), ...referenceProblems(value)];
  return parsed.success && problems.length === 0 ? { ok: true, config: parsed.data } : { ok: false, problems: dedupe(problems) };
}

/** Parses config text: JSON when `format` is `json`, YAML otherwise (YAML also reads JSON). */
export function parseConfigText(text: string, format: 'yaml' | 'json' = 'yaml', options: LoadOptions = {}): ConfigResult {
  let raw: unknown;
  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return { ok: false, problems: [jsonSyntaxProblem(text, (error as Error).message)] };
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      // After the first few, YAML errors are mostly echoes of the first.
      const hint = text.includes('${') ? ' (inside { } or [ ], quote ${...} references: "${KEY}")' : '';
      return {
        ok: false,
        problems: doc.errors.slice(0, 3).map((e) => ({
          path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
          expected: `valid YAML${hint}`,
          got: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, ''),
        })),
      };
    }
    raw = doc.toJS();
  }
  if (raw === null || raw === undefined) return { ok: false, problems: [{ path: '', expected: 'a config with providers and routes', got: 'an empty document' }] };
  return validateConfig(raw, options);
}

/**
 * A JSON syntax error with its line and column, like YAML's. The position comes from the message
 * (`at position N`), or from the YAML parser (JSON is YAML), or, where YAML reads on, from the
 * excerpt of the text Node quotes. The message keeps Node's words but loses the position and the excerpt, which
 * can quote a secret written into the file.
 */
function jsonSyntaxProblem(text: string, message: string): ConfigProblem {
  const at = /\s*(?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  const quoted = /, (\.\.\.)?"(.*)"(?:\.\.\.)? is not valid JSON$/s.exec(message);
  const yaml = at ? undefined : parseDocument(text).errors[0]?.linePos?.[0];
  let position = at ? Number(at[1]) : undefined;
  // Where YAML reads on (single quotes, True), the excerpt still says where JSON stopped.
  if (position === undefined && !yaml && quoted) position = excerptPosition(text, quoted[2]!, quoted[1] !== undefined, /^Unexpected token '(.)'/.exec(message)?.[1]);
  let path = '';
  if (position !== undefined) {
    const before = text.slice(0, position);
    path = `line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
  } else if (yaml) path = `line ${yaml.line}, column ${yaml.col}`;
  let got = message;
  if (at) got = got.replace(at[0], '');
  if (quoted) got = got.slice(0, got.length - quoted[0].length);
  return { path, expected: 'valid JSON', got };
}

/** Context V8 quotes before the bad character when it cuts the excerpt (`..."…`). */
const EXCERPT_CONTEXT = 10;

/**
 * Where the excerpt of a JSON error points in `text`: 10 characters in when V8 cut its start,
 * else the first `token` outside a string from the excerpt's start.
 */
function excerptPosition(text: string, excerpt: string, cutStart: boolean, token: string | undefined): number | undefined {
  const start = text.indexOf(excerpt);
  if (start === -1) return undefined;
  if (cutStart) return start + EXCERPT_CONTEXT;
  if (token === undefined) return undefined;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === token) return i;
  }
  return undefined;
}

/** Reads and validates a config file (`.json` as JSON, anything else as YAML). */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const got = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    return { ok: false, problems: [{ path, expected: 'a readable config file', got }] };
  }
  return parseConfigText(text, extname(path).toLowerCase() === '.json' ? 'json' : 'yaml', options);
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.expected}\u0000${p.got}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

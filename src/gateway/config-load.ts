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
 * A JSON syntax error with its line and column, like YAML's: from the message's position when it
 * has one, else from the YAML parser (JSON is YAML), which finds the same spot. The message loses
 * the position and the quoted document some Node versions put in it.
 */
function jsonSyntaxProblem(text: string, message: string): ConfigProblem {
  const at = /\s*(?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  let path = '';
  if (at) {
    const before = text.slice(0, Number(at[1]));
    path = `line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
  } else {
    const pos = parseDocument(text).errors[0]?.linePos?.[0];
    if (pos) path = `line ${pos.line}, column ${pos.col}`;
  }
  const got = (at ? message.replace(at[0], '') : message).replace(/, ".*" is not valid JSON$/s, '');
  return { path, expected: 'valid JSON', got };
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

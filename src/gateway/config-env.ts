import { formatPath, type ConfigProblem } from './config-problems.js';

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A string of the config that holds environment values: they are never shown in a problem. */
export interface EnvValueUse {
  /** Where the string is, e.g. `providers.azure.baseURL`. */
  path: string;
  /** The variables whose (non-empty) values it holds, each once. */
  names: string[];
  /** Their values, in the same order. */
  values: string[];
  /** True when the string is one variable's value and nothing else. */
  whole: boolean;
}

/** A `${NAME}` reference to an unset variable, without a default. */
export interface UnsetReference {
  name: string;
  path: readonly PropertyKey[];
  /** The whole string the reference is in, as written. */
  text: string;
  /** The whole config as written (before any substitution). */
  document: unknown;
}

/** Options of {@link resolveEnvRefs}. */
export interface ResolveOptions {
  /**
   * A value for an unset variable instead of a problem (`undefined`: the problem stands).
   * `ballast simulate` uses it for the parts of a config it never uses.
   */
  standIn?: (reference: UnsetReference) => string | undefined;
}

/** What {@link resolveEnvRefs} returns. */
export interface Resolved {
  value: unknown;
  problems: ConfigProblem[];
  /** The strings that got environment values. */
  uses: EnvValueUse[];
  /** The unset references a stand-in replaced, as the problems they would have been. */
  standIns: ConfigProblem[];
}

// `$${X}` is a literal `${X}`; `${X}` must be set; `${X:-default}` falls back when X is unset or empty.
const REFERENCE = /\$(\$)?\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed config (keys stay as
 * written). A reference to an unset variable without a default, or a malformed one, is a problem
 * naming its path. Returns a new value; the input is not changed.
 */
export function resolveEnvRefs(value: unknown, env: Env, options: ResolveOptions = {}): Resolved {
  const out: Resolved = { value: undefined, problems: [], uses: [], standIns: [] };
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') return node.includes('${') ? substitute(node, path) : node;
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const result: Record<string, unknown> = {};
      // defineProperty: an own `__proto__` key stays a key (the schema refuses it by name), where an
      // assignment would make it the prototype.
      for (const [key, child] of Object.entries(node)) {
        Object.defineProperty(result, key, { value: walk(child, [...path, key]), enumerable: true, writable: true, configurable: true });
      }
      return result;
    }
    return node;
  };
  const substitute = (text: string, path: PropertyKey[]): string => {
    const use: EnvValueUse = { path: formatPath(path), names: [], values: [], whole: false };
    const resolved = text.replace(REFERENCE, (whole, escaped: string | undefined, body: string) => {
      if (escaped) return whole.slice(1);
      const split = body.indexOf(':-');
      const name = split === -1 ? body : body.slice(0, split);
      if (!NAME.test(name)) {
        out.problems.push({ path: use.path, expected: 'an environment reference such as ${OPENAI_API_KEY} or ${PORT:-4000}', got: JSON.stringify(whole) });
        return whole;
      }
      const set = env[name];
      if (set !== undefined && (split === -1 || set !== '')) {
        // An empty value hides nothing: a problem may show it.
        if (set !== '' && !use.names.includes(name)) {
          use.names.push(name);
          use.values.push(set);
        }
        return set;
      }
      if (split !== -1) return body.slice(split + 2);
      const problem = unsetProblem(name, use.path);
      const standIn = options.standIn?.({ name, path, text, document: value });
      if (standIn === undefined) out.problems.push(problem);
      else out.standIns.push(problem);
      return standIn ?? '';
    });
    if (use.names.length > 0) out.uses.push({ ...use, whole: use.names.length === 1 && resolved === use.values[0] });
    return resolved;
  };
  out.value = walk(value, []);
  return out;
}

function unsetProblem(name: string, path: string): ConfigProblem {
  return {
    path,
    expected: `the environment variable ${name} to be set (or a default: \${${name}:-value})`,
    got: `${name} unset`,
  };
}

import { formatPath, type ConfigProblem } from './config-problems.js';

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

// `$${X}` is a literal `${X}`; `${X}` must be set; `${X:-default}` falls back when X is unset or empty.
const REFERENCE = /\$(\$)?\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed config (keys stay as
 * written). A reference to an unset variable without a default, or a malformed one, is a problem
 * naming its path. Returns a new value; the input is not changed.
 */
export function resolveEnvRefs(value: unknown, env: Env): { value: unknown; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') return node.includes('${') ? substitute(node, path) : node;
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };
  const substitute = (text: string, path: PropertyKey[]): string =>
    text.replace(REFERENCE, (whole, escaped: string | undefined, body: string) => {
      if (escaped) return whole.slice(1);
      const split = body.indexOf(':-');
      const name = split === -1 ? body : body.slice(0, split);
      if (!NAME.test(name)) {
        problems.push({ path: formatPath(path), expected: 'an environment reference such as ${OPENAI_API_KEY} or ${PORT:-4000}', got: JSON.stringify(whole) });
        return whole;
      }
      const set = env[name];
      if (set !== undefined && (split === -1 || set !== '')) return set;
      if (split !== -1) return body.slice(split + 2);
      problems.push({
        path: formatPath(path),
        expected: `the environment variable ${name} to be set (or a default: \${${name}:-value})`,
        got: `${name} unset`,
      });
      return '';
    });
  return { value: walk(value, []), problems };
}

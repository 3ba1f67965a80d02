import type { z } from 'zod';
import { redactSecrets } from '../llm/redact.js';
import type { EnvValueUse } from './config-env.js';

/** One thing wrong with a config: where, what was expected, what was found. */
export interface ConfigProblem {
  /** e.g. `routes.chat.targets[1].provider`; empty for the whole document. */
  path: string;
  expected: string;
  got: string;
}

/** `routes.chat.targets[1].provider: expected …, got …` (one line). */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path || '(config)'}: expected ${problem.expected}, got ${problem.got}`;
}

/** Joins path segments the way a reader writes them: `a.b[2].c`. Keys that are not identifiers are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      out += /^[A-Za-z_$][\w$-]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** A short, secret-free description of a value found in a config. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    // Redacted before it is cut short: a cut could leave a secret without what makes it recognisable.
    const clean = redactSecrets(value);
    const shown = clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
    return redactSecrets(JSON.stringify(shown));
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''}`;
  }
  return typeof value;
}

/** `the value of ${AZURE_KEY} (hidden)`: how a problem speaks of a string that holds environment values. */
export function describeHidden(use: EnvValueUse): string {
  const refs = use.names.map((name) => `\${${name}}`);
  if (use.whole) return `the value of ${refs[0]} (hidden)`;
  const list = refs.length === 1 ? `the value of ${refs[0]}` : `the values of ${refs.slice(0, -1).join(', ')} and ${refs.at(-1)}`;
  return `a string made with ${list} (hidden)`;
}

/** A provider's `apiKey` and `headers`, where any value may be a credential. */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path[0] === 'providers' && (path[2] === 'apiKey' || path[2] === 'headers');
}

/** A value's type and size, never the value itself: `a string of 32 characters`, `a number`. */
export function describeShape(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : `a string of ${value.length} character${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'bigint') return 'a big integer';
  return describeValue(value); // null, lists and objects: a length or key names, no values
}

/** The shortest environment value {@link scrubEnvValues} replaces. */
export const MIN_SCRUBBED = 6;

/**
 * Replaces every environment value of `uses` quoted in a problem by its `${NAME}`. A safety net;
 * values shorter than {@link MIN_SCRUBBED} are left alone (they cannot be told apart from ordinary
 * words). `expected` too only when the problem's own text may quote config values (route
 * references list target ids); a schema's expected text (allowed values such as `"openai"`) is
 * never a secret and stays as written.
 */
export function scrubEnvValues(problem: ConfigProblem, uses: readonly EnvValueUse[], options: { expected?: boolean } = {}): ConfigProblem {
  let { expected, got } = problem;
  for (const use of uses) {
    use.values.forEach((value, i) => {
      if (value.length < MIN_SCRUBBED) return;
      const ref = `\${${use.names[i]}}`;
      if (options.expected) expected = expected.split(value).join(ref);
      got = got.split(value).join(ref);
    });
  }
  return expected === problem.expected && got === problem.got ? problem : { ...problem, expected, got };
}

/**
 * Keeps environment values out of problems made outside the schema (route references): one at
 * a string that holds them says whose they are instead, and {@link scrubEnvValues} does the rest.
 */
export function hideEnvValues(problems: readonly ConfigProblem[], uses: readonly EnvValueUse[]): ConfigProblem[] {
  const byPath = new Map(uses.map((use) => [use.path, use]));
  return problems.map((problem) => {
    const use = byPath.get(problem.path);
    return scrubEnvValues(use ? { ...problem, got: describeHidden(use) } : problem, uses, { expected: true });
  });
}

/** Options of {@link problemsFromIssues}. */
export interface IssueOptions {
  /** Strings that hold environment values: a problem says whose, and never shows them. */
  uses?: readonly EnvValueUse[];
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  record: 'an object',
  tuple: 'a list',
  literal: 'a fixed value',
};

type Issue = z.core.$ZodIssue;

/**
 * Turns zod issues into {@link ConfigProblem}s (one per issue; one per unknown key). Values of a
 * provider's `apiKey` and `headers` are shown by type and length only, and values that came from
 * the environment (`options.uses`) not at all.
 */
export function problemsFromIssues(issues: readonly Issue[], prefix: readonly PropertyKey[] = [], options: IssueOptions = {}): ConfigProblem[] {
  const uses = new Map((options.uses ?? []).map((use) => [use.path, use]));
  return collect(issues, prefix, (path, input) => describeAt(path, input, uses));
}

/** Describes the value found at `path` for a problem. */
type Describe = (path: readonly PropertyKey[], input: unknown) => string;

function describeAt(path: readonly PropertyKey[], input: unknown, uses: ReadonlyMap<string, EnvValueUse>): string {
  const use = uses.get(formatPath(path));
  if (use && typeof input === 'string') return describeHidden(use);
  return isSecretPath(path) ? describeShape(input) : describeValue(input);
}

function collect(issues: readonly Issue[], prefix: readonly PropertyKey[], describe: Describe): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) out.push(...fromIssue(issue, [...prefix, ...issue.path], describe));
  return out;
}

function fromIssue(issue: Issue, path: PropertyKey[], describe: Describe): ConfigProblem[] {
  const input = (issue as { input?: unknown }).input;
  const at = formatPath(path);
  const shown = describe(path, input);
  switch (issue.code) {
    case 'invalid_type':
      return [{ path: at, expected: TYPE_WORDS[issue.expected] ?? issue.expected, got: shown }];
    case 'invalid_value':
      return [{ path: at, expected: oneOf(issue.values), got: shown }];
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatPath([...path, key]),
        expected: `${issue.message}${suggest(key, issue.message)}`,
        got: 'an unknown key',
      }));
    case 'too_small':
      return [{ path: at, expected: minimum(issue), got: shown }];
    case 'too_big':
      return [{ path: at, expected: maximum(issue), got: shown }];
    case 'invalid_format':
      return [{ path: at, expected: issue.format === 'url' ? 'a URL such as https://api.example.com/v1' : `a ${issue.format}`, got: shown }];
    case 'invalid_key':
      return [{ path: at, expected: 'a name of letters, digits, ".", "_" or "-"', got: shown }];
    case 'invalid_union':
      return fromUnion(issue, path, input, describe);
    case 'custom':
      return [{ path: at, expected: issue.message, got: shown }];
    default:
      return [{ path: at, expected: issue.message, got: shown }];
  }
}

function fromUnion(issue: Extract<Issue, { code: 'invalid_union' }>, path: PropertyKey[], input: unknown, describe: Describe): ConfigProblem[] {
  // A discriminated union (provider `type`) whose discriminator matched nothing.
  const discriminator = (issue as { discriminator?: string }).discriminator;
  const options = (issue as { options?: unknown[] }).options;
  if (discriminator !== undefined) {
    const found = input && typeof input === 'object' ? (input as Record<string, unknown>)[discriminator] : undefined;
    const at = path[path.length - 1] === discriminator ? path : [...path, discriminator];
    return [{ path: formatPath(at), expected: options ? oneOf(options) : 'a known type', got: describe(at, found) }];
  }
  // The branch whose type matched says what is wrong inside it; when none matched, list the shapes.
  const branches = issue.errors ?? [];
  const matched = branches.find((list) => list.length > 0 && !list.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
  if (matched) return collect(matched, path, describe);
  const shapes = branches.map((list) => {
    const root = list.find((i) => i.path.length === 0);
    if (!root) return 'another shape';
    if (root.code === 'invalid_type') return TYPE_WORDS[root.expected] ?? root.expected;
    if (root.code === 'invalid_value') return oneOf(root.values);
    return root.message;
  });
  return [{ path: formatPath(path), expected: [...new Set(shapes)].join(' or '), got: describe(path, input) }];
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(', ')}`;
}

function minimum(issue: Extract<Issue, { code: 'too_small' }>): string {
  const min = Number(issue.minimum);
  switch (issue.origin) {
    case 'string':
      return min <= 1 ? 'a non-empty string' : `a string of at least ${min} characters`;
    case 'array':
    case 'set':
      return min <= 1 ? 'a non-empty list' : `a list of at least ${min} items`;
    default:
      return `a number ${issue.inclusive ? '>=' : '>'} ${min}`;
  }
}

function maximum(issue: Extract<Issue, { code: 'too_big' }>): string {
  const max = Number(issue.maximum);
  switch (issue.origin) {
    case 'string':
      return `a string of at most ${max} characters`;
    case 'array':
    case 'set':
      return `a list of at most ${max} items`;
    default:
      return `a number ${issue.inclusive ? '<=' : '<'} ${max}`;
  }
}

/** ` (did you mean "retry"?)` when a known key is one or two edits away. */
function suggest(key: string, knownText: string): string {
  const known = knownText.replace(/^one of the keys /, '').split(', ');
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

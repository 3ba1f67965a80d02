// The scenario file of `ballast mock` (and of anyone starting the four mocks from one document):
// each protocol's own mock scenario, checked with one-line "path: expected …, got …" errors.
import type { AnthropicMockScenario } from './anthropic-mock.js';
import type { GeminiMockScenario } from './gemini-mock.js';
import { parseOllamaMockScenario, type OllamaMockScenarioObject } from './ollama-mock.js';
import type { OpenAiMockScenarioObject } from './openai-mock.js';

/** The four protocols, in port order (`--port N` gives openai N, anthropic N+1, gemini N+2, ollama N+3). */
export const MOCK_PROTOCOLS = ['openai', 'anthropic', 'gemini', 'ollama'] as const;
export type MockProtocol = (typeof MOCK_PROTOCOLS)[number];

/** A scenario file: each protocol's own mock scenario; a protocol left out gets the default. */
export interface MockScenarioFile {
  openai?: OpenAiMockScenarioObject;
  anthropic?: AnthropicMockScenario;
  gemini?: GeminiMockScenario;
  ollama?: OllamaMockScenarioObject;
}

/**
 * Checks a parsed scenario file `{ openai?, anthropic?, gemini?, ollama? }`, each part the
 * protocol's mock scenario (an object with `replies`, or just the list of replies). Throws a
 * `TypeError` "path: expected …, got …" for the first problem.
 */
export function parseMockScenarioFile(value: unknown): MockScenarioFile {
  const expected = `an object with any of ${MOCK_PROTOCOLS.join(', ')}`;
  if (value === null || value === undefined) fail('(top level)', expected, new Said('an empty document'));
  if (!isRecord(value)) fail('(top level)', expected, value);
  for (const key of Object.keys(value)) {
    if (!(MOCK_PROTOCOLS as readonly string[]).includes(key)) fail(key, `one of ${MOCK_PROTOCOLS.join(', ')}`, new Said(`an unknown key ${JSON.stringify(key)}`));
  }
  const out: MockScenarioFile = {};
  if (value.openai !== undefined) out.openai = checkScenario('openai', value.openai) as unknown as OpenAiMockScenarioObject;
  if (value.anthropic !== undefined) out.anthropic = checkScenario('anthropic', value.anthropic) as unknown as AnthropicMockScenario;
  if (value.gemini !== undefined) out.gemini = checkScenario('gemini', value.gemini) as unknown as GeminiMockScenario;
  if (value.ollama !== undefined) {
    try {
      out.ollama = parseOllamaMockScenario(value.ollama);
    } catch (error) {
      if (error instanceof TypeError) throw new TypeError(error.message.replace(/^scenario/, 'ollama'));
      throw error;
    }
    if ((out.ollama.replies as unknown[]).length === 0) fail('ollama.replies', 'at least one reply', []);
  }
  return out;
}

type Check = (value: unknown, path: string) => void;
type Json = Record<string, unknown>;

/** Throws "path: expected …, got …"; `got` is shown as JSON (`nothing` when missing), or as is when wrapped in `Said`. */
function fail(path: string, expected: string, got: unknown): never {
  const shown = got instanceof Said ? got.text : got === undefined ? 'nothing' : (JSON.stringify(got) ?? String(got));
  throw new TypeError(`${path}: expected ${expected}, got ${shown}`);
}
class Said {
  constructor(readonly text: string) {}
}
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional =
  (check: Check): Check =>
  (v, p) => {
    if (v !== undefined) check(v, p);
  };
const orNull =
  (check: Check): Check =>
  (v, p) => {
    if (v !== null) check(v, p);
  };
const string: Check = (v, p) => {
  if (typeof v !== 'string') fail(p, 'a string', v);
};
const record: Check = (v, p) => {
  if (!isRecord(v)) fail(p, 'an object', v);
};
const boolean: Check = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'true or false', v);
};
const ms: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(p, 'a number of milliseconds >= 0', v);
};
const seconds: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(p, 'a number of seconds >= 0', v);
};
const count: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'an integer >= 0', v);
};
const status: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 400 || v > 599) fail(p, 'an HTTP error status (400-599)', v);
};
const stringList: Check = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'a list of strings', v);
  v.forEach((s, i) => string(s, `${p}[${i}]`));
};
const oneOf =
  (choices: readonly string[]): Check =>
  (v, p) => {
    if (!choices.includes(v as string)) fail(p, `one of ${choices.join(', ')}`, v);
  };
const headers: Check = (v, p) => {
  if (!isRecord(v)) fail(p, 'an object of header names to strings', v);
  for (const [name, value] of Object.entries(v)) string(value, `${p}.${name}`);
};
const object =
  (fields: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    if (!isRecord(v)) fail(p, 'an object', v);
    for (const key of Object.keys(v)) if (!(key in fields)) fail(`${p}.${key}`, `one of the fields ${Object.keys(fields).join(', ')}`, new Said('an unknown field'));
    for (const [key, check] of Object.entries(fields)) check(v[key], `${p}.${key}`);
  };
const listOf =
  (check: Check, what: string): Check =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, `a list of ${what}`, v);
    v.forEach((item, i) => check(item, `${p}[${i}]`));
  };
const required =
  (check: Check, what: string): Check =>
  (v, p) => {
    if (v === undefined) fail(p, what, v);
    check(v, p);
  };

// OpenAI ------------------------------------------------------------------------------------

const OPENAI_TIMING = {
  delayMs: optional(ms),
  firstTokenDelayMs: optional(ms),
  chunkDelayMs: optional(ms),
  headers: optional(headers),
  chunks: optional((v, p) => (typeof v === 'number' ? count(v, p) : stringList(v, p))),
};
const OPENAI_ERROR_KINDS = [
  'rate_limit', 'quota', 'overloaded', 'server', 'auth', 'not_found', 'context_length', 'invalid_request', 'request_too_large', 'bad_gateway_html',
];
const OPENAI_REPLIES: Readonly<Record<string, Readonly<Record<string, Check>>>> = {
  text: {
    ...OPENAI_TIMING,
    text: optional(string),
    toolCalls: optional(listOf(object({ id: optional(string), name: required(string, 'a string'), arguments: () => undefined }), 'tool calls')),
    refusal: optional(string),
    finishReason: optional(string),
    usage: optional(object({ promptTokens: optional(count), completionTokens: optional(count), cachedTokens: optional(count), reasoningTokens: optional(count) })),
    id: optional(string),
    model: optional(string),
    omitDone: optional(boolean),
    omitUsage: optional(boolean),
  },
  error: {
    kind: required(oneOf(OPENAI_ERROR_KINDS), `one of ${OPENAI_ERROR_KINDS.join(', ')}`),
    retryAfter: optional(seconds),
    headers: optional(headers),
    delayMs: optional(ms),
    status: optional(status),
    message: optional(string),
    code: optional(orNull(string)),
    errorType: optional(string),
    param: optional(orNull(string)),
  },
  'stream-error-after': {
    ...OPENAI_TIMING,
    text: optional(string),
    error: optional(object({ message: optional(string), type: optional(string), code: optional(orNull(string)), param: optional(orNull(string)) })),
    asEvent: optional(boolean),
    omitDone: optional(boolean),
  },
  'stall-after': { ...OPENAI_TIMING, text: optional(string) },
  'cut-after': { ...OPENAI_TIMING, text: optional(string) },
  'truncate-after': { ...OPENAI_TIMING, text: optional(string) },
  'malformed-frame': { ...OPENAI_TIMING, text: optional(string) },
  'content-filter': { ...OPENAI_TIMING, text: optional(string) },
};

// Anthropic ---------------------------------------------------------------------------------

const ANTHROPIC_TIMING = {
  delayMs: optional(ms),
  firstTokenDelayMs: optional(ms),
  chunkDelayMs: optional(ms),
  chunks: optional(stringList),
  headers: optional(headers),
};
const ANTHROPIC_ERROR_KINDS = ['rate_limit', 'quota', 'billing', 'overloaded', 'server', 'auth', 'permission', 'not_found', 'context_length', 'invalid_request', 'timeout'];
const ANTHROPIC_ERROR_TYPES = [
  'invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error', 'rate_limit_error', 'timeout_error', 'api_error', 'overloaded_error',
];
const ANTHROPIC_STOP_REASONS = ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal', 'model_context_window_exceeded'];
const ANTHROPIC_REFUSAL_CATEGORIES = ['cyber', 'bio', 'frontier_llm', 'reasoning_extraction', 'general_harms'];
const ANTHROPIC_REPLIES: Readonly<Record<string, Readonly<Record<string, Check>>>> = {
  text: {
    ...ANTHROPIC_TIMING,
    text: optional(string),
    thinking: optional(string),
    toolCalls: optional(listOf(object({ id: optional(string), name: required(string, 'a string'), input: optional(record) }), 'tool calls')),
    stopReason: optional(oneOf(ANTHROPIC_STOP_REASONS)),
    stopSequence: optional(string),
    usage: optional(object({ inputTokens: optional(count), outputTokens: optional(count), cacheCreationInputTokens: optional(count), cacheReadInputTokens: optional(count) })),
    id: optional(string),
  },
  error: {
    kind: required(oneOf(ANTHROPIC_ERROR_KINDS), `one of ${ANTHROPIC_ERROR_KINDS.join(', ')}`),
    message: optional(string),
    retryAfter: optional(seconds),
    headers: optional(headers),
    delayMs: optional(ms),
  },
  'stream-error-after': {
    ...ANTHROPIC_TIMING,
    text: optional(string),
    error: optional(oneOf(ANTHROPIC_ERROR_TYPES)), // default overloaded_error
    message: optional(string),
  },
  'stall-after': { ...ANTHROPIC_TIMING, text: optional(string) },
  'cut-after': { ...ANTHROPIC_TIMING, text: optional(string) },
  'truncate-after': { ...ANTHROPIC_TIMING, text: optional(string) },
  'malformed-frame': { ...ANTHROPIC_TIMING, text: optional(string) },
  refusal: { ...ANTHROPIC_TIMING, text: optional(string), category: optional(orNull(oneOf(ANTHROPIC_REFUSAL_CATEGORIES))), explanation: optional(orNull(string)) },
};

// Gemini ------------------------------------------------------------------------------------

const GEMINI_TIMING = { delayMs: optional(ms), firstTokenDelayMs: optional(ms), chunkDelayMs: optional(ms) };
const GEMINI_ERROR_KINDS = ['rate_limit', 'quota', 'precondition', 'overloaded', 'server', 'auth', 'permission', 'not_found', 'context_length', 'invalid_request', 'timeout'];
const GEMINI_REPLIES: Readonly<Record<string, Readonly<Record<string, Check>>>> = {
  text: {
    ...GEMINI_TIMING,
    text: optional(string),
    chunks: optional(stringList),
    thoughts: optional(string),
    toolCalls: optional(listOf(object({ name: required(string, 'a string'), args: optional(record), id: optional(string) }), 'tool calls')),
    finishReason: optional(string),
    usage: optional(object({ promptTokenCount: optional(count), candidatesTokenCount: optional(count), thoughtsTokenCount: optional(count), cachedContentTokenCount: optional(count) })),
    responseId: optional(string),
  },
  error: { ...GEMINI_TIMING, kind: required(oneOf(GEMINI_ERROR_KINDS), `one of ${GEMINI_ERROR_KINDS.join(', ')}`), message: optional(string), retryDelay: optional(string) },
  blocked: { ...GEMINI_TIMING, blockReason: optional(string) },
  safety: { ...GEMINI_TIMING, text: optional(string) },
  'stream-error-after': {
    ...GEMINI_TIMING,
    text: optional(string),
    error: optional(oneOf(GEMINI_ERROR_KINDS)), // default overloaded
    message: optional(string),
  },
  'stall-after': { ...GEMINI_TIMING, text: optional(string) },
  'cut-after': { ...GEMINI_TIMING, text: optional(string) },
  'truncate-after': { ...GEMINI_TIMING, text: optional(string) },
  'eof-after': { ...GEMINI_TIMING, text: optional(string) }, // the older name of truncate-after
  'malformed-frame': { ...GEMINI_TIMING, text: optional(string) },
};

// Shared ------------------------------------------------------------------------------------

const WHEN_EXHAUSTED = ['repeat-last', 'cycle', 'error'];
const whenExhausted = optional(oneOf(WHEN_EXHAUSTED));

const SCENARIO_FIELDS: Readonly<
  Record<'openai' | 'anthropic' | 'gemini', { replies: Readonly<Record<string, Readonly<Record<string, Check>>>>; options: Readonly<Record<string, Check>>; alias?: string }>
> = {
  openai: { replies: OPENAI_REPLIES, options: { whenExhausted, apiKey: optional(string), models: optional(stringList) } },
  // `cycle` (Anthropic) and `loop` (Gemini) are the deprecated aliases of `whenExhausted: cycle`.
  anthropic: { replies: ANTHROPIC_REPLIES, options: { whenExhausted, cycle: optional(boolean), apiKey: optional(string) }, alias: 'cycle' },
  gemini: { replies: GEMINI_REPLIES, options: { whenExhausted, loop: optional(boolean), apiKey: optional(string), models: optional(stringList) }, alias: 'loop' },
};
const EXHAUSTED_NAMES = ['whenExhausted', 'cycle', 'loop'];

function checkScenario(protocol: 'openai' | 'anthropic' | 'gemini', value: unknown): Json {
  const { replies, options, alias } = SCENARIO_FIELDS[protocol];
  const exhausted = `whenExhausted: ${WHEN_EXHAUSTED.join(' | ')}`;
  const scenario = Array.isArray(value) ? { replies: value } : value;
  if (!isRecord(scenario)) fail(protocol, 'a list of replies or an object with `replies`', value);
  for (const key of Object.keys(scenario)) {
    if (key === 'replies' || key in options) continue;
    // `cycle` and `loop` are each one mock's old name for what follows the last reply; point to the shared one.
    const hint = EXHAUSTED_NAMES.includes(key) ? ` (for what follows the last reply, every mock takes ${exhausted})` : '';
    fail(`${protocol}.${key}`, `one of the fields replies, ${Object.keys(options).join(', ')}${hint}`, new Said('an unknown field'));
  }
  if (!Array.isArray(scenario.replies)) fail(`${protocol}.replies`, 'a list of replies', scenario.replies);
  if (scenario.replies.length === 0) fail(`${protocol}.replies`, 'at least one reply', scenario.replies);
  scenario.replies.forEach((reply, i) => {
    const path = `${protocol}.replies[${i}]`;
    if (!isRecord(reply)) fail(path, 'a reply object with a `type`', reply);
    const fields = typeof reply.type === 'string' ? replies[reply.type] : undefined;
    if (!fields) fail(`${path}.type`, `one of ${Object.keys(replies).join(', ')}`, reply.type);
    for (const key of Object.keys(reply)) {
      if (key !== 'type' && !(key in fields)) {
        fail(`${path}.${key}`, `one of the fields of a '${reply.type as string}' reply (${Object.keys(fields).join(', ')})`, new Said('an unknown field'));
      }
    }
    for (const [key, check] of Object.entries(fields)) check(reply[key], `${path}.${key}`);
  });
  for (const [key, check] of Object.entries(options)) check(scenario[key], `${protocol}.${key}`);
  if (alias !== undefined && scenario[alias] !== undefined && scenario.whenExhausted !== undefined) {
    const on = scenario[alias] === true;
    if (on !== (scenario.whenExhausted === 'cycle')) {
      fail(
        `${protocol}.${alias}`,
        `to agree with whenExhausted (${alias}: true means whenExhausted: cycle; give whenExhausted alone)`,
        new Said(`${alias}: ${String(scenario[alias])} with whenExhausted: ${String(scenario.whenExhausted)}`),
      );
    }
  }
  return scenario;
}

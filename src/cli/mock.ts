import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import type { RecordedRequest } from '../mock/mock-server.js';
import { startAnthropicMock, type AnthropicMockScenario } from '../mock/anthropic-mock.js';
import { startGeminiMock, type GeminiMockScenario } from '../mock/gemini-mock.js';
import { parseOllamaMockScenario, startOllamaMock, type OllamaMockScenarioObject } from '../mock/ollama-mock.js';
import { startOpenAiMock, type OpenAiMockScenarioObject } from '../mock/openai-mock.js';
import { MOCK_HELP } from './help.js';
import { UsageError, type CliIo } from './io.js';

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

/** One running mock server of `ballast mock`. */
export interface RunningMock {
  protocol: MockProtocol;
  /** The base URL a client of that protocol is given (with `/v1` for OpenAI, `/v1beta` for Gemini). */
  url: string;
  /** `http://host:port`. */
  origin: string;
  port: number;
}

/** A running `ballast mock`. */
export interface Mocking {
  servers: RunningMock[];
  /** Closes every server and drops open connections. */
  stop(): Promise<void>;
}

/** A scenario file that cannot be used: one line naming the file, the path, what was expected and what was found. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

const DEFAULT_PORT = 4010;

/** The default scenario: every request gets a short text answer, forever. */
export function defaultMockScenario(): Required<MockScenarioFile> {
  const text = (name: string) => `Hello from the Ballast mock ${name} server.`;
  return {
    openai: { replies: [{ type: 'text', text: text('OpenAI') }] },
    anthropic: { replies: [{ type: 'text', text: text('Anthropic') }] },
    gemini: { replies: [{ type: 'text', text: text('Gemini') }], whenExhausted: 'cycle' },
    ollama: { replies: [{ type: 'text', text: text('Ollama') }] },
  };
}

/** Parses the options of `mock`, loads the scenario, starts the four servers and prints where they are. */
export async function startMock(args: string[], io: CliIo): Promise<Mocking | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      scenario: { type: 'string', short: 's' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(MOCK_HELP);
    return undefined;
  }
  const port = values.port === undefined ? DEFAULT_PORT : /^\d+$/.test(values.port) ? Number(values.port) : NaN;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535 - 3)) {
    throw new UsageError(`--port expects a port number from 0 to 65532 (the mocks use it and the next three), got ${JSON.stringify(values.port)}`);
  }
  const host = values.host ?? '127.0.0.1';
  if (host.trim() === '') throw new UsageError('--host expects an address, got ""');

  const file = values.scenario;
  const scenario = { ...defaultMockScenario(), ...(file ? await loadMockScenario(resolve(io.cwd, file), file) : {}) };

  const started: Array<{ protocol: MockProtocol; close: () => Promise<void>; front?: Front }> = [];
  const stop = async () => {
    await Promise.all(started.map(async (s) => {
      await s.front?.close();
      await s.close();
    }));
  };
  const servers: RunningMock[] = [];
  try {
    for (const [i, protocol] of MOCK_PROTOCOLS.entries()) {
      const mock = await startOne(protocol, scenario);
      const entry: (typeof started)[number] = { protocol, close: mock.close };
      started.push(entry);
      // Log each request as it arrives; the CLI keeps none of them (a long run would grow without end).
      Object.defineProperty(mock.requests, 'push', {
        value: (...items: RecordedRequest[]) => {
          for (const item of items) io.out(`${requestLine(protocol, item)}\n`);
          return 0;
        },
      });
      // The mocks listen on a free loopback port; the chosen host and port are a plain TCP relay to it.
      entry.front = await listenFront(host, port === 0 ? 0 : port + i, new URL(mock.origin).port);
      const origin = `http://${host.includes(':') ? `[${host}]` : host}:${entry.front.port}`;
      servers.push({ protocol, origin, port: entry.front.port, url: origin + (protocol === 'openai' ? '/v1' : protocol === 'gemini' ? '/v1beta' : '') });
    }
  } catch (error) {
    await stop();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${host}:${(error as { port?: number }).port ?? port}`;
    if (code === 'EADDRINUSE') throw new UsageError(`cannot listen on ${where}: the address is already in use (choose another with --port, or --port 0)`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${where}: no such local address (check --host)`);
    if (code === 'EACCES') throw new UsageError(`cannot listen on ${where}: permission denied (use a port above 1023)`);
    if (code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${host}: unknown host (check --host)`);
    throw error;
  }

  io.err(banner(servers, scenario, file));
  return { servers, stop };
}

/** `ballast mock`: runs until SIGINT / SIGTERM, then closes the servers. Resolves with the exit code. */
export async function mockCommand(args: string[], io: CliIo): Promise<number> {
  const mocking = await startMock(args, io);
  if (!mocking) return 0;
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      io.err(`${signal}: stopping the mock servers\n`);
      void mocking.stop().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolveExit(0);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

// ---------------------------------------------------------------------------------------------
// Servers

type Started = { origin: string; requests: RecordedRequest[]; close: () => Promise<void> };

async function startOne(protocol: MockProtocol, scenario: Required<MockScenarioFile>): Promise<Started> {
  switch (protocol) {
    case 'openai': {
      const mock = await startOpenAiMock(scenario.openai);
      return { origin: mock.url.replace(/\/v1$/, ''), requests: mock.requests, close: () => mock.close() };
    }
    case 'anthropic': {
      const mock = await startAnthropicMock(scenario.anthropic);
      return { origin: mock.url, requests: mock.requests, close: () => mock.close() };
    }
    case 'gemini': {
      const mock = await startGeminiMock(scenario.gemini);
      return { origin: mock.origin, requests: mock.requests, close: () => mock.close() };
    }
    case 'ollama': {
      const mock = await startOllamaMock(scenario.ollama);
      return { origin: mock.url, requests: mock.requests, close: () => mock.close() };
    }
  }
}

interface Front {
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` and relays every connection byte for byte to the mock on loopback
 * `target`. A client that goes away closes the mock's side at once (the mock sees the disconnect),
 * and a mock that cuts a connection cuts the client's.
 */
async function listenFront(host: string, port: number, target: string): Promise<Front> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target), '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', (hadError) => (hadError ? client.destroy() : client.end()));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error) => reject(Object.assign(error, { port })));
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolveClose) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolveClose());
      }),
  };
}

/** `12:00:01.234 openai     POST /v1/chat/completions  model=gpt-4o stream` (a `?key=` query is masked). */
function requestLine(protocol: MockProtocol, request: RecordedRequest): string {
  const path = request.path.replace(/([?&]key=)[^&]*/g, '$1***');
  const json = request.json as Record<string, unknown> | undefined;
  let model = typeof json === 'object' && json !== null && typeof json.model === 'string' ? json.model : undefined;
  if (protocol === 'gemini') {
    const match = /^\/v1beta\/models\/([^/:?]+)/.exec(request.path);
    if (match) model = safeDecode(match[1]!);
  }
  const streaming =
    protocol === 'gemini' ? request.path.includes(':streamGenerateContent') : protocol === 'ollama' ? json?.stream !== false && model !== undefined : json?.stream === true;
  const time = new Date().toISOString().slice(11, 23);
  return `${time} ${protocol.padEnd(9)} ${request.method} ${path}  model=${model ?? '-'}${streaming ? ' stream' : ''}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function banner(servers: RunningMock[], scenario: Required<MockScenarioFile>, file: string | undefined): string {
  const url = (p: MockProtocol) => servers.find((s) => s.protocol === p)!;
  const key = (p: MockProtocol) => {
    const s = scenario[p] as { apiKey?: unknown };
    return typeof s.apiKey === 'string' ? s.apiKey : 'test';
  };
  const openai = url('openai');
  const anthropic = url('anthropic');
  const gemini = url('gemini');
  const ollama = url('ollama');
  const lines = [
    `ballast mock provider servers (${file ? `scenario: ${file}` : 'default scenario: every request gets a short text answer'})`,
    `  openai     ${openai.url.padEnd(30)} OPENAI_BASE_URL=${openai.url} OPENAI_API_KEY=${key('openai')}`,
    `  anthropic  ${anthropic.url.padEnd(30)} ANTHROPIC_BASE_URL=${anthropic.url} ANTHROPIC_API_KEY=${key('anthropic')}`,
    `  gemini     ${gemini.url.padEnd(30)} new GoogleGenAI({ apiKey: '${key('gemini')}', httpOptions: { baseUrl: '${gemini.origin}' } })`,
    `  ollama     ${ollama.url.padEnd(30)} OLLAMA_HOST=${ollama.url}`,
    'try:',
    `  curl -s ${openai.url}/chat/completions -H 'content-type: application/json' -H 'authorization: Bearer ${key('openai')}' -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'`,
    `  OPENAI_BASE_URL=${openai.url} OPENAI_API_KEY=${key('openai')} ANTHROPIC_BASE_URL=${anthropic.url} ANTHROPIC_API_KEY=${key('anthropic')} ballast serve`,
    'Each request is logged on standard output. Ctrl-C stops.',
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Scenario files

/** Reads a scenario file (`.json` as JSON, anything else as YAML) and checks it. Throws a one-line `ScenarioError`. */
export async function loadMockScenario(path: string, label: string = path): Promise<MockScenarioFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const got = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    throw new ScenarioError(`${label}: expected a readable scenario file, got ${got}`);
  }
  let raw: unknown;
  if (extname(path).toLowerCase() === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new ScenarioError(`${label}: expected valid JSON, got ${(error as Error).message}`);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const first = doc.errors[0];
    if (first) {
      const where = first.linePos ? `line ${first.linePos[0].line}, column ${first.linePos[0].col}: ` : '';
      throw new ScenarioError(`${label}: ${where}expected valid YAML, got ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '')}`);
    }
    raw = doc.toJS();
  }
  try {
    return parseMockScenarioFile(raw);
  } catch (error) {
    if (error instanceof TypeError) throw new ScenarioError(`${label}: ${error.message}`);
    throw error;
  }
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

import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import type { RecordedRequest } from '../mock/mock-server.js';
import { startAnthropicMock } from '../mock/anthropic-mock.js';
import { startGeminiMock } from '../mock/gemini-mock.js';
import { startOllamaMock } from '../mock/ollama-mock.js';
import { startOpenAiMock } from '../mock/openai-mock.js';
import { MOCK_PROTOCOLS, parseMockScenarioFile, type MockProtocol, type MockScenarioFile } from '../mock/scenario-file.js';
import { MOCK_HELP } from './help.js';
import { UsageError, type CliIo } from './io.js';

export { MOCK_PROTOCOLS, parseMockScenarioFile, type MockProtocol, type MockScenarioFile };

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

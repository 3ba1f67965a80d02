// `ballast mock`: a real process serving the four mock providers from a scenario file, requests
// in each protocol's wire format, the request log, SIGTERM; and the scenario file checks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { parseMockScenarioFile, startMock, type Mocking } from '../src/cli/mock.js';

const ROOT = resolve(import.meta.dirname, '..');
// The sources through tsx (resolved from the repository), not bin/ballast.js: that one prefers
// dist/, which may be an older build.
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

let dir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-mock-'));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function captured(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    env: {},
    cwd: dir,
    stdout: () => out,
    stderr: () => err,
  };
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function until(check: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The base URL of each protocol, as the banner prints them. */
function urls(banner: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of banner.matchAll(/^ {2}(openai|anthropic|gemini|ollama) +(http:\/\/\S+)/gm)) found[match[1]!] = match[2]!;
  return found;
}

const SCENARIO = `
openai:
  apiKey: sk-mock-test
  replies:
    - { type: text, text: "first from openai" }
    - { type: text, text: "second from openai" }
anthropic:
  - { type: text, text: "hello from the anthropic scenario" }
gemini:
  loop: true
  replies: [{ type: text, text: "hello from the gemini scenario" }]
ollama:
  replies:
    - { type: text, text: "hello from the ollama scenario" }
`;

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('ballast mock (a real process)', () => {
  it('serves each protocol from the scenario file, logs each request, and stops on SIGTERM', async () => {
    await writeFile(join(dir, 'scenario.yaml'), SCENARIO);
    const mock = run(['mock', '--port', '0', '--scenario', join(dir, 'scenario.yaml')]);
    await until(() => mock.stderr().includes('Ctrl-C stops'), () => mock.stderr());
    expect(mock.stderr()).toContain(`scenario: ${join(dir, 'scenario.yaml')}`);
    const base = urls(mock.stderr());
    expect(Object.keys(base)).toEqual(['openai', 'anthropic', 'gemini', 'ollama']);
    expect(base.openai).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(base.gemini).toMatch(/\/v1beta$/);
    expect(new Set(Object.values(base).map((u) => new URL(u).port)).size).toBe(4);
    // The scenario's key is what the banner tells clients to use.
    expect(mock.stderr()).toContain(`OPENAI_BASE_URL=${base.openai} OPENAI_API_KEY=sk-mock-test`);

    const auth = { authorization: 'Bearer sk-mock-test' };
    const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    const unauthorized = await post(`${base.openai}/chat/completions`, chat);
    expect(unauthorized.status).toBe(401);
    const first = (await (await post(`${base.openai}/chat/completions`, chat, auth)).json()) as { choices: Array<{ message: { content: string } }> };
    expect(first.choices[0]!.message.content).toBe('first from openai');
    const stream = await post(`${base.openai}/chat/completions`, { ...chat, stream: true }, auth);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = await stream.text();
    const deltas = [...sse.matchAll(/^data: (\{.*\})$/gm)].map((m) => (JSON.parse(m[1]!) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '');
    expect(deltas.join('')).toBe('second from openai');
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const anthropic = await post(
      `${base.anthropic}/v1/messages`,
      { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
      { 'anthropic-version': '2023-06-01', 'x-api-key': 'anything' },
    );
    expect(anthropic.status).toBe(200);
    expect(((await anthropic.json()) as { content: Array<{ text: string }> }).content[0]!.text).toBe('hello from the anthropic scenario');

    for (let i = 0; i < 2; i++) {
      // `loop: true`: the one reply answers every call.
      const gemini = await post(`${base.gemini}/models/gemini-2.5-flash:generateContent?key=secret-gemini-key`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
      expect(gemini.status).toBe(200);
      const body = (await gemini.json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> };
      expect(body.candidates[0]!.content.parts[0]!.text).toBe('hello from the gemini scenario');
    }

    const ollama = await post(`${base.ollama}/api/chat`, { model: 'llama3.2', stream: false, messages: [{ role: 'user', content: 'hi' }] });
    expect(((await ollama.json()) as { message: { content: string } }).message.content).toBe('hello from the ollama scenario');

    // One log line per request: protocol, method, path, model; the Gemini key in the query is masked.
    await until(() => mock.stdout().trim().split('\n').length >= 7, () => mock.stdout());
    const log = mock.stdout().trim().split('\n');
    expect(log).toHaveLength(7);
    expect(log[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} openai +POST \/v1\/chat\/completions {2}model=gpt-4o$/);
    expect(log[2]).toMatch(/openai +POST \/v1\/chat\/completions {2}model=gpt-4o stream$/);
    expect(log[3]).toMatch(/anthropic POST \/v1\/messages {2}model=claude-sonnet-4-5$/);
    expect(log[4]).toMatch(/gemini +POST \/v1beta\/models\/gemini-2\.5-flash:generateContent\?key=\*\*\* {2}model=gemini-2\.5-flash$/);
    expect(log[6]).toMatch(/ollama +POST \/api\/chat {2}model=llama3\.2$/);
    expect(mock.stdout()).not.toContain('secret-gemini-key');

    process.kill(mock.child.pid!, 'SIGTERM');
    expect(await mock.exit).toBe(0);
    expect(mock.stderr()).toContain('SIGTERM: stopping the mock servers');
  }, 30_000);

  it('a bad scenario file: one line naming the file and the path, exit 1', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'anthropic:\n  replies:\n    - { type: text, text: ok }\n    - { type: eror, kind: server }\n');
    const mock = run(['mock', '--port', '0', '--scenario', join(dir, 'bad.yaml')]);
    expect(await mock.exit).toBe(1);
    expect(mock.stderr().startsWith(`ballast: ${join(dir, 'bad.yaml')}: `)).toBe(true);
    expect(mock.stderr()).toMatch(/^ballast: \S+bad\.yaml: anthropic\.replies\[1\]\.type: expected one of text, error, .*, got "eror"\n$/);
    expect(mock.stdout()).toBe('');
  }, 30_000);
});

describe('ballast mock (in process)', () => {
  it('the default scenario answers text on four consecutive ports from --port', async () => {
    const io = captured();
    let mocking: Mocking | undefined;
    // A free block of four ports: retry a few random bases in case another process holds one.
    for (let attempt = 0; attempt < 10 && !mocking; attempt++) {
      const base = await freePort();
      if (base > 65_000) continue;
      mocking = await startMock(['--port', String(base)], io).catch((error: Error) => {
        if (/already in use/.test(error.message)) return undefined;
        throw error;
      });
    }
    if (!mocking) throw new Error('no free block of four ports');
    try {
      const [openai, anthropic, gemini, ollama] = mocking.servers;
      expect(mocking.servers.map((s) => s.protocol)).toEqual(['openai', 'anthropic', 'gemini', 'ollama']);
      expect([anthropic!.port, gemini!.port, ollama!.port]).toEqual([openai!.port + 1, openai!.port + 2, openai!.port + 3]);
      expect(io.stderr()).toContain('default scenario');

      const chat = (await (await post(`${openai!.url}/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })).json()) as {
        choices: Array<{ message: { content: string } }>;
      };
      expect(chat.choices[0]!.message.content).toMatch(/Ballast mock OpenAI/);
      const ndjson = await (await post(`${ollama!.url}/api/chat`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })).text();
      const lines = ndjson.trim().split('\n').map((l) => JSON.parse(l) as { message: { content: string }; done: boolean });
      expect(lines.map((l) => l.message.content).join('')).toMatch(/Ballast mock Ollama/);
      expect(lines.at(-1)!.done).toBe(true);
      // Gemini loops by default, so the default scenario never runs out.
      for (let i = 0; i < 2; i++) {
        const res = await post(`${gemini!.url}/models/g:streamGenerateContent?alt=sse`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
        expect(res.status).toBe(200);
        const frames = [...(await res.text()).matchAll(/^data: (.*)$/gm)].map(
          (m) => (JSON.parse(m[1]!) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> }).candidates[0]!.content.parts[0]!.text,
        );
        expect(frames.join('')).toBe('Hello from the Ballast mock Gemini server.');
      }
    } finally {
      await mocking.stop();
    }
    // Stopped: nothing listens any more.
    await expect(fetch(`${mocking.servers[0]!.url}/models`)).rejects.toThrow();
  });

  it('scenario problems are one line with the path, what was expected and what was found', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['missing.yaml', '', /^ballast: missing\.yaml: expected a readable scenario file, got no such file\n$/],
      ['empty.yaml', '', /^ballast: empty\.yaml: \(top level\): expected an object with any of openai, anthropic, gemini, ollama, got an empty document\n$/],
      ['broken.json', '{"openai": [', /^ballast: broken\.json: expected valid JSON, got .+\n$/],
      ['broken.yaml', 'openai: [\n', /^ballast: broken\.yaml: line \d+, column \d+: expected valid YAML, got .+\n$/],
      ['unknown.yaml', 'claude: []\n', /^ballast: unknown\.yaml: claude: expected one of openai, anthropic, gemini, ollama, got an unknown key "claude"\n$/],
      ['none.json', '{"openai": {"replies": []}}', /^ballast: none\.json: openai\.replies: expected at least one reply, got \[\]\n$/],
      ['kind.yaml', 'gemini: [{ type: error, kind: meltdown }]\n', /^ballast: kind\.yaml: gemini\.replies\[0\]\.kind: expected one of rate_limit, .*, got "meltdown"\n$/],
      ['field.yaml', 'openai: [{ type: text, txt: hi }]\n', /^ballast: field\.yaml: openai\.replies\[0\]\.txt: expected one of the fields of a 'text' reply \(.*\), got an unknown field\n$/],
      ['loop.yaml', 'anthropic: { loop: true, replies: [{ type: text }] }\n', /^ballast: loop\.yaml: anthropic\.loop: .*every mock takes whenExhausted: repeat-last \| cycle \| error.*, got an unknown field\n$/],
      ['alias.yaml', 'gemini: { loop: true, whenExhausted: error, replies: [{ type: text }] }\n', /^ballast: alias\.yaml: gemini\.loop: expected to agree with whenExhausted .*, got loop: true with whenExhausted: error\n$/],
      ['delay.yaml', 'openai: [{ type: text, delayMs: soon }]\n', /^ballast: delay\.yaml: openai\.replies\[0\]\.delayMs: expected a number of milliseconds >= 0, got "soon"\n$/],
      ['ollama.yaml', 'ollama: [{ type: text }]\n', /^ballast: ollama\.yaml: ollama\.replies\[0\]\.text: expected a string, got undefined\n$/],
    ];
    for (const [name, text, message] of cases) {
      if (text) await writeFile(join(dir, name), text);
      else if (name === 'empty.yaml') await writeFile(join(dir, name), '');
      const io = captured();
      expect(await main(['mock', '--port', '0', '--scenario', name], io), name).toBe(1);
      expect(io.stderr(), name).toMatch(message);
      expect(io.stdout(), name).toBe('');
    }
  });

  it('scenario files take the shared names: whenExhausted on every mock, truncate-after on every protocol', () => {
    const scenario = {
      openai: { whenExhausted: 'error', replies: [{ type: 'truncate-after', text: 'a' }] },
      anthropic: { whenExhausted: 'cycle', replies: [{ type: 'truncate-after', text: 'a' }] },
      gemini: { whenExhausted: 'repeat-last', replies: [{ type: 'truncate-after', text: 'a' }] },
      ollama: { whenExhausted: 'cycle', replies: [{ type: 'truncate-after', text: 'a' }] },
    };
    expect(parseMockScenarioFile(JSON.parse(JSON.stringify(scenario)))).toEqual(scenario);
    // The old names stay valid, alone or agreeing with whenExhausted.
    for (const old of [
      { anthropic: { cycle: true, replies: [{ type: 'text' }] } },
      { anthropic: { cycle: true, whenExhausted: 'cycle', replies: [{ type: 'text' }] } },
      { anthropic: { cycle: false, whenExhausted: 'error', replies: [{ type: 'text' }] } },
      { gemini: { loop: true, replies: [{ type: 'eof-after', text: 'a' }] } },
      { gemini: { loop: false, whenExhausted: 'repeat-last', replies: [{ type: 'text' }] } },
    ]) {
      expect(parseMockScenarioFile(old)).toEqual(old);
    }
    expect(() => parseMockScenarioFile({ anthropic: { whenExhausted: 'loop', replies: [{ type: 'text' }] } })).toThrow(
      /^anthropic\.whenExhausted: expected one of repeat-last, cycle, error, got "loop"$/,
    );
    expect(() => parseMockScenarioFile({ anthropic: { cycle: false, whenExhausted: 'cycle', replies: [{ type: 'text' }] } })).toThrow(
      /^anthropic\.cycle: expected to agree with whenExhausted .*, got cycle: false with whenExhausted: cycle$/,
    );
    expect(() => parseMockScenarioFile({ gemini: { replies: [{ type: 'truncate-after', text: 'a', extra: 1 }] } })).toThrow(
      /^gemini\.replies\[0\]\.extra: expected one of the fields of a 'truncate-after' reply \(.*\), got an unknown field$/,
    );
    expect(() => parseMockScenarioFile({ ollama: { replies: [{ type: 'text', text: 'a' }], cycle: true } })).toThrow(/^ollama\.cycle: expected no such field, got true$/);
  });

  it('usage errors point to ballast mock --help; --help describes the command and the main help lists it', async () => {
    for (const [args, message] of [
      [['mock', '--port', 'x'], /^ballast: --port expects a port number from 0 to 65532.*got "x" \(see ballast mock --help\)\n$/],
      [['mock', '--bogus'], /^ballast: unknown option --bogus \(see ballast mock --help\)\n$/],
    ] as Array<[string[], RegExp]>) {
      const io = captured();
      expect(await main(args, io)).toBe(2);
      expect(io.stderr()).toMatch(message);
    }
    const help = captured();
    expect(await main(['mock', '--help'], help)).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: ballast mock \[--scenario FILE\] \[--port N\] \[--host H\]/);
    expect(help.stdout()).toContain('whenExhausted');
    const main_ = captured();
    expect(await main(['--help'], main_)).toBe(0);
    expect(main_.stdout()).toMatch(/^ {2}mock {6}start mock OpenAI, Anthropic, Gemini and Ollama servers/m);
    expect(main_.stdout()).not.toContain('`ballast mock`');
  });
});

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

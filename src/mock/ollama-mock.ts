import { scriptedReply, startMockServer, type WhenExhausted, type MockFrame, type MockReply, type MockServer, type RecordedRequest } from './mock-server.js';

/** The failures a scripted `error` reply can stand for, each with Ollama's own status and body. */
export type OllamaMockErrorKind = 'not_found' | 'overloaded' | 'server' | 'context_length' | 'invalid_request' | 'rate_limit';

/** A tool call the mock model makes; `arguments` is an object, as on Ollama's wire. */
export interface OllamaMockToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** Token counts to report; defaults are estimated from the request and the reply. */
export interface OllamaMockUsage {
  /** Sent as `prompt_eval_count`. */
  inputTokens?: number;
  /** Sent as `eval_count`. */
  outputTokens?: number;
}

/** A successful answer (streamed as NDJSON, or one JSON object for `stream: false`). */
export interface OllamaMockTextReply {
  type: 'text';
  text: string;
  /** How the text is streamed (they should concatenate to `text`); by default one chunk per word. */
  chunks?: string[];
  /** `message.thinking`, streamed before the text. */
  thinking?: string;
  toolCalls?: OllamaMockToolCall[];
  /** `done_reason`; default `stop`. */
  doneReason?: string;
  usage?: OllamaMockUsage;
  /** The `model` field; default the requested model. */
  model?: string;
  /** Latency before the response starts. */
  delayMs?: number;
  /** Pause before the first streamed chunk. */
  firstTokenDelayMs?: number;
  /** Pause before each later chunk. */
  chunkDelayMs?: number;
}

/** An HTTP error with Ollama's `{"error": "…"}` body. */
export interface OllamaMockErrorReply {
  type: 'error';
  kind: OllamaMockErrorKind;
  /** Replaces the kind's stock message. */
  message?: string;
  /** Replaces the kind's status (e.g. 502 for an unreachable cloud model). */
  status?: number;
  delayMs?: number;
}

/**
 * `text` streams normally (HTTP 200), then a final `{"error": message}` line, as Ollama writes a
 * runner failure after output began. With `stream: false`, or an empty `text`, it is a 500.
 */
export interface OllamaMockStreamErrorReply {
  type: 'stream-error-after';
  text?: string;
  /** Default `an error was encountered while running the model`. */
  message?: string;
}

/** `text` streams, then the connection is held open with nothing more (until the client leaves). */
export interface OllamaMockStallReply {
  type: 'stall-after';
  text?: string;
}

/** `text` streams, then the connection is destroyed (no `done: true`). */
export interface OllamaMockCutReply {
  type: 'cut-after';
  text?: string;
}

/**
 * `text` streams, then the body ends cleanly with no `done: true` line (a truncating proxy, or a
 * runner that died quietly). With `stream: false`, half a JSON body, ended cleanly.
 */
export interface OllamaMockTruncateReply {
  type: 'truncate-after';
  text?: string;
}

/** Optional `text` streams, then a line that is not JSON, then the connection is held open. */
export interface OllamaMockMalformedReply {
  type: 'malformed-line';
  text?: string;
  /** The bad line; default a truncated chunk object. */
  line?: string;
}

/** One scripted answer to one `POST /api/chat`. Plain JSON data. */
export type OllamaMockReply =
  | OllamaMockTextReply
  | OllamaMockErrorReply
  | OllamaMockStreamErrorReply
  | OllamaMockStallReply
  | OllamaMockCutReply
  | OllamaMockTruncateReply
  | OllamaMockMalformedReply;

/** What a reply function is told about a chat request. */
export interface OllamaMockChatCall {
  /** 0 for the first `/api/chat` request, counting only valid ones. */
  index: number;
  model: string;
  /** False only when the request said `"stream": false` (streaming is Ollama's default). */
  stream: boolean;
  /** The parsed request body. */
  body: Record<string, unknown>;
  request: RecordedRequest;
}

/** Chooses the reply to a chat request in code (tests); JSON scenarios use a list instead. */
export type OllamaMockReplyFunction = (call: OllamaMockChatCall) => OllamaMockReply | Promise<OllamaMockReply>;

/**
 * A mock Ollama's script. `replies` answer `/api/chat` requests in order; when they run out,
 * `whenExhausted` says what follows: `repeat-last` (default), `cycle` from the start, or `error`
 * (a 500, so a test that sends one request too many notices). `models` are listed by
 * `GET /api/tags` (default `['llama3.2:latest']`).
 */
export interface OllamaMockScenarioObject {
  replies: OllamaMockReply[] | OllamaMockReplyFunction;
  models?: string[];
  whenExhausted?: WhenExhausted;
}

/** A scenario: the full object, or just the list (or function) of replies. */
export type OllamaMockScenario = OllamaMockScenarioObject | OllamaMockReply[] | OllamaMockReplyFunction;

/** A running mock Ollama server. */
export interface OllamaMock {
  /**
   * The base URL, with no path: e.g. `http://127.0.0.1:41234`. It is exactly the `baseURL` to give
   * Ballast's `ollama` provider (whose default is `http://127.0.0.1:11434`).
   */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order (including `/api/tags` and invalid ones). */
  readonly requests: RecordedRequest[];
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/** The stock message for a failed run, the one Ollama's docs show. */
export const OLLAMA_RUN_ERROR = 'an error was encountered while running the model';

/** Status and message of each error kind, as a real Ollama (or ollama.com) sends them. */
export function ollamaMockError(kind: OllamaMockErrorKind, model: string): { status: number; message: string } {
  switch (kind) {
    case 'not_found':
      return { status: 404, message: `model "${model}" not found, try pulling it first` };
    case 'overloaded':
      return { status: 503, message: 'server busy, please try again.  maximum pending requests exceeded' };
    case 'server':
      return { status: 500, message: 'llama runner process has terminated: exit status 2' };
    case 'context_length':
      return {
        status: 400,
        message:
          'the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length',
      };
    case 'invalid_request':
      return { status: 400, message: 'invalid message format' };
    case 'rate_limit':
      return { status: 429, message: 'too many requests, please try again later' };
  }
}

/** What {@link ollamaMockReply} needs to know about the request. */
export interface OllamaMockReplyContext {
  model: string;
  stream: boolean;
  /** The default `prompt_eval_count`. */
  promptTokens?: number;
  /** `created_at` of every object; default now. */
  createdAt?: string;
}

const NEWLINE = '\n';
const FOREVER_MS = 2_147_483_647; // the longest setTimeout; the mock server cuts it short on disconnect

/** Splits text into stream chunks, one per word with its trailing space. */
export function splitIntoChunks(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\s)(?=\S)/);
}

function chunkObject(ctx: OllamaMockReplyContext, model: string, message: Record<string, unknown>): Record<string, unknown> {
  return { model, created_at: ctx.createdAt, message: { role: 'assistant', content: '', ...message }, done: false };
}

function metrics(promptTokens: number, evalCount: number): Record<string, number> {
  // Durations are in nanoseconds on Ollama's wire; these are plausible, fixed numbers.
  return {
    total_duration: 1_000_000 * (10 + evalCount),
    load_duration: 1_000_000,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: 100_000 * promptTokens,
    eval_count: evalCount,
    eval_duration: 1_000_000 * evalCount,
  };
}

const line = (value: unknown): string => JSON.stringify(value) + NEWLINE;

function errorReply(status: number, message: string, delayMs?: number): MockReply {
  return { status, json: { error: message }, headers: { 'content-type': 'application/json; charset=utf-8' }, delayMs };
}

function textFrames(ctx: OllamaMockReplyContext, model: string, chunks: string[]): MockFrame[] {
  return chunks.map((text) => ({ write: line(chunkObject(ctx, model, { content: text })) }));
}

const NDJSON = { 'content-type': 'application/x-ndjson' };

/**
 * Translates one scripted reply into what the HTTP mock writes: statuses, bodies, NDJSON lines,
 * delays, stalls and cuts. Pure, so the translation is testable without a server.
 */
export function ollamaMockReply(reply: OllamaMockReply, ctx: OllamaMockReplyContext): MockReply {
  const c: OllamaMockReplyContext = { ...ctx, createdAt: ctx.createdAt ?? new Date().toISOString() };
  const model = (reply.type === 'text' && reply.model) || c.model;
  switch (reply.type) {
    case 'error': {
      const stock = ollamaMockError(reply.kind, c.model);
      return errorReply(reply.status ?? stock.status, reply.message ?? stock.message, reply.delayMs);
    }
    case 'text': {
      const chunks = reply.chunks ?? splitIntoChunks(reply.text);
      const thinking = reply.thinking ? splitIntoChunks(reply.thinking) : [];
      const toolCalls = reply.toolCalls?.map((t) => ({ function: { name: t.name, arguments: t.arguments } }));
      const evalCount = reply.usage?.outputTokens ?? Math.max(1, thinking.length + chunks.length + (toolCalls?.length ?? 0));
      const final = {
        done: true,
        done_reason: reply.doneReason ?? 'stop',
        ...metrics(reply.usage?.inputTokens ?? c.promptTokens ?? 1, evalCount),
      };
      if (!c.stream) {
        const message: Record<string, unknown> = { role: 'assistant', content: reply.text };
        if (reply.thinking) message.thinking = reply.thinking;
        if (toolCalls) message.tool_calls = toolCalls;
        const wait = (reply.delayMs ?? 0) + (reply.firstTokenDelayMs ?? 0) + (reply.chunkDelayMs ?? 0) * Math.max(0, chunks.length - 1);
        return {
          headers: { 'content-type': 'application/json; charset=utf-8' },
          json: { model, created_at: c.createdAt, message, ...final },
          ...(wait > 0 && { delayMs: wait }),
        };
      }
      const frames: MockFrame[] = [
        ...thinking.map((t) => ({ write: line(chunkObject(c, model, { thinking: t })) })),
        ...textFrames(c, model, chunks),
      ];
      if (toolCalls) frames.push({ write: line(chunkObject(c, model, { tool_calls: toolCalls })) });
      frames.push({ write: line({ model, created_at: c.createdAt, message: { role: 'assistant', content: '' }, ...final }) });
      frames.forEach((frame, i) => {
        const pause = i === 0 ? reply.firstTokenDelayMs : reply.chunkDelayMs;
        if (pause && 'write' in frame) frame.delayMs = pause;
      });
      return { headers: NDJSON, frames, ...(reply.delayMs && { delayMs: reply.delayMs }) };
    }
    case 'stream-error-after': {
      const message = reply.message ?? OLLAMA_RUN_ERROR;
      // Ollama sends a proper status when nothing was written yet, and a 200 line otherwise.
      if (!c.stream || !reply.text) return errorReply(500, message);
      return { headers: NDJSON, frames: [...textFrames(c, model, splitIntoChunks(reply.text)), { write: line({ error: message }) }] };
    }
    case 'stall-after':
      // Ollama writes its headers with the first chunk: with nothing to send, nothing is sent.
      if (!c.stream || !reply.text) return { delayMs: FOREVER_MS, json: {} };
      return { headers: NDJSON, frames: [...textFrames(c, model, splitIntoChunks(reply.text)), { stall: true }] };
    case 'cut-after':
      if (!c.stream) return { headers: { 'content-type': 'application/json; charset=utf-8' }, frames: [{ cut: true }] };
      return { headers: NDJSON, frames: [...textFrames(c, model, splitIntoChunks(reply.text ?? '')), { cut: true }] };
    case 'truncate-after': {
      if (!c.stream) {
        const whole = JSON.stringify({ model, created_at: c.createdAt, message: { role: 'assistant', content: reply.text ?? '' }, done: true, done_reason: 'stop' });
        return { headers: { 'content-type': 'application/json; charset=utf-8' }, text: whole.slice(0, Math.floor(whole.length / 2)) };
      }
      return { headers: NDJSON, frames: textFrames(c, model, splitIntoChunks(reply.text ?? '')) };
    }
    case 'malformed-line': {
      const bad = reply.line ?? `{"model":"${model}","created_at":"${c.createdAt}","message":{"role":"assistant","content":`;
      if (!c.stream) return { headers: { 'content-type': 'application/json; charset=utf-8' }, text: bad };
      return {
        headers: NDJSON,
        frames: [...textFrames(c, model, splitIntoChunks(reply.text ?? '')), { write: bad + NEWLINE }, { stall: true }],
      };
    }
  }
}

/** A rough token count for the default `prompt_eval_count`: 4 characters a token. */
function estimatePromptTokens(body: Record<string, unknown>): number {
  let chars = 0;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      if (typeof m === 'object' && m !== null && typeof (m as { content?: unknown }).content === 'string') {
        chars += (m as { content: string }).content.length;
      }
    }
  }
  return Math.max(1, Math.ceil(chars / 4));
}

function toScenarioObject(scenario: OllamaMockScenario): OllamaMockScenarioObject {
  return Array.isArray(scenario) || typeof scenario === 'function' ? { replies: scenario } : scenario;
}

function tagsBody(models: string[]): unknown {
  return {
    models: models.map((name, i) => ({
      name,
      model: name,
      modified_at: '2025-01-01T00:00:00Z',
      size: 2_019_393_189,
      digest: i.toString(16).padStart(64, '0'),
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'llama',
        families: ['llama'],
        parameter_size: '3.2B',
        quantization_level: 'Q4_K_M',
      },
    })),
  };
}

/**
 * Starts a mock Ollama on 127.0.0.1 that speaks `POST /api/chat` (NDJSON by default, JSON for
 * `"stream": false`) as scripted by `scenario`, plus `GET /api/tags` and `GET /`. Requests
 * without a JSON body or a `model` get Ollama's 400s; unknown paths Gin's 404.
 */
export async function startOllamaMock(scenario: OllamaMockScenario, options: { port?: number } = {}): Promise<OllamaMock> {
  const { replies, models = ['llama3.2:latest'], whenExhausted = 'repeat-last' } = toScenarioObject(scenario);
  let chatCount = 0;

  const pick = async (call: OllamaMockChatCall): Promise<OllamaMockReply | undefined> => {
    if (typeof replies === 'function') return replies(call);
    return scriptedReply(replies, call.index, whenExhausted);
  };

  const server: MockServer = await startMockServer(async (request) => {
    const path = request.path.split('?')[0];
    if (request.method === 'GET' && (path === '/' || path === '')) return { text: 'Ollama is running', headers: { 'content-type': 'text/plain; charset=utf-8' } };
    if (request.method === 'GET' && path === '/api/tags') return { json: tagsBody(models) };
    if (request.method !== 'POST' || path !== '/api/chat') return { status: 404, text: '404 page not found', headers: { 'content-type': 'text/plain' } };

    if (request.body.trim() === '') return errorReply(400, 'missing request body');
    const body = request.json;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return errorReply(400, 'invalid request body');
    const json = body as Record<string, unknown>;
    if (typeof json.model !== 'string' || json.model === '') return errorReply(400, 'model is required');

    const call: OllamaMockChatCall = { index: chatCount++, model: json.model, stream: json.stream !== false, body: json, request };
    const reply = await pick(call);
    if (!reply) return errorReply(500, `ollama mock: the scenario has no reply for request #${call.index + 1}`);
    return ollamaMockReply(reply, { model: call.model, stream: call.stream, promptTokens: estimatePromptTokens(json) });
  }, options);

  return { url: server.url, port: server.port, requests: server.requests, close: () => server.close() };
}

// ---- loading scenarios from JSON ------------------------------------------------------------

const ERROR_KINDS: readonly OllamaMockErrorKind[] = ['not_found', 'overloaded', 'server', 'context_length', 'invalid_request', 'rate_limit'];

type Check = (value: unknown, path: string) => void;

function fail(path: string, expected: string, got: unknown): never {
  throw new TypeError(`${path}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional =
  (check: Check): Check =>
  (v, p) => {
    if (v !== undefined) check(v, p);
  };
const string: Check = (v, p) => {
  if (typeof v !== 'string') fail(p, 'a string', v);
};
const ms: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(p, 'a number of milliseconds ≥ 0', v);
};
const count: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'an integer ≥ 0', v);
};
const stringList: Check = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'an array of strings', v);
  v.forEach((s, i) => string(s, `${p}[${i}]`));
};

const FIELDS: Readonly<Record<OllamaMockReply['type'], Readonly<Record<string, Check>>>> = {
  text: {
    text: string,
    chunks: optional(stringList),
    thinking: optional(string),
    toolCalls: optional((v, p) => {
      if (!Array.isArray(v)) fail(p, 'an array of tool calls', v);
      v.forEach((t, i) => {
        if (!isRecord(t)) fail(`${p}[${i}]`, 'an object', t);
        string(t.name, `${p}[${i}].name`);
        if (!isRecord(t.arguments)) fail(`${p}[${i}].arguments`, 'an object', t.arguments);
      });
    }),
    doneReason: optional(string),
    usage: optional((v, p) => {
      if (!isRecord(v)) fail(p, 'an object', v);
      optional(count)(v.inputTokens, `${p}.inputTokens`);
      optional(count)(v.outputTokens, `${p}.outputTokens`);
    }),
    model: optional(string),
    delayMs: optional(ms),
    firstTokenDelayMs: optional(ms),
    chunkDelayMs: optional(ms),
  },
  error: {
    kind: (v, p) => {
      if (!ERROR_KINDS.includes(v as OllamaMockErrorKind)) fail(p, `one of ${ERROR_KINDS.join(', ')}`, v);
    },
    message: optional(string),
    status: optional((v, p) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 400 || v > 599) fail(p, 'an HTTP error status (400-599)', v);
    }),
    delayMs: optional(ms),
  },
  'stream-error-after': { text: optional(string), message: optional(string) },
  'stall-after': { text: optional(string) },
  'cut-after': { text: optional(string) },
  'truncate-after': { text: optional(string) },
  'malformed-line': { text: optional(string), line: optional(string) },
};

function checkReply(value: unknown, path: string): void {
  if (!isRecord(value)) fail(path, 'a reply object', value);
  const fields = FIELDS[value.type as OllamaMockReply['type']];
  if (typeof value.type !== 'string' || !fields) fail(`${path}.type`, `one of ${Object.keys(FIELDS).join(', ')}`, value.type);
  for (const key of Object.keys(value)) {
    if (key !== 'type' && !(key in fields)) fail(`${path}.${key}`, `no such field on a '${value.type}' reply`, value[key]);
  }
  for (const [key, check] of Object.entries(fields)) check(value[key], `${path}.${key}`);
}

/**
 * Checks a scenario loaded from JSON (a list of replies, or `{ replies, models?, whenExhausted? }`)
 * and returns it typed. Throws a `TypeError` naming the path, what was expected and what was found.
 */
export function parseOllamaMockScenario(value: unknown): OllamaMockScenarioObject {
  const object = Array.isArray(value) ? { replies: value } : value;
  if (!isRecord(object)) fail('scenario', 'a list of replies or an object with `replies`', value);
  for (const key of Object.keys(object)) {
    if (!['replies', 'models', 'whenExhausted'].includes(key)) fail(`scenario.${key}`, 'no such field', object[key]);
  }
  if (!Array.isArray(object.replies)) fail('scenario.replies', 'an array of replies', object.replies);
  object.replies.forEach((r, i) => checkReply(r, `scenario.replies[${i}]`));
  optional(stringList)(object.models, 'scenario.models');
  if (object.whenExhausted !== undefined && !['repeat-last', 'cycle', 'error'].includes(object.whenExhausted as string)) {
    fail('scenario.whenExhausted', "'repeat-last', 'cycle' or 'error'", object.whenExhausted);
  }
  return object as unknown as OllamaMockScenarioObject;
}

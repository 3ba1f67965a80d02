/**
 * The upstream of `bench:gateway`: a minimal OpenAI-compatible server on 127.0.0.1 that answers
 * `POST /v1/chat/completions` at once with a fixed reply, so the upstream is not the bottleneck.
 * Non-streaming: one `chat.completion` JSON body. Streaming (`"stream": true`): SSE with a role
 * chunk, TEXT_CHUNKS content chunks, a finish chunk, a usage chunk when
 * `stream_options.include_usage` is set, then `data: [DONE]` — the exact OpenAI wire format.
 *
 * Run as its own process by the bench: `node --import tsx bench/gateway-upstream.ts --port N`;
 * prints `listening <url>` on standard output once it accepts connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const TEXT_CHUNKS = 10;
export const REPLY_TEXT = 'word '.repeat(TEXT_CHUNKS);
const CREATED = 1_700_000_000;

interface ChatBody {
  model?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
}

const usage = { prompt_tokens: 8, completion_tokens: TEXT_CHUNKS, total_tokens: 8 + TEXT_CHUNKS };

function completion(model: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: REPLY_TEXT, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage,
      system_fingerprint: null,
    }),
  );
}

function sse(model: string, includeUsage: boolean): Buffer {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: null };
  const frames: unknown[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }];
  for (let i = 0; i < TEXT_CHUNKS; i++) {
    frames.push({ ...base, choices: [{ index: 0, delta: { content: 'word ' }, logprobs: null, finish_reason: null }] });
  }
  frames.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] });
  if (includeUsage) frames.push({ ...base, choices: [], usage });
  return Buffer.from(`${frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('')}data: [DONE]\n\n`);
}

// The bodies depend only on (model, stream, include_usage): build each once.
const cache = new Map<string, Buffer>();
/** The exact bytes the upstream answers with (bench:router replays them through an in-memory transport). */
export function body(model: string, stream: boolean, includeUsage: boolean): Buffer {
  const key = `${stream ? (includeUsage ? 'su' : 's') : 'j'}:${model}`;
  let cached = cache.get(key);
  if (!cached) {
    cached = stream ? sse(model, includeUsage) : completion(model);
    if (cache.size < 64) cache.set(key, cached);
  }
  return cached;
}

function fail(res: ServerResponse, status: number, message: string) {
  const payload = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

let connections = 0;

function handle(req: IncomingMessage, res: ServerResponse) {
  if (req.method === 'GET' && req.url === '/bench/connections') {
    // How many TCP connections the upstream has accepted: shows whether a gateway reuses them.
    const payload = JSON.stringify({ connections });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    return res.end(payload);
  }
  if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/chat/completions') return fail(res, 404, `no route ${req.method} ${req.url}`);
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    let parsed: ChatBody;
    try {
      parsed = JSON.parse(Buffer.concat(parts).toString('utf8')) as ChatBody;
    } catch {
      return fail(res, 400, 'bad JSON');
    }
    const model = typeof parsed.model === 'string' ? parsed.model : 'unknown';
    if (parsed.stream === true) {
      const payload = body(model, true, parsed.stream_options?.include_usage === true);
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'bench' });
      res.end(payload);
    } else {
      const payload = body(model, false, false);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length, 'x-request-id': 'bench' });
      res.end(payload);
    }
  });
}

/** Starts the upstream on 127.0.0.1 and resolves with its base URL (…/v1). */
export function startUpstream(port: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handle);
  server.on('connection', () => connections++);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({
        url: `http://127.0.0.1:${actual}/v1`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  const i = process.argv.indexOf('--port');
  const port = i >= 0 ? Number(process.argv[i + 1]) : 0;
  const upstream = await startUpstream(port);
  process.stdout.write(`listening ${upstream.url}\n`);
  const stop = () => void upstream.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

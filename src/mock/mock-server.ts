import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as a mock server received it. */
export interface RecordedRequest {
  method: string;
  /** Path with query string, e.g. `/v1beta/models/x:streamGenerateContent?alt=sse`. */
  path: string;
  headers: Record<string, string>;
  /** The raw body text. */
  body: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: unknown;
  /** True once the client went away before the response was complete (an abort reached the server). */
  readonly disconnected: boolean;
  /** Resolves when the client disconnects early; never resolves otherwise. */
  readonly disconnect: Promise<void>;
}

/** One step of a streamed reply. */
export type MockFrame =
  /** Raw text written as is (an SSE frame, an NDJSON line, or garbage), optionally after a pause. */
  | { write: string; delayMs?: number }
  /** Stop writing and hold the connection open until the client leaves. */
  | { stall: true }
  /** Destroy the connection abruptly (no terminal event, no clean end). */
  | { cut: true };

/** What a mock answers with. */
export interface MockReply {
  status?: number;
  headers?: Record<string, string>;
  /** Pause before the status line is sent (latency). */
  delayMs?: number;
  /** A JSON body, or a raw text body, or a stream of frames. */
  json?: unknown;
  text?: string;
  frames?: MockFrame[];
}

/** Decides the reply to each request. */
export type MockHandler = (request: RecordedRequest) => MockReply | Promise<MockReply>;

/** A running mock server. */
export interface MockServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (a free port unless given) that answers with `handler`. */
export async function startMockServer(handler: MockHandler, options: { port?: number } = {}): Promise<MockServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let disconnected = false;
    let onDisconnect!: () => void;
    const disconnect = new Promise<void>((resolve) => (onDisconnect = resolve));
    res.on('close', () => {
      if (!res.writableFinished) {
        disconnected = true;
        onDisconnect();
      }
    });
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: flattenHeaders(req.headers),
      body,
      json: parseJson(body),
      get disconnected() {
        return disconnected;
      },
      disconnect,
    };
    requests.push(recorded);

    const reply = await handler(recorded);
    if (reply.delayMs) await pause(reply.delayMs, disconnect);
    if (disconnected) return;

    const headers: Record<string, string> = { ...reply.headers };
    if (reply.frames) {
      headers['content-type'] ??= 'text/event-stream';
      res.writeHead(reply.status ?? 200, headers);
      res.flushHeaders();
      for (const frame of reply.frames) {
        if (disconnected) return;
        if ('cut' in frame) {
          // Node corks chunked writes until the next tick: let frames written just before reach the wire.
          await new Promise<void>((resolve) => res.write('', () => resolve()));
          await new Promise<void>((resolve) => setImmediate(resolve));
          res.socket?.destroy();
          return;
        }
        if ('stall' in frame) {
          await disconnect;
          return;
        }
        if (frame.delayMs) await pause(frame.delayMs, disconnect);
        if (disconnected) return;
        res.write(frame.write);
      }
      res.end();
      return;
    }
    const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
    if (reply.json !== undefined) headers['content-type'] ??= 'application/json';
    res.writeHead(reply.status ?? 200, headers);
    res.end(text);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Waits `ms` of real time, or less if the client leaves first. */
function pause(ms: number, disconnect: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const handle = setTimeout(resolve, ms);
    void disconnect.then(() => {
      clearTimeout(handle);
      resolve();
    });
  });
}

/** What a mock answers once its scripted replies run out: the last again, from the start, or an error. */
export type WhenExhausted = 'repeat-last' | 'cycle' | 'error';

/** The scripted reply for the `index`-th request (0-based); `undefined` when there is none to give. */
export function scriptedReply<R>(replies: readonly R[], index: number, whenExhausted: WhenExhausted): R | undefined {
  if (replies.length === 0) return undefined;
  if (index < replies.length) return replies[index];
  if (whenExhausted === 'cycle') return replies[index % replies.length];
  if (whenExhausted === 'error') return undefined;
  return replies[replies.length - 1];
}

/**
 * `whenExhausted`, or a mock's deprecated boolean alias of `whenExhausted: 'cycle'` (`cycle`,
 * `loop`); a TypeError naming both when the two disagree.
 */
export function resolveWhenExhausted(
  mock: string,
  alias: { name: string; value: boolean | undefined },
  whenExhausted: WhenExhausted | undefined,
  fallback: WhenExhausted,
): WhenExhausted {
  if (alias.value === undefined) return whenExhausted ?? fallback;
  if (whenExhausted !== undefined && alias.value !== (whenExhausted === 'cycle')) {
    throw new TypeError(
      `${mock} mock: ${alias.name}: ${String(alias.value)} and whenExhausted: '${whenExhausted}' disagree (${alias.name} is a deprecated alias of whenExhausted: 'cycle'; give whenExhausted alone)`,
    );
  }
  return alias.value ? 'cycle' : (whenExhausted ?? fallback);
}

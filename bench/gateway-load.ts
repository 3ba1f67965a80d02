/**
 * The load generator of `bench:gateway`: a bounded closed loop over `node:http` with a keep-alive
 * Agent — `connections` workers, each sending its next request as soon as the previous answer has
 * been read to the end, until `requests` have been sent. Every answer is checked (status 200 and a
 * complete body: the `chat.completion` JSON, or an SSE stream ending with `data: [DONE]`).
 */
import { Agent, request } from 'node:http';

export interface LoadTarget {
  name: string;
  /** Full URL of the chat completions endpoint. */
  url: string;
  /** Extra request headers (Portkey's routing headers). */
  headers: Record<string, string>;
  /** The `model` to ask for. */
  model: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** First error seen, for the report. */
  firstError?: string;
  wallMs: number;
  /** Latency of every successful request, ms, request start to last body byte. */
  latencies: number[];
}

const DONE = Buffer.from('data: [DONE]\n\n');

function endsWith(parts: Buffer[], tail: Buffer): boolean {
  // The tail may straddle the last two parts.
  const last = parts.length ? parts[parts.length - 1]! : Buffer.alloc(0);
  const joined = last.length >= tail.length || parts.length < 2 ? last : Buffer.concat([parts[parts.length - 2]!, last]);
  return joined.length >= tail.length && joined.subarray(joined.length - tail.length).equals(tail);
}

/** One request: resolves with its latency in ms, or rejects with a one-line reason. */
function once(agent: Agent, target: LoadTarget, body: Buffer, stream: boolean): Promise<number> {
  const url = new URL(target.url);
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...target.headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', (error) => reject(new Error(`response error: ${error.message}`)));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          if (res.statusCode !== 200) {
            return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(parts).toString('utf8').slice(0, 200)}`));
          }
          if (stream) {
            if (!endsWith(parts, DONE)) return reject(new Error(`stream did not end with [DONE]: …${Buffer.concat(parts).toString('utf8').slice(-200)}`));
          } else {
            const text = Buffer.concat(parts).toString('utf8');
            if (!text.includes('"chat.completion"')) return reject(new Error(`not a chat.completion: ${text.slice(0, 200)}`));
          }
          resolve(ms);
        });
      },
    );
    req.on('error', (error) => reject(new Error(`request error: ${error.message}`)));
    req.end(body);
  });
}

export function requestBody(model: string, stream: boolean): Buffer {
  return Buffer.from(
    JSON.stringify({
      model,
      messages: [{ role: 'user', content: 'Say hello in ten words.' }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  );
}

/** Sends `requests` requests over `connections` keep-alive connections; bounded by the count and by `deadlineMs`. */
export async function runLoad(target: LoadTarget, options: { requests: number; connections: number; stream: boolean; deadlineMs: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const body = requestBody(target.model, options.stream);
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const deadline = Date.now() + options.deadlineMs;
  const worker = async () => {
    while (sent < options.requests && Date.now() < deadline) {
      sent++;
      try {
        latencies.push(await once(agent, target, body, options.stream));
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  agent.destroy();
  return { requests: sent, errors, wallMs, latencies, ...(firstError ? { firstError } : {}) };
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transport, TransportResponse } from '../providers/transport.js';

/** Options of {@link nodeTransport}. */
export interface NodeTransportOptions {
  /** Sockets kept per upstream host. Default 256. */
  maxSockets?: number;
  /** Idle sockets kept open per host for reuse. Default 64. */
  maxFreeSockets?: number;
}

/** A pooled {@link Transport} and what releases its sockets. */
export interface NodeTransport {
  transport: Transport;
  /** Closes every pooled socket. */
  close(): void;
}

/**
 * A {@link Transport} on `node:http` / `node:https` with keep-alive connection pools: the gateway's
 * path to upstreams. It spends far less per request than the global `fetch`, which matters
 * when the gateway's own overhead is the thing measured. Aborting the signal destroys the request
 * (before headers) or the response stream (after), so an upstream sees a client's disconnect.
 */
export function nodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: options.maxFreeSockets ?? 64, scheduling: 'lifo' as const };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  const transport: Transport = (request) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const { signal } = request;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const url = new URL(request.url);
      const secure = url.protocol === 'https:';
      const headers: Record<string, string | number> = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method: request.method, headers, agent: secure ? https : http },
        (res) => {
          signal.removeEventListener('abort', onAbortBeforeHeaders);
          resolve(toResponse(res, signal));
        },
      );
      const onAbortBeforeHeaders = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbortBeforeHeaders, { once: true });
      req.on('error', (error) => {
        signal.removeEventListener('abort', onAbortBeforeHeaders);
        reject(signal.aborted ? signal.reason : error);
      });
      req.end(request.body);
    });

  return {
    transport,
    close() {
      http.destroy();
      https.destroy();
    },
  };
}

function toResponse(res: IncomingMessage, signal: AbortSignal): TransportResponse {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const onAbort = () => res.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  res.once('close', () => signal.removeEventListener('abort', onAbort));
  let used = false;
  const claim = () => {
    if (used) throw new TypeError('the response body was already read');
    used = true;
  };
  return {
    status: res.statusCode ?? 0,
    headers,
    body: {
      async *[Symbol.asyncIterator]() {
        claim();
        let failed = false;
        try {
          // Not destroyed on `break`: a reader that stops at the protocol's terminal event ([DONE],
          // message_stop) leaves only the chunked terminator unread, and the socket is worth keeping.
          for await (const chunk of res.iterator({ destroyOnReturn: false })) yield chunk as Uint8Array;
          // A body that ends before its declared length (or chunked terminator) is a cut, not an end.
          if (!res.complete) throw new Error('terminated: the upstream closed the connection mid-body');
        } catch (error) {
          failed = true;
          throw signal.aborted ? signal.reason : error;
        } finally {
          if (!res.complete) release(res, failed || signal.aborted);
        }
      },
    },
    async text() {
      claim();
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of res) chunks.push(chunk as Buffer);
      } catch (error) {
        throw signal.aborted ? signal.reason : error;
      }
      if (!res.complete) throw new Error('terminated: the upstream closed the connection mid-body');
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** How long a reader that stopped early lets the rest of a body arrive before the socket is dropped. */
const DRAIN_MS = 1000;

/**
 * Frees a response the reader stopped reading: after an abort or an error the socket is destroyed;
 * otherwise the rest is drained so the keep-alive connection returns to the pool, unless the
 * upstream does not finish within {@link DRAIN_MS}.
 */
function release(res: IncomingMessage, destroy: boolean): void {
  if (destroy) {
    res.destroy();
    return;
  }
  const timer = setTimeout(() => res.destroy(), DRAIN_MS);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
  res.resume();
}

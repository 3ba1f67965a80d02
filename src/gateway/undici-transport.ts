import { Agent, type Dispatcher } from 'undici';
import type { ResponseHeaders, Transport, TransportResponse } from '../providers/transport.js';

const CLOSE_GRACE_MS = 2000;

/** The safety-net timers when nothing sets others: no response headers for 10 minutes (the official SDKs' own default), a body silent for 5 (the router's default stream idle timeout). */
export const DEFAULT_UPSTREAM_TIMEOUTS = { headersMs: 10 * 60_000, bodyMs: 5 * 60_000 } as const;

/** Options of {@link undiciTransport}. */
export interface UndiciTransportOptions {
  /** Connections kept per upstream origin. Default 256. */
  connections?: number;
  /** How long an idle upstream connection stays open, ms. Default 60 000. */
  keepAliveMs?: number;
  /** How long the unread rest of a body may take to drain before its connection is dropped, ms. Default 1000. */
  drainMs?: number;
  /**
   * The safety net under the router's timeouts, for routes that set none: the longest wait for an
   * upstream's response headers, ms. Default {@link DEFAULT_UPSTREAM_TIMEOUTS} (10 minutes).
   */
  headersTimeoutMs?: number;
  /** The longest silence inside a response body, ms. Default {@link DEFAULT_UPSTREAM_TIMEOUTS} (5 minutes). */
  bodyTimeoutMs?: number;
}

/** A pooled {@link Transport} and what releases its connections. */
export interface PooledTransport {
  transport: Transport;
  /** Changes the safety-net timers for requests from now on (the gateway follows its routes' timeouts). */
  setTimeouts(limits: { headersMs: number; bodyMs: number }): void;
  /** Closes every pooled connection. */
  close(): Promise<void>;
}

/**
 * A {@link Transport} on undici's pooled `request` (one keep-alive pool per upstream origin): the
 * gateway's path to upstreams. Per request it spends far less than `fetch` or `node:http`, which
 * matters when the gateway's own overhead is the thing measured. Aborting the signal cancels the
 * request (before headers) or the body (after), so an upstream sees a client's disconnect.
 */
export function undiciTransport(options: UndiciTransportOptions = {}): PooledTransport {
  const keepAliveMs = options.keepAliveMs ?? 60_000;
  const drainMs = options.drainMs ?? DRAIN_MS;
  const agent = new Agent({
    connections: options.connections ?? 256,
    keepAliveTimeout: keepAliveMs,
    keepAliveMaxTimeout: keepAliveMs,
  });

  // Upstreams choose their own pace (a first token can take minutes) and deadlines are the
  // router's; these only make sure that nothing waits for ever on a dead upstream. Per request,
  // so that `setTimeouts` applies to what follows.
  let limits = {
    headersMs: options.headersTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUTS.headersMs,
    bodyMs: options.bodyTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUTS.bodyMs,
  };

  const transport: Transport = async (request) => {
    const { signal } = request;
    signal.throwIfAborted();
    const url = new URL(request.url);
    let data: Dispatcher.ResponseData;
    try {
      data = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: limits.headersMs,
        bodyTimeout: limits.bodyMs,
      });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
    return toResponse(data, signal, drainMs);
  };

  return {
    transport,
    setTimeouts(next) {
      limits = { ...next };
    },
    // Requests still running after a grace period (an upstream that never finishes a body) are cut.
    close: async () => {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([agent.close(), grace]);
      clearTimeout(timer);
      await agent.destroy();
    },
  };
}

/** Undici's headers (lower-cased names; repeated ones as arrays) behind the `get` / `has` adapters use. */
function responseHeaders(raw: Record<string, string | string[] | undefined>): ResponseHeaders {
  return {
    get(name) {
      const value = lookup(raw, name);
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    has: (name) => lookup(raw, name) !== undefined,
  };
}

const UPPER = /[A-Z]/;

// Adapters ask for lower-case names, mostly absent ones (rate-limit headers): lower-case only when needed.
function lookup(raw: Record<string, string | string[] | undefined>, name: string): string | string[] | undefined {
  const value = raw[name];
  return value !== undefined || !UPPER.test(name) ? value : raw[name.toLowerCase()];
}

/** How much of a body a reader that stopped early may leave unread, and for how long, before the connection is dropped. */
const DRAIN_LIMIT = 64 * 1024;
const DRAIN_MS = 1000;

/**
 * Reads and discards the rest of a body so its keep-alive connection returns to the pool; past
 * {@link DRAIN_LIMIT} more bytes or `ms`, the body is destroyed (and the connection with it).
 */
function drain(body: Dispatcher.ResponseData['body'], ms: number): void {
  let left = DRAIN_LIMIT;
  const timer = setTimeout(() => body.destroy(), ms);
  timer.unref();
  body.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) body.destroy();
  });
  body.on('error', () => {});
  body.once('close', () => clearTimeout(timer));
  body.resume();
}

function toResponse(data: Dispatcher.ResponseData, signal: AbortSignal, drainMs: number): TransportResponse {
  const { body } = data;
  let used = false;
  const claim = () => {
    if (used) throw new TypeError('the response body was already read');
    used = true;
  };
  return {
    status: data.statusCode,
    headers: responseHeaders(data.headers),
    body: {
      async *[Symbol.asyncIterator]() {
        claim();
        let complete = false;
        try {
          // Not destroyed on `break` (that would abort the request and close the connection).
          for await (const chunk of body.iterator({ destroyOnReturn: false })) yield chunk as Uint8Array;
          complete = true;
        } catch (error) {
          throw signal.aborted ? signal.reason : error;
        } finally {
          // A reader that stops at the protocol's terminal event ([DONE], message_stop) leaves only
          // the chunked terminator unread: drain it so the connection returns to the pool.
          if (!complete && !body.destroyed) {
            if (signal.aborted) body.destroy();
            else drain(body, drainMs);
          }
        }
      },
    },
  };
}

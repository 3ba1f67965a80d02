import type { ServerResponse } from 'node:http';
import type { Clock } from '../policy/clock.js';
import { errorBody, type ApiError } from './http-errors.js';

/** Sends a JSON body with its length. Headers set earlier with `setHeader` are kept. */
export function sendJson(res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Sends an OpenAI-shaped error answer. */
export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, errorBody(error), error.headers);
}

/** Sets the `x-ballast-*` headers that say who answered and what it took. */
export function setRoutingHeaders(res: ServerResponse, target: string | undefined, attempts: number, fallbacks: number): void {
  if (res.headersSent) return;
  res.setHeader('x-ballast-target', target ?? 'none');
  res.setHeader('x-ballast-attempts', String(attempts));
  res.setHeader('x-ballast-fallbacks', String(fallbacks));
}

/** How a wait for a client to read is bounded: see {@link drained}. */
export interface DrainLimits {
  clock: Clock;
  /** The longest time the client may read nothing, ms. */
  idleMs: number;
  /** When the wait ends whatever the client does (clock time). */
  deadline: number;
  /** Ends the wait at once (the call is being stopped). */
  signal: AbortSignal;
}

/** How often a wait checks whether the client has read anything, ms at most. */
const PROGRESS_CHECK_MS = 1000;

/**
 * Resolves `true` once the response can take more data, the connection closed or `signal`
 * aborted; `false` when the client has read nothing for `idleMs`, or at `deadline`: a client that
 * stopped reading. A client that reads, however slowly, is not cut for it.
 */
export function drained(res: ServerResponse, limits: DrainLimits): Promise<boolean> {
  // Already writable (the drain may have fired before anyone listened) or gone: nothing to wait for.
  if (!res.writableNeedDrain || res.destroyed || limits.signal.aborted) return Promise.resolve(true);
  const { clock, idleMs, deadline, signal } = limits;
  // What is still queued to the client; it shrinks as the client reads. A write in progress counts
  // whole in `writableLength` until the kernel took all of it, so the bytes libuv still holds
  // (`writeQueueSize` of the socket's handle) are what show a slow reader's progress.
  const queued = () => res.writableLength + ((res.socket as { _handle?: { writeQueueSize?: number } } | null)?._handle?.writeQueueSize ?? 0);
  return new Promise((resolve) => {
    let lastQueued = queued();
    let lastProgress = clock.now();
    let cancel = () => {};
    const settle = (ok: boolean) => {
      cancel();
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve(ok);
    };
    const done = () => settle(true);
    const check = () => {
      const now = clock.now();
      // Progress since the last check (the queue may also have grown: frames flushed after the wait began).
      const left = queued();
      if (left < lastQueued) lastProgress = now;
      lastQueued = left;
      const until = Math.min(lastProgress + idleMs, deadline);
      if (now >= until) return settle(false);
      cancel = clock.setTimer(Math.min(PROGRESS_CHECK_MS, until - now), check);
    };
    res.on('drain', done);
    res.on('close', done);
    signal.addEventListener('abort', done, { once: true });
    check();
  });
}

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

/**
 * Resolves `true` once the response can take more data or the connection closed, or `false` when
 * the client has read nothing for `limitMs` (on `clock`): a client that stopped reading.
 */
export function drained(res: ServerResponse, clock: Clock, limitMs: number): Promise<boolean> {
  // Already writable (the drain may have fired before anyone listened) or gone: nothing to wait for.
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (ok: boolean) => {
      cancel();
      res.off('drain', done);
      res.off('close', done);
      resolve(ok);
    };
    const done = () => settle(true);
    const cancel = clock.setTimer(Math.max(0, limitMs), () => settle(false));
    res.on('drain', done);
    res.on('close', done);
  });
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMs } from '../policy/duration.js';
import type { ServerConfig } from './config-schema.js';
import { sendError } from './respond.js';

/** Applies the configured CORS policy; answers preflights. */
export interface CorsPolicy {
  /** Sets the headers for this request's origin; true when it was a preflight and has been answered. */
  apply(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Allowed when a preflight's own list is absent or unusable: what the openai SDK sends from browsers. */
const ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-request-id',
  'openai-beta',
  'openai-organization',
  'openai-project',
  'x-stainless-arch',
  'x-stainless-custom-poll-interval',
  'x-stainless-helper-method',
  'x-stainless-lang',
  'x-stainless-os',
  'x-stainless-package-version',
  'x-stainless-poll-helper',
  'x-stainless-retry-count',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-timeout',
].join(', ');
const EXPOSE_HEADERS = 'x-request-id, x-ballast-target, x-ballast-attempts, x-ballast-fallbacks, x-ballast-demo, retry-after, retry-after-ms';
/** The longest `access-control-request-headers` answered back. */
const MAX_REQUEST_HEADERS = 2048;
/** An HTTP header name (an RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * The headers a preflight asked for (`access-control-request-headers`), lower-cased, when it is a
 * short comma-separated list of header names; otherwise `undefined`.
 */
function requestedHeaders(value: string | undefined): string | undefined {
  if (value === undefined || value.length > MAX_REQUEST_HEADERS) return undefined;
  const names = value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return names.length > 0 && names.every((name) => TOKEN.test(name)) ? names.join(', ') : undefined;
}

/** Builds the CORS policy of `server.cors` (`undefined` when CORS is off). */
export function corsPolicy(config: ServerConfig['cors']): CorsPolicy | undefined {
  if (config === false) return undefined;
  const origins = config === true ? '*' : config.origins;
  const maxAge = config === true || config.maxAge === undefined ? 600 : Math.round(toMs(config.maxAge) / 1000);
  return {
    apply(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined) return false;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (origins === '*') res.setHeader('access-control-allow-origin', '*');
      else if (origins.includes(origin)) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'origin');
      } else {
        if (!preflight) return false;
        // Refused plainly (the browser blocks the call either way; this says why to anyone looking).
        res.setHeader('vary', 'origin');
        sendError(res, {
          status: 403,
          message: `The origin ${JSON.stringify(origin)} is not in server.cors.origins.`,
          type: 'invalid_request_error',
          param: null,
          code: 'cors_origin_not_allowed',
        });
        return true;
      }
      res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
      if (!preflight) return false;
      // Browsers' SDKs add headers no fixed list keeps up with (`x-stainless-*`): an allowed origin gets its own list back.
      const vary = origins === '*' ? 'access-control-request-headers' : 'origin, access-control-request-headers';
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': requestedHeaders(req.headers['access-control-request-headers']) ?? ALLOW_HEADERS,
        vary,
        'access-control-max-age': String(maxAge),
        'content-length': '0',
      });
      res.end();
      return true;
    },
  };
}

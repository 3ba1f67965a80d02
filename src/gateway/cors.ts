import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMs } from '../policy/duration.js';
import type { ServerConfig } from './config-schema.js';

/** Applies the configured CORS policy; answers preflights. */
export interface CorsPolicy {
  /** Sets the headers for this request's origin; true when it was a preflight and has been answered. */
  apply(req: IncomingMessage, res: ServerResponse): boolean;
}

const ALLOW_HEADERS = 'authorization, content-type, x-request-id, openai-organization, openai-project, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout';
const EXPOSE_HEADERS = 'x-request-id, x-ballast-target, x-ballast-attempts, x-ballast-fallbacks, x-ballast-demo, retry-after, retry-after-ms';

/** Builds the CORS policy of `server.cors` (`undefined` when CORS is off). */
export function corsPolicy(config: ServerConfig['cors']): CorsPolicy | undefined {
  if (config === false) return undefined;
  const origins = config === true ? '*' : config.origins;
  const maxAge = config === true || config.maxAge === undefined ? 600 : Math.round(toMs(config.maxAge) / 1000);
  return {
    apply(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined) return false;
      if (origins === '*') res.setHeader('access-control-allow-origin', '*');
      else if (origins.includes(origin)) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'origin');
      } else return false;
      res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
      if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': String(maxAge),
        'content-length': '0',
      });
      res.end();
      return true;
    },
  };
}

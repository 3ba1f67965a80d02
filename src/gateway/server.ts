import { createMetricsHandler } from './prometheus.js';
import { createDashboardHandler } from './dashboard-api.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { realClock, type Clock } from '../policy/clock.js';
import { toMs } from '../policy/duration.js';
import { createEmitter, type Dispose } from '../policy/events.js';
import type { StateStore } from '../policy/state-store.js';
import type { Transport } from '../providers/transport.js';
import type { RouterEvent } from '../router/router-events.js';
import type { Router } from '../router/router.js';
import { tokenCheck, type TokenCheck } from './auth.js';
import type { BuiltProvider } from './build-provider.js';
import { handleChatCompletions, type ChatOutcome } from './chat-completions.js';
import { checkConfig } from './config-load.js';
import type { ConfigProblem } from './config-problems.js';
import { parseSize, type GatewayConfig, type StoreConfig } from './config-schema.js';
import { corsPolicy, type CorsPolicy } from './cors.js';
import { GatewayShutdownError } from './shutdown.js';
import { createLogger, type Logger } from './logger.js';
import { modelList, modelObject } from './models.js';
import { undiciTransport } from './undici-transport.js';
import { upstreamTimeouts } from './upstream-timeouts.js';
import { readBody } from './read-body.js';
import { sendError, sendJson } from './respond.js';
import { errorBody } from './http-errors.js';
import { buildRouteTable, RouteTableError, type GatewayRoute, type RouteTable } from './route-table.js';
import { logRouterEvent } from './router-log.js';
import { statusReport } from './status.js';
import { createConfiguredStore, describeStoreConfig, storeKeyPrefix, storeSecrets, storeStatus } from './store.js';

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** A validated config (see `loadConfigFile`, `validateConfig`). */
  config: GatewayConfig;
  /** Demo mode: every answer carries `x-ballast-demo: simulated`. */
  demo?: boolean;
  /** Default: JSON lines on standard output at `info`. */
  logger?: Logger;
  /** The routers' and simulated providers' clock. Default the real clock. */
  clock?: Clock;
  /** The HTTP seam of network providers. Default a pooled undici client ({@link undiciTransport}). */
  transport?: Transport;
  /**
   * Where breaker states and cooldowns live, kept across reloads. Default the one the config's
   * `store` section names (memory, or Redis shared by replicas), made, awaited by `listen` and
   * closed by `close` by the gateway. A store passed here is the caller's to close.
   */
  store?: StateStore;
}

/** What a handler registered with {@link Gateway.handle} receives besides `req` and `res`. */
export interface HandlerContext {
  requestId: string;
  /** The path without the query string. */
  path: string;
  /** The query string without `?` (empty when none). */
  query: string;
  gateway: Gateway;
}

/** An extra endpoint (dashboard, `/metrics`, …). It must answer `res`. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, context: HandlerContext) => void | Promise<void>;

/**
 * A handler that may pass: it answers `res` and returns true, or returns false without touching
 * it (e.g. a dashboard serving `/` and `/dashboard/data`). See {@link Gateway.use}.
 */
export type FallthroughHandler = (req: IncomingMessage, res: ServerResponse, context: HandlerContext) => boolean | Promise<boolean>;

/** Options of {@link Gateway.handle} and {@link Gateway.use}. */
export interface HandleOptions {
  /** Require the bearer token when tokens are configured. Default true. */
  auth?: boolean;
}

/** Something that happened in the gateway, for metrics and the dashboard. */
export type GatewayEvent =
  /** A decision of a route's router (retry, fallback, breaker, …). */
  | { type: 'router'; route: string; event: RouterEvent }
  /** A request was answered (or its client left). */
  | ({ type: 'request'; requestId: string; method: string; path: string; durationMs: number } & Partial<ChatOutcome> & { status: number })
  /** A new config is in force; `routes()` now returns its routes. */
  | { type: 'reload'; routes: readonly string[] }
  /** The gateway stopped. */
  | { type: 'close' };

/** The outcome of {@link Gateway.reload}. */
export type ReloadResult = { ok: true; config: GatewayConfig } | { ok: false; problems: ConfigProblem[] };

/** Where the gateway listens. */
export interface ListenAddress {
  host: string;
  port: number;
  /** `http://host:port`. */
  url: string;
}

/** An OpenAI-compatible gateway in front of the routers of one config. */
export interface Gateway {
  readonly server: Server;
  readonly demo: boolean;
  /** The config in force (its `store` section is the running store's: store changes take effect on restart). */
  readonly config: GatewayConfig;
  /** Where breaker states and cooldowns live (the same store for the gateway's whole life). */
  readonly store: StateStore;
  /** Chat completions being answered now (not the dashboard, metrics or status requests). */
  readonly inFlight: number;
  /** The routes in force (their routers change on reload: listen to `reload` events). */
  routes(): readonly GatewayRoute[];
  route(name: string): GatewayRoute | undefined;
  /** The providers in force, by config name (simulated ones expose their fault `control`). */
  providers(): ReadonlyMap<string, BuiltProvider>;
  /** The `/status` document (an extended `/status` registered with `handle` can build on it). */
  status(): Record<string, unknown>;
  /** Adds an endpoint, e.g. `handle('GET', '/metrics', …)`; registered ones win over built-ins. */
  handle(method: string, path: string, handler: RequestHandler, options?: HandleOptions): Dispose;
  /**
   * Adds a handler asked, in order, about every request no exact endpoint matched (registered
   * or built-in) before the gateway answers 404. With `auth` (default true) a request without a
   * valid token, when tokens are configured, gets 401 instead of reaching it.
   */
  use(handler: FallthroughHandler, options?: HandleOptions): Dispose;
  /** The router of each route in force, by route name (the same map until the next reload). */
  routers(): ReadonlyMap<string, Router>;
  /** Every gateway event (router decisions of every route, requests, reloads). */
  on(listener: (event: GatewayEvent) => void): Dispose;
  /**
   * Starts listening on `server.host` / `server.port` of the config (port 0: any free port), once
   * the store the gateway made has loaded the shared state or failed to connect (it then runs locally).
   */
  listen(): Promise<ListenAddress>;
  /**
   * Swaps in a new config (without `${ENV}` references: pass a loader's output). In-flight requests
   * finish on the old routers, which are closed after them. An invalid config is rejected with its
   * problems and the old one stays. `server.timeouts` apply to the running server; host and port
   * changes need a restart.
   */
  reload(config: unknown): ReloadResult;
  /** Stops accepting, lets requests finish for `server.shutdownGrace`, then aborts the rest. */
  close(): Promise<void>;
}

/** A route table and the requests still using it. */
interface Live {
  table: RouteTable;
  refs: number;
  retired: boolean;
  dispose: Dispose[];
}

interface Extra {
  handler: RequestHandler;
  auth: boolean;
}

interface Fallthrough {
  handler: FallthroughHandler;
  auth: boolean;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Creates a gateway (not yet listening). Throws a `RouteTableError` when a provider refuses its config. */
export function createGateway(options: GatewayOptions): Gateway {
  const clock = options.clock ?? realClock;
  const logger = options.logger ?? createLogger();
  // The store section in force until restart: a reload never swaps the store (it holds breaker states and cooldowns).
  const storeConfig: StoreConfig = options.config.store;
  const owned = options.store ? undefined : createConfiguredStore(storeConfig, { clock, logger });
  const store = options.store ?? owned!.store;
  const keyPrefix = storeKeyPrefix(storeConfig);
  const demo = options.demo ?? false;
  const events = createEmitter<GatewayEvent>();
  const pool = options.transport ? undefined : undiciTransport();
  pool?.setTimeouts(upstreamTimeouts(options.config));
  const transport = options.transport ?? pool!.transport;
  const extras = new Map<string, Extra>();
  let fallthroughs: Fallthrough[] = [];
  const routerMaps = new WeakMap<RouteTable, ReadonlyMap<string, Router>>();
  const inflight = new Map<ServerResponse, AbortController | undefined>();
  let idleWaiters: Array<() => void> = [];
  const startedAt = Date.now();
  const createdSeconds = Math.floor(startedAt / 1000);

  let config = options.config;
  let auth: TokenCheck;
  let bodyLimit: number;
  let cors: CorsPolicy | undefined;
  let live: Live;
  let draining = false;
  let closing: Promise<void> | undefined;

  const applyServerSettings = (next: GatewayConfig) => {
    auth = tokenCheck(next.server.tokens);
    bodyLimit = parseSize(next.server.bodyLimit) ?? 1024 * 1024;
    cors = corsPolicy(next.server.cors);
    logger.setSecrets(secretsOf(next));
  };

  const activate = (table: RouteTable): Live => {
    const entry: Live = { table, refs: 0, retired: false, dispose: [] };
    for (const route of table.routes.values()) {
      entry.dispose.push(
        route.router.on('*', (event) => {
          logRouterEvent(logger, route.name, event);
          if (events.active) events.emit({ type: 'router', route: route.name, event });
        }),
      );
    }
    return entry;
  };
  /** Resolves when no request is in flight, or after `ms`. */
  const idleWithin = async (ms: number): Promise<void> => {
    if (inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => idleWaiters.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  };
  const shutDown = (entry: Live) => {
    for (const dispose of entry.dispose) dispose();
    entry.table.close();
  };
  const release = (entry: Live) => {
    entry.refs--;
    if (entry.retired && entry.refs === 0) shutDown(entry);
  };

  applyServerSettings(config);
  try {
    live = activate(buildRouteTable(config, { clock, store, transport, keyPrefix }));
  } catch (error) {
    void owned?.close();
    throw error;
  }

  const initialTimeouts = serverTimeouts(config);
  const server = createServer(initialTimeouts);

  // Every request is tracked (shutdown waits for them all); `chats` counts the chat completions.
  let chats = 0;
  const track = (res: ServerResponse, controller: AbortController | undefined) => {
    inflight.set(res, controller);
    if (controller) chats++;
    res.once('close', () => {
      if (controller && !res.writableFinished) controller.abort(new Error('the client closed the connection'));
      if (controller) chats--;
      inflight.delete(res);
      if (inflight.size === 0 && idleWaiters.length) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
  };

  const finish = (req: IncomingMessage, requestId: string, path: string, started: number, outcome: Partial<ChatOutcome> & { status: number }) => {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    const level = accessLogLevel(path, outcome);
    if (logger.enabled(level)) logger[level]('request', { requestId, method: req.method, path, ...outcome, durationMs });
    if (events.active) events.emit({ type: 'request', requestId, method: req.method ?? '', path, durationMs, ...outcome });
  };

  type Outcome = Partial<ChatOutcome> & { status: number };
  const notFound = (res: ServerResponse, method: string, path: string): Outcome => {
    sendError(res, { status: 404, message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: 'unknown_url' });
    return { status: 404 };
  };
  const methodNotAllowed = (res: ServerResponse, allow: string, method: string, path: string): Outcome => {
    res.setHeader('allow', allow);
    sendError(res, { status: 405, message: `Method ${method} is not allowed on ${path} (allowed: ${allow})`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' });
    return { status: 405 };
  };
  const unauthorized = (res: ServerResponse): Outcome => {
    sendError(res, {
      status: 401,
      message: 'Missing or invalid bearer token: send `Authorization: Bearer <token>` with one of the tokens configured in server.tokens.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    });
    return { status: 401 };
  };

  const chat = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<Partial<ChatOutcome> & { status: number }> => {
    const controller = new AbortController();
    track(res, controller);
    const body = await readBody(req, bodyLimit);
    if (body === 'aborted') return { status: 499, error: 'aborted' };
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      sendError(res, {
        status: 413,
        message: `The request body is larger than the limit of ${bodyLimit} bytes (server.bodyLimit).`,
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      });
      // The rest of the body is never read: the connection goes once the answer is out.
      res.once('finish', () => req.socket.destroySoon());
      return { status: 413, error: 'invalid_request' };
    }
    const entry = live;
    entry.refs++;
    try {
      return await handleChatCompletions({ requestId, body, table: entry.table, res, signal: controller.signal, clock });
    } finally {
      release(entry);
    }
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, requestId: string, path: string, query: string): Promise<Outcome> => {
    const method = req.method ?? 'GET';
    // HEAD is GET without a body (Node leaves it out): a GET-only endpoint answers it too.
    const extra = extras.get(`${method} ${path}`) ?? (method === 'HEAD' ? extras.get(`GET ${path}`) : undefined);
    if (extra) {
      if (extra.auth && !auth.allows(req.headers.authorization)) return unauthorized(res);
      track(res, undefined);
      await extra.handler(req, res, { requestId, path, query, gateway });
      return { status: res.statusCode };
    }
    switch (path) {
      case '/v1/chat/completions':
      case '/chat/completions':
        if (method !== 'POST') return methodNotAllowed(res, 'POST', method, path);
        if (!auth.allows(req.headers.authorization)) return unauthorized(res);
        return chat(req, res, requestId);
      case '/healthz':
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD', method, path);
        if (draining) sendJson(res, 503, '{"status":"draining"}');
        else sendJson(res, 200, '{"status":"ok"}');
        return { status: res.statusCode };
      case '/v1/models':
      case '/models':
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD', method, path);
        if (!auth.allows(req.headers.authorization)) return unauthorized(res);
        sendJson(res, 200, modelList(live.table, createdSeconds));
        return { status: 200 };
      case '/status':
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD', method, path);
        if (!auth.allows(req.headers.authorization)) return unauthorized(res);
        sendJson(res, 200, JSON.stringify(gateway.status()));
        return { status: 200 };
      default: {
        const model = /^\/(?:v1\/)?models\/(.+)$/.exec(path);
        if (model && (method === 'GET' || method === 'HEAD')) {
          if (!auth.allows(req.headers.authorization)) return unauthorized(res);
          const id = safeDecode(model[1]!);
          if (live.table.resolve(id)) sendJson(res, 200, JSON.stringify(modelObject(id, createdSeconds)));
          else sendError(res, { status: 404, message: `The model '${id}' does not exist`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
          return { status: res.statusCode };
        }
        if (fallthroughs.length > 0) {
          track(res, undefined);
          const allowed = auth.allows(req.headers.authorization);
          let refused = false;
          for (const entry of fallthroughs) {
            // A handler behind auth does not see a request without a token; if nobody else takes it, 401.
            if (entry.auth && !allowed) refused = true;
            else if (await entry.handler(req, res, { requestId, path, query, gateway })) return { status: res.statusCode };
          }
          if (refused) return unauthorized(res);
        }
        return notFound(res, method, path);
      }
    }
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-ballast-target', 'none');
    res.setHeader('x-ballast-attempts', '0');
    res.setHeader('x-ballast-fallbacks', '0');
    if (demo) res.setHeader('x-ballast-demo', 'simulated');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (cors?.apply(req, res)) return;
    // While draining, a probe still gets its answer (`draining`, from the endpoint itself); the rest get a 503.
    if (draining && path !== '/healthz') {
      res.setHeader('connection', 'close');
      sendError(res, { status: 503, message: 'The gateway is shutting down.', type: 'service_unavailable_error', param: null, code: 'shutting_down' });
      return;
    }
    dispatch(req, res, requestId, path, q === -1 ? '' : url.slice(q + 1)).then(
      (outcome) => finish(req, requestId, path, started, outcome),
      (error: unknown) => {
        logger.error('internal error', { requestId, path, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        if (!res.headersSent) sendError(res, { status: 500, message: 'Internal gateway error', type: 'server_error', param: null, code: 'internal_error' });
        else res.destroy();
        finish(req, requestId, path, started, { status: 500, error: 'internal' });
      },
    );
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Malformed requests and header timeouts: answer when the socket still takes it, never crash.
    if (socket.writable && !socket.destroyed) {
      const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const [reason, message, code] =
        status === 408
          ? ['Request Timeout', 'The request did not arrive in time (server.timeouts).', 'request_timeout']
          : status === 431
            ? ['Request Header Fields Too Large', 'The request headers are too large.', 'headers_too_large']
            : ['Bad Request', 'The request is not valid HTTP/1.1.', 'malformed_http'];
      const body = errorBody({ status, message, type: 'invalid_request_error', param: null, code });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy();
    logger.debug('client error', { code: error.code });
  });

  const gateway: Gateway = {
    server,
    demo,
    get config() {
      return config;
    },
    get inFlight() {
      return chats;
    },
    routes: () => [...live.table.routes.values()],
    route: (name: string) => live.table.routes.get(name),
    providers: () => live.table.providers,
    get store() {
      return store;
    },
    status: () => statusReport({ table: live.table, demo, startedAt, inFlight: chats, now: clock.now(), store: storeStatus(store) }),
    handle(method: string, path: string, handler: RequestHandler, handleOptions: HandleOptions = {}) {
      const key = `${method.toUpperCase()} ${path}`;
      const entry: Extra = { handler, auth: handleOptions.auth ?? true };
      extras.set(key, entry);
      return () => {
        if (extras.get(key) === entry) extras.delete(key);
      };
    },
    use(handler: FallthroughHandler, handleOptions: HandleOptions = {}) {
      const entry: Fallthrough = { handler, auth: handleOptions.auth ?? true };
      fallthroughs = [...fallthroughs, entry];
      return () => {
        fallthroughs = fallthroughs.filter((f) => f !== entry);
      };
    },
    routers() {
      let map = routerMaps.get(live.table);
      if (!map) {
        map = new Map([...live.table.routes].map(([name, route]) => [name, route.router]));
        routerMaps.set(live.table, map);
      }
      return map;
    },
    on: (listener: (event: GatewayEvent) => void) => events.on(listener),
    async listen() {
      // The store never rejects: unreachable Redis means local state, said in its health and the logs.
      await owned?.ready;
      if (closing) throw new Error('the gateway was closed before it listened');
      return new Promise<ListenAddress>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(config.server.port, config.server.host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ host: address.address, port: address.port, url: `http://${host}:${address.port}` });
        });
      });
    },
    reload(input: unknown): ReloadResult {
      const checked = checkConfig(input);
      if (!checked.ok) {
        logger.warn('reload rejected: the new config is invalid, the old one stays', { problems: checked.problems.length });
        return checked;
      }
      let table: RouteTable;
      try {
        table = buildRouteTable(checked.config, { clock, store, transport, keyPrefix });
      } catch (error) {
        if (!(error instanceof RouteTableError)) throw error;
        logger.warn('reload rejected: a provider refused the new config, the old one stays', { problems: error.problems.length });
        return { ok: false, problems: error.problems };
      }
      const previous = live;
      if (checked.config.server.host !== config.server.host || checked.config.server.port !== config.server.port) {
        logger.warn('server.host and server.port changes take effect on restart');
      }
      if (sameStore(checked.config.store, storeConfig)) config = checked.config;
      else {
        logger.warn('store changes take effect on restart: the running store is kept (it holds the breaker states and cooldowns)', {
          running: describeStoreConfig(storeConfig),
          configured: describeStoreConfig(checked.config.store),
        });
        config = { ...checked.config, store: storeConfig };
      }
      applyServerSettings(config);
      applyServerTimeouts(server, initialTimeouts.connectionsCheckingInterval, config, logger);
      live = activate(table);
      pool?.setTimeouts(upstreamTimeouts(checked.config));
      previous.retired = true;
      if (previous.refs === 0) shutDown(previous);
      logger.info('config reloaded', { routes: [...table.routes.keys()] });
      events.emit({ type: 'reload', routes: [...table.routes.keys()] });
      return { ok: true, config };
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await idleWithin(toMs(config.server.shutdownGrace));
        if (inflight.size > 0) {
          const reason = new GatewayShutdownError();
          for (const controller of inflight.values()) controller?.abort(reason);
          // Their answers (a 503, or an error frame ending a stream) go out before the connections do.
          await idleWithin(SHUTDOWN_ANSWER_MS);
        }
        server.closeAllConnections();
        await stopped;
        live.retired = true;
        shutDown(live);
        await pool?.close().catch(() => {});
        // After the routers: nothing writes to the store any more.
        await owned?.close().catch(() => {});
        events.emit({ type: 'close' });
      })();
      return closing;
    },
  };
  // Observability every gateway serves: Prometheus text and the live dashboard (its page and data).
  // With client tokens configured, the metrics and the dashboard's data need one like every other
  // endpoint. The page does not: it holds no data, and a browser cannot add a bearer token to a
  // page load; it asks for the token and sends it with its data requests.
  gateway.handle('GET', '/metrics', createMetricsHandler(() => gateway.routers(), () => ({ gateway: { inFlight: gateway.inFlight, demo, storeConnected: gateway.store.health?.().connected } })));
  const dashboard = createDashboardHandler(() => gateway.routers(), { demo });
  for (const method of ['GET', 'HEAD']) {
    gateway.handle(method, '/', (req, res) => void dashboard(req, res), { auth: false });
    gateway.handle(method, '/dashboard/data', (req, res) => void dashboard(req, res));
  }

  return gateway;
}

/** Endpoints polled by dashboards, scrapers and probes: their access lines would drown the rest. */
const POLLED = new Set(['/dashboard/data', '/metrics', '/healthz', '/status']);

/**
 * The level of a request's access line: `warn` for a call that failed on the gateway's side (a 5xx,
 * or a stream that broke after its 200), `debug` for the polled endpoints' answers, else `info`.
 */
function accessLogLevel(path: string, outcome: { status: number; error?: string }): 'debug' | 'info' | 'warn' {
  // Only their answers (and /healthz's `draining`): a refused token (someone guessing) stays in sight.
  if (POLLED.has(path) && (outcome.status < 400 || path === '/healthz')) return 'debug';
  return outcome.status >= 500 || (outcome.status === 200 && outcome.error !== undefined) ? 'warn' : 'info';
}

/** How long requests cut by a shutdown get to send their answers before the connections close, ms. */
const SHUTDOWN_ANSWER_MS = 1000;

/** The node:http timeouts of `server.timeouts`. */
function serverTimeouts(config: GatewayConfig) {
  const t = config.server.timeouts;
  const requestTimeout = toMs(t.request);
  // Node refuses a headers timeout longer than the request timeout (0: none).
  const headersTimeout = Math.min(toMs(t.headers), requestTimeout || Infinity);
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: toMs(t.keepAlive),
    // How often Node checks the two timeouts above; its 30 s default would let a slow client linger.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 2))),
  };
}

/**
 * Applies a reloaded `server.timeouts` to the running server: Node reads the three timeouts live
 * (at its next check, after the next response). How often it checks (`checkingInterval`) is
 * fixed when the server is made, so a new headers timeout that wants a shorter interval is
 * enforced only that coarsely until restart, which a warning says.
 */
function applyServerTimeouts(server: Server, checkingInterval: number, config: GatewayConfig, logger: Logger): void {
  const next = serverTimeouts(config);
  server.headersTimeout = next.headersTimeout;
  server.requestTimeout = next.requestTimeout;
  server.keepAliveTimeout = next.keepAliveTimeout;
  if (next.connectionsCheckingInterval < checkingInterval) {
    logger.warn('a shorter server.timeouts.headers takes full effect on restart: until then timeouts are checked every connectionsCheckingInterval ms', {
      connectionsCheckingInterval: checkingInterval,
      wanted: next.connectionsCheckingInterval,
    });
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every credential in a config, so the logger can mask it wherever it shows up. */
function secretsOf(config: GatewayConfig): string[] {
  const out = [...config.server.tokens, ...storeSecrets(config.store)];
  for (const provider of Object.values(config.providers)) {
    if ('apiKey' in provider && provider.apiKey) out.push(provider.apiKey);
    if ('headers' in provider && provider.headers) out.push(...Object.values(provider.headers));
  }
  return out;
}

function sameStore(a: StoreConfig, b: StoreConfig): boolean {
  if (a.type === 'memory' || b.type === 'memory') return a.type === b.type;
  return a.url === b.url && a.prefix === b.prefix;
}

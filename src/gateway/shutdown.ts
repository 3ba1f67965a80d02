import type { ApiError } from './http-errors.js';

/** The abort reason of requests still running when a shutdown's grace period ends. */
export class GatewayShutdownError extends Error {
  constructor() {
    super('the gateway is shutting down');
    this.name = 'GatewayShutdownError';
  }
}

/** The answer (or mid-stream error frame) of a request cut by a shutdown: a 503 clients retry elsewhere. */
export const SHUTDOWN_ANSWER: ApiError = {
  status: 503,
  message: 'The gateway is shutting down and stopped this request at the end of its grace period; send it again (another replica, or this one once it is back).',
  type: 'server_error',
  param: null,
  code: 'shutting_down',
  headers: { connection: 'close' },
};

import type { RouterEvent } from '../router/router-events.js';
import type { Logger } from './logger.js';

/**
 * Logs a router decision as one line: retries, fallbacks, hedges, breaker changes and cooldowns
 * at `info` (what an operator wants to see), attempts and successes at `debug` (one per request).
 * Failures are already in the access log line of their request.
 */
export function logRouterEvent(logger: Logger, route: string, event: RouterEvent): void {
  switch (event.type) {
    case 'retry':
      logger.info('retry', { route, target: event.target, attempt: event.attempt, delayMs: Math.round(event.delay), kind: event.kind, status: event.status });
      break;
    case 'fallback':
      logger.info('fallback', { route, from: event.from, to: event.to, kind: event.error.kind, status: event.error.status });
      break;
    case 'hedge':
      logger.info('hedge', { route, target: event.target, afterMs: Math.round(event.afterMs) });
      break;
    case 'breaker':
      (event.to === 'open' ? logger.warn : logger.info)('breaker', { route, target: event.target, from: event.from, to: event.to });
      break;
    case 'cooldown':
      logger.info('cooldown', { route, target: event.target, reason: event.reason, forMs: Math.max(0, Math.round(event.until - event.at)) });
      break;
    case 'attempt':
      if (logger.enabled('debug')) logger.debug('attempt', { route, target: event.target, attempt: event.attempt, stream: event.stream });
      break;
    case 'success':
      if (logger.enabled('debug')) logger.debug('success', { route, target: event.target, durationMs: Math.round(event.durationMs), stream: event.stream });
      break;
    case 'failure':
      if (logger.enabled('debug')) logger.debug('failure', { route, kind: event.error.kind, attempts: event.attempts.length });
      break;
  }
}

import type { TargetRetryOptions } from './fallback-walk.js';
import { createRouter, type Router, type RouterOptions } from './router.js';
import type { TargetOptions } from './target.js';

/** Router options other than the targets (breaker, timeouts, hedge, errors, clock, …). */
export type FluentOptions = Omit<RouterOptions, 'targets'>;

/**
 * A router built step by step from single models. Each step returns a new builder (the one it
 * came from is unchanged); the `Router` under it is created with `createRouter(options)` on first
 * use, so finish configuring before calling it: two builders never share breakers or cooldowns.
 */
export interface FluentRouter extends Pick<Router, 'chat' | 'stream' | 'on' | 'onFallback' | 'onAllFailed' | 'close'> {
  /** Exactly what is given to `createRouter`. */
  readonly options: RouterOptions;
  /** The router itself (created now if it was not yet). */
  readonly router: Router;
  /** Sets how each target of the chain retries (merged into the previous `retry`). */
  withRetry(retry: TargetRetryOptions): FluentRouter;
  /** Appends backups, tried in the order given after the targets already in the chain. */
  withFallbacks(backups: readonly TargetOptions[]): FluentRouter;
  /** Sets other router options (breaker, timeouts, hedge, errors, …); each one given replaces its previous value. */
  with(options: FluentOptions): FluentRouter;
}

/**
 * One model, retried: `withRetry(target, { attempts: 3 })` is
 * `createRouter({ targets: [target], retry: { attempts: 3 } })`.
 */
export function withRetry(target: TargetOptions, retry: TargetRetryOptions): FluentRouter {
  return fluent({ targets: [ordered(target, 0)], retry: { ...retry } });
}

/**
 * A primary model and its backups, tried in that order:
 * `withFallbacks(a, [b, c], options)` is `createRouter({ ...options, targets: [a, b, c] })` with the
 * targets' priorities set to their positions, so the given order wins over any `priority` they carry.
 * `.withRetry({ attempts: 3 })` then sets the router's `retry` (each target's own retries, before
 * the next target).
 */
export function withFallbacks(primary: TargetOptions, backups: readonly TargetOptions[], options: FluentOptions = {}): FluentRouter {
  if (!Array.isArray(backups)) throw new TypeError('withFallbacks: `backups` must be an array of targets');
  return fluent({ ...options, targets: [primary, ...backups].map(ordered) });
}

/** A copy of the target whose priority is its place in the chain (targets are never mutated). */
function ordered(target: TargetOptions, index: number): TargetOptions {
  if (!target || typeof target !== 'object') throw new TypeError(`targets[${index}]: expected an object`);
  return { ...target, priority: index };
}

function fluent(options: RouterOptions): FluentRouter {
  let router: Router | undefined;
  const get = (): Router => (router ??= createRouter(options));
  return {
    options,
    get router() {
      return get();
    },
    get chat() {
      const r = get();
      return r.chat.bind(r);
    },
    get stream() {
      const r = get();
      return r.stream.bind(r);
    },
    get on() {
      const r = get();
      return r.on.bind(r);
    },
    get onFallback() {
      const r = get();
      return r.onFallback.bind(r);
    },
    get onAllFailed() {
      const r = get();
      return r.onAllFailed.bind(r);
    },
    close() {
      router?.close();
    },
    withRetry: (retry) => fluent({ ...options, retry: { ...options.retry, ...retry } }),
    withFallbacks: (backups) => {
      if (!Array.isArray(backups)) throw new TypeError('withFallbacks: `backups` must be an array of targets');
      return fluent({ ...options, targets: [...options.targets, ...backups].map(ordered) });
    },
    with: (more) => fluent({ ...options, ...more, targets: options.targets }),
  };
}

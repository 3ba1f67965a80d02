import { NEVER_ABORTED } from './context.js';
import type { Dispose } from './events.js';

/** A child signal that aborts with its parent's reason, or by itself via `abort(reason)`. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** Detaches from the parent (call when the work ends, so long-lived parents do not collect listeners). */
  dispose: Dispose;
}

/** Creates a {@link LinkedSignal} under `parent`. */
export function linkSignal(parent: AbortSignal): LinkedSignal {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, abort: () => {}, dispose: () => {} };
  }
  // Nothing to follow: no listener on the shared never-aborted signal.
  if (parent === NEVER_ABORTED) return { signal: controller.signal, abort: (reason) => controller.abort(reason), dispose: () => {} };
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => parent.removeEventListener('abort', onAbort),
  };
}

/** Throws the signal's reason when it has aborted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

/** True for the errors an abort produces (`AbortError` DOMExceptions and errors named so). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

import type { StateStore } from '../policy/state-store.js';

/**
 * The prefix of a router's store keys: the one given, else the store's own (a Redis store shares
 * only keys under its prefix) or `ballast:`, followed by `suffix`. A given prefix outside the
 * store's is refused: nothing the router wrote would be shared, and nothing would say so.
 */
export function sharedKeyPrefix(store: StateStore | undefined, given: string | undefined, suffix: string): string {
  const storePrefix = store?.keyPrefix;
  if (given === undefined) return `${storePrefix ?? 'ballast:'}${suffix}`;
  if (storePrefix !== undefined && !given.startsWith(storePrefix)) {
    throw new TypeError(`keyPrefix: expected a prefix under the store's prefix '${storePrefix}' (only its keys are shared), got '${given}'`);
  }
  return given;
}

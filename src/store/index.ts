/** `ballast/redis`: the Redis {@link StateStore} for routers and gateway replicas that must agree. */
export { createRedisStore, safeRedisUrl, type RedisStore, type RedisStoreOptions } from './redis-store.js';
export type { StateStore, StoreHealth } from '../policy/state-store.js';

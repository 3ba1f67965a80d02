import type { Env } from './config-env.js';
import type { GatewayConfigInput } from './config-schema.js';
import { DEMO_CONFIG } from './demo-config.js';

/** The config used when no file is given, and where it came from. */
export interface DefaultConfig {
  config: GatewayConfigInput;
  /** True when no provider key is set: simulated providers only. */
  demo: boolean;
  /** The environment variables that enabled providers (names only). */
  sources: string[];
}

interface EnvProvider {
  name: 'openai' | 'anthropic' | 'gemini' | 'ollama';
  variable: string;
  model: string;
  baseUrlVariable?: string;
}

// Order is the fallback order of the `default` route. Models can be changed with BALLAST_<NAME>_MODEL.
const ENV_PROVIDERS: readonly EnvProvider[] = [
  { name: 'openai', variable: 'OPENAI_API_KEY', model: 'gpt-4o-mini', baseUrlVariable: 'OPENAI_BASE_URL' },
  { name: 'anthropic', variable: 'ANTHROPIC_API_KEY', model: 'claude-sonnet-4-5', baseUrlVariable: 'ANTHROPIC_BASE_URL' },
  { name: 'gemini', variable: 'GEMINI_API_KEY', model: 'gemini-2.5-flash' },
  { name: 'ollama', variable: 'OLLAMA_HOST', model: 'llama3.2' },
];

/**
 * The config without a file: one route per provider whose key is in the environment
 * (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`, `OLLAMA_HOST`), named after it, plus
 * a `default` route falling back across all of them in that order, and the Redis store when
 * `REDIS_URL` is set; or, with no provider set, the demo config. Keys stay `${VAR}` references, resolved when the config is validated, so the config
 * itself can be shown without secrets.
 */
export function defaultConfig(env: Env): DefaultConfig {
  const found = ENV_PROVIDERS.filter((p) => (env[p.variable] ?? '').trim() !== '');
  if (found.length === 0) return { config: DEMO_CONFIG, demo: true, sources: [] };
  const providers: NonNullable<GatewayConfigInput['providers']> = {};
  const routes: NonNullable<GatewayConfigInput['routes']> = {};
  const route = { retry: { attempts: 2 }, timeouts: { total: '120s', firstToken: '30s', idle: '30s' } };
  const targets = found.map((p) => {
    const model = env[`BALLAST_${p.name.toUpperCase()}_MODEL`]?.trim() || p.model;
    const baseURL = p.baseUrlVariable && env[p.baseUrlVariable]?.trim() ? `\${${p.baseUrlVariable}}` : undefined;
    providers[p.name] =
      p.name === 'ollama'
        ? { type: 'ollama', baseURL: '${OLLAMA_HOST}' }
        : { type: p.name, apiKey: `\${${p.variable}}`, ...(baseURL ? { baseURL } : {}) };
    const target = { provider: p.name, model };
    routes[p.name] = { ...route, targets: [target] };
    return target;
  });
  routes.default = { ...route, targets };
  // Replicas started without a config file still share breaker states and cooldowns when told where Redis is.
  const redis = (env.REDIS_URL ?? '').trim() !== '';
  return {
    config: { providers, routes, ...(redis && { store: { type: 'redis', url: '${REDIS_URL}' } }) },
    demo: false,
    sources: [...found.map((p) => p.variable), ...(redis ? ['REDIS_URL'] : [])],
  };
}

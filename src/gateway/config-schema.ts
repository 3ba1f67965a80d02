import { z } from 'zod';
import { ERROR_KINDS } from '../llm/error-kind.js';
import { toMs } from '../policy/duration.js';
import { latencySampler } from '../providers/seeded-random.js';
import { STRATEGY_NAMES, type StrategyName } from '../router/strategies.js';

// The schema checks shape and ranges only; it never transforms values (the builder does), so a
// validated config can be validated again (reload) and printed as the user wrote it.

/** A strict object whose unknown-key error lists the keys it knows (the formatter reads it as "expected"). */
function obj<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `one of the keys ${known}` : undefined),
  });
}

function isDuration(value: unknown): boolean {
  if (typeof value !== 'number' && typeof value !== 'string') return false;
  try {
    return Number.isFinite(toMs(value));
  } catch {
    return false;
  }
}

/** `250` (ms) or `"250ms"`, `"20s"`, `"1m30s"`, `"2h"`. */
const duration = z.custom<number | string>(isDuration, 'a duration such as 250 (ms) or "20s"');
/** A duration above zero: a timeout of 0 would fail every call (the router refuses it too). */
const positiveDuration = z.custom<number | string>((value) => isDuration(value) && toMs(value as number | string) > 0, 'a duration above 0 such as "30s"');

/** A fixed time or a distribution (`{ dist: lognormal, median: 300ms, p99: 2s }`). */
const latency = z.custom<number | string | Record<string, unknown>>(
  (value) => {
    try {
      latencySampler(value as never);
      return true;
    } catch {
      return false;
    }
  },
  'a duration such as "300ms" or a distribution such as { dist: lognormal, median: 300ms, p99: 2s }',
);

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Bytes from a size such as `1048576`, `"512kb"` or `"1mb"`; `undefined` when it is not one. */
export function parseSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]!);
  return bytes > 0 ? bytes : undefined;
}

const size = z.custom<number | string>(
  (value) => (typeof value === 'number' || typeof value === 'string') && parseSize(value) !== undefined,
  'a size such as 1048576 (bytes), "512kb" or "1mb"',
);

/** Names JavaScript gives a meaning on every object: an entry named so would be lost or misread. */
const RESERVED_NAMES: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * A record of user-named entries (providers, routes, headers, rule metadata) that refuses the names in
 * {@link RESERVED_NAMES}: zod drops an own `__proto__` key without a word, and a plain object
 * assigned one (as `${ENV}` resolution does) gets a new prototype instead of an entry. Either way
 * `ballast check` would pass a config whose entry then is not there. Until the name is fixed, the
 * other entries of that record are not checked.
 */
function namedRecord<K extends z.core.$ZodRecordKey, V extends z.core.SomeType>(key: K, value: V) {
  const record = z.record(key, value);
  return z.preprocess<unknown, typeof record, z.input<typeof record>>((input, ctx) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
    const found = Object.keys(input).filter((name) => RESERVED_NAMES.includes(name));
    const proto: unknown = Object.getPrototypeOf(input);
    if (proto !== Object.prototype && proto !== null && !found.includes('__proto__')) found.unshift('__proto__');
    for (const name of found) {
      ctx.addIssue({ code: 'custom', path: [name], input: name, message: `a name other than ${RESERVED_NAMES.slice(0, -1).join(', ')} or ${RESERVED_NAMES.at(-1)}` });
    }
    return input;
  }, record);
}

const positiveInt = z.number().int().min(1);
const headers = namedRecord(z.string(), z.string());
const nonEmpty = z.string().min(1);
/** Ports may come from `${PORT}`, so a string of digits is accepted too. */
const port = z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value),
  z.number().int().min(0).max(65535),
);

const ERROR_KIND_NAMES = ERROR_KINDS as unknown as [string, ...string[]];

/** A provider's base URL. Credentials in it would be dropped on the way (or refused by fetch): they belong in apiKey or headers. */
const providerUrl = z.url().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.username === '' && url.password === '';
    } catch {
      return true; // z.url() has said what is wrong
    }
  },
  { message: 'a URL without user:password in it (put credentials in apiKey or headers)' },
);

// ---- providers ------------------------------------------------------------------------------

const openAiProvider = obj({
  type: z.literal('openai'),
  apiKey: z.string().optional(),
  baseURL: providerUrl.optional(),
  headers: headers.optional(),
  organization: z.string().optional(),
  project: z.string().optional(),
  azure: obj({ apiVersion: nonEmpty }).optional(),
  includeUsage: z.boolean().optional(),
  maxTokensField: z.enum(['max_completion_tokens', 'max_tokens']).optional(),
});

const anthropicProvider = obj({
  type: z.literal('anthropic'),
  apiKey: z.string().optional(),
  baseURL: providerUrl.optional(),
  headers: headers.optional(),
  version: nonEmpty.optional(),
  defaultMaxTokens: positiveInt.optional(),
});

const geminiProvider = obj({
  type: z.literal('gemini'),
  apiKey: z.string().optional(),
  baseURL: providerUrl.optional(),
  headers: headers.optional(),
});

const ollamaProvider = obj({
  type: z.literal('ollama'),
  apiKey: z.string().optional(),
  /** `OLLAMA_HOST`-style values work too (`127.0.0.1:11434`, `my-host`). */
  baseURL: nonEmpty.optional(),
  headers: headers.optional(),
  keepAlive: z.union([z.string(), z.number()]).optional(),
});

const FAULT_KINDS = [...ERROR_KINDS, 'stall', 'cut', 'slow', 'filtered'] as unknown as [string, ...string[]];

const faultRule = obj({
  kind: z.enum(FAULT_KINDS),
  probability: z.number().min(0).max(1).optional(),
  between: z.tuple([duration, duration]).optional(),
  every: positiveInt.optional(),
  times: z.number().int().min(0).optional(),
  models: z.array(z.string()).optional(),
  when: z.enum(['before_first_token', 'mid_stream']).optional(),
  afterChunks: z.number().int().min(0).optional(),
  delay: latency.optional(),
  retryAfter: duration.optional(),
  stallFor: duration.optional(),
  slowBy: duration.optional(),
  factor: z.number().min(0).optional(),
  status: z.number().int().min(100).max(599).optional(),
  message: z.string().optional(),
});

/** An outage that comes back: every `every`, for `duration`, starting `start` after launch. */
const recurringOutage = obj({
  kind: z.enum(FAULT_KINDS),
  every: duration,
  duration,
  start: duration.optional(),
  retryAfter: duration.optional(),
  probability: z.number().min(0).max(1).optional(),
  status: z.number().int().min(100).max(599).optional(),
});

const simulatedProvider = obj({
  type: z.literal('simulated'),
  seed: z.number().int().optional(),
  /** The answer text; `{provider}`, `{model}`, `{input}` (the last user text) and `{call}` are filled in. */
  reply: z.string().optional(),
  chunkSize: z.union([positiveInt, obj({ chars: positiveInt }), obj({ words: positiveInt })]).optional(),
  latency: latency.optional(),
  firstToken: latency.optional(),
  chunkInterval: latency.optional(),
  faults: z.array(faultRule).optional(),
  outages: z.array(recurringOutage).optional(),
  rateLimit: obj({ requestsPerMinute: positiveInt.optional(), tokensPerMinute: positiveInt.optional() }).optional(),
  concurrency: positiveInt.optional(),
  models: z.array(nonEmpty).optional(),
  contextWindow: positiveInt.optional(),
});

/** The provider types a config can name. */
export const PROVIDER_TYPES = ['openai', 'anthropic', 'gemini', 'ollama', 'simulated'] as const;

const provider = z.discriminatedUnion('type', [openAiProvider, anthropicProvider, geminiProvider, ollamaProvider, simulatedProvider]);

// ---- routes ---------------------------------------------------------------------------------

const STRATEGY_ENUM = z.enum(STRATEGY_NAMES as unknown as [string, ...string[]]);

/**
 * The strategies that read each option (see `StrategyOptionsByName`): any other strategy would
 * ignore it, so the schema refuses it there instead of dropping it silently.
 */
const STRATEGY_OPTION_OWNERS = {
  ties: ['priority'],
  metric: ['least-latency'],
  defaultOutputTokens: ['least-cost'],
} as const satisfies Record<string, readonly StrategyName[]>;

const strategy = z.union([
  STRATEGY_ENUM,
  obj({
    name: STRATEGY_ENUM,
    ties: z.enum(['order', 'shuffle', 'round-robin']).optional(),
    metric: z.enum(['latency', 'ttft', 'auto']).optional(),
    defaultOutputTokens: z.number().int().min(0).optional(),
  }).superRefine((spec, ctx) => {
    for (const [option, owners] of Object.entries(STRATEGY_OPTION_OWNERS)) {
      const value = spec[option as keyof typeof STRATEGY_OPTION_OWNERS];
      if (value === undefined || (owners as readonly string[]).includes(spec.name)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [option],
        input: value,
        message: `no ${option} with strategy ${spec.name} (only ${owners.join(', ')} takes ${option})`,
      });
    }
  }),
]);

/** The fields of a failure-rate breaker, which a `consecutive` breaker would ignore. */
const RATE_BREAKER_FIELDS = ['failureRate', 'minCalls', 'window'] as const;

const retrySettings = obj({
  attempts: z.number().int().min(1).max(10).optional(),
  wait: duration.optional(),
  maxRetryAfter: duration.optional(),
});

const target = obj({
  /** The name of an entry of `providers`. */
  provider: nonEmpty,
  /** The provider's own model name. */
  model: nonEmpty,
  id: nonEmpty.optional(),
  priority: z.number().optional(),
  weight: z.number().min(0).optional(),
  contextWindow: positiveInt.optional(),
  cost: obj({ input: z.number().min(0), output: z.number().min(0) }).optional(),
  tags: z.array(nonEmpty).optional(),
  supportsTools: z.boolean().optional(),
  supportsStream: z.boolean().optional(),
  /** This target's own retry, over the route's. */
  retry: retrySettings.optional(),
});

const errorMatcher = z.union([z.enum(ERROR_KIND_NAMES), z.number().int().min(100).max(599)]);

const condition = obj({
  minPromptTokens: z.number().int().min(0).optional(),
  maxPromptTokens: z.number().int().min(0).optional(),
  hasTools: z.boolean().optional(),
  hasImages: z.boolean().optional(),
  stream: z.boolean().optional(),
  metadata: namedRecord(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
});

const rule = obj({
  if: condition,
  use: obj({ tags: z.array(nonEmpty).optional(), ids: z.array(nonEmpty).optional() }),
  only: z.boolean().optional(),
  strategy: STRATEGY_ENUM.optional(),
});

const route = obj({
  strategy: strategy.optional(),
  targets: z.array(target).min(1),
  /** Conditional routing: the first rule whose `if` holds puts its targets first (or alone with `only`). */
  rules: z.array(rule).optional(),
  retry: retrySettings.optional(),
  breaker: z
    .union([
      z.literal(false),
      obj({
        failureRate: z.number().gt(0).max(1).optional(),
        minCalls: positiveInt.optional(),
        window: duration.optional(),
        consecutive: positiveInt.optional(),
        openFor: duration.optional(),
        halfOpenProbes: positiveInt.optional(),
      }).superRefine((breaker, ctx) => {
        if (breaker.consecutive === undefined) return;
        for (const field of RATE_BREAKER_FIELDS) {
          if (breaker[field] === undefined) continue;
          ctx.addIssue({
            code: 'custom',
            path: [field],
            input: breaker[field],
            message: `no ${field} next to consecutive (a breaker takes consecutive, or failureRate, minCalls and window, not both)`,
          });
        }
      }),
    ])
    .optional(),
  timeouts: obj({
    total: positiveDuration.optional(),
    attempt: positiveDuration.optional(),
    firstToken: positiveDuration.optional(),
    idle: positiveDuration.optional(),
  }).optional(),
  hedge: obj({ delay: duration, maxAttempts: z.number().int().min(2).optional() }).optional(),
  resume: z.union([z.boolean(), obj({ attempts: positiveInt.optional(), instruction: nonEmpty.optional() })]).optional(),
  errors: obj({
    fallbackOnContentFilter: z.boolean().optional(),
    stopOn: z.array(errorMatcher).optional(),
    retryOn: z.array(errorMatcher).optional(),
    fallbackOn: z.array(errorMatcher).optional(),
  }).optional(),
  cooldowns: obj({ rateLimit: duration.optional(), quota: duration.optional(), disabled: duration.optional() }).optional(),
  healthCheck: obj({ interval: duration, timeout: duration.optional() }).optional(),
});

// ---- server and store -----------------------------------------------------------------------

const cors = z.union([
  z.boolean(),
  obj({
    /** Allowed origins, or `"*"` for any. */
    origins: z.union([z.literal('*'), z.array(nonEmpty).min(1)]),
    maxAge: duration.optional(),
  }),
]);

const server = obj({
  host: nonEmpty.default('127.0.0.1'),
  port: port.default(4000),
  /** Bearer tokens clients must send; none means no auth (fine on loopback). */
  tokens: z.array(nonEmpty).default([]),
  bodyLimit: size.default('1mb'),
  cors: cors.default(false),
  timeouts: obj({
    /** A client must send its request headers within this (slow-loris protection). */
    headers: duration.default('10s'),
    /** A client must send its whole request (headers and body) within this. */
    request: duration.default('60s'),
    /** An idle keep-alive connection is closed after this. */
    keepAlive: duration.default('5s'),
  }).prefault({}),
  /** On shutdown, in-flight requests get this long to finish before they are aborted. */
  shutdownGrace: duration.default('10s'),
});

/** True for `redis://[user:password@]host[:port][/db]` and `rediss://…`. */
function isRedisUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** A Redis URL; it may hold a password, so validation problems show it redacted (see `describeValue`). */
const redisUrl = z.custom<string>(isRedisUrl, 'a Redis URL such as redis://127.0.0.1:6379 or "${REDIS_URL}"');

/** The default Redis URL of `store: { type: redis }`. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Where breaker states and cooldowns live: this process only, or shared by replicas through Redis. */
const store = z.discriminatedUnion('type', [
  obj({ type: z.literal('memory') }),
  obj({
    type: z.literal('redis'),
    url: redisUrl.default(DEFAULT_REDIS_URL),
    /** Every key the gateway writes starts with it (and the pub/sub channel is `<prefix>changes`). */
    prefix: nonEmpty.default('ballast:'),
  }),
]);

/** The whole config file. */
export const configSchema = obj({
  server: server.prefault({}),
  providers: namedRecord(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/), provider),
  routes: namedRecord(z.string().min(1), route),
  store: store.prefault({ type: 'memory' }),
});

/** A config as written (defaults may be left out). */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** A validated config, defaults filled in. */
export type GatewayConfig = z.output<typeof configSchema>;
/** One entry of `providers`. */
export type ProviderConfig = GatewayConfig['providers'][string];
/** One entry of `routes`. */
export type RouteConfig = GatewayConfig['routes'][string];
/** One target of a route. */
export type TargetConfig = RouteConfig['targets'][number];
/** The `server` section. */
export type ServerConfig = GatewayConfig['server'];
/** The `store` section. */
export type StoreConfig = GatewayConfig['store'];

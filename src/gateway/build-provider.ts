import type { Clock } from '../policy/clock.js';
import { toMs } from '../policy/duration.js';
import type { Dispose } from '../policy/events.js';
import { anthropic } from '../providers/anthropic.js';
import { gemini } from '../providers/gemini.js';
import { ollama } from '../providers/ollama.js';
import { openai } from '../providers/openai.js';
import type { ChatProvider } from '../providers/provider.js';
import { simulated, type FaultKind, type FaultRule, type LatencySpec, type ReplySpec, type SimulatedProvider } from '../providers/simulated.js';
import { lastUserText } from '../providers/simulated-reply.js';
import type { Transport } from '../providers/transport.js';
import type { ProviderConfig } from './config-schema.js';

/** A provider built from its config entry, with what must be stopped when its config is retired. */
export interface BuiltProvider {
  /** The config key; also the provider's `name` in events, metrics and target ids. */
  readonly name: string;
  readonly type: ProviderConfig['type'];
  readonly provider: ChatProvider;
  /** Set for `simulated` providers (fault control for tests and the dashboard). */
  readonly simulated?: SimulatedProvider;
  /** Stops timers (recurring outages). */
  dispose(): void;
}

/** What providers are built with. */
export interface ProviderBuildOptions {
  /** The clock of simulated providers and their recurring outages. */
  clock: Clock;
  /** The HTTP seam of network providers; default global `fetch`. */
  transport?: Transport;
}

/**
 * Builds the provider a config entry describes. Throws a `TypeError` (its message starting with
 * the field, e.g. `faults[0].between: …`) for values the provider itself refuses.
 */
export function buildProvider(name: string, config: ProviderConfig, options: ProviderBuildOptions): BuiltProvider {
  const { transport } = options;
  const none = () => {};
  switch (config.type) {
    case 'openai':
      return {
        name,
        type: config.type,
        provider: openai({
          name,
          apiKey: config.apiKey,
          baseURL: config.baseURL,
          headers: config.headers,
          organization: config.organization,
          project: config.project,
          azure: config.azure,
          includeUsage: config.includeUsage,
          maxTokensField: config.maxTokensField,
          transport,
        }),
        dispose: none,
      };
    case 'anthropic':
      return {
        name,
        type: config.type,
        provider: anthropic({
          name,
          apiKey: config.apiKey,
          baseURL: config.baseURL,
          headers: config.headers,
          version: config.version,
          defaultMaxTokens: config.defaultMaxTokens,
          transport,
        }),
        dispose: none,
      };
    case 'gemini':
      return {
        name,
        type: config.type,
        provider: gemini({ name, apiKey: config.apiKey, baseURL: config.baseURL, headers: config.headers, transport }),
        dispose: none,
      };
    case 'ollama':
      return {
        name,
        type: config.type,
        provider: ollama({ name, apiKey: config.apiKey, baseURL: config.baseURL, headers: config.headers, keepAlive: config.keepAlive, transport }),
        dispose: none,
      };
    case 'simulated':
      return buildSimulated(name, config, options.clock);
  }
}

function buildSimulated(name: string, config: Extract<ProviderConfig, { type: 'simulated' }>, clock: Clock): BuiltProvider {
  const provider = simulated({
    name,
    clock,
    seed: config.seed,
    reply: config.reply === undefined ? undefined : replyTemplate(config.reply),
    chunkSize: config.chunkSize,
    latency: config.latency as LatencySpec | undefined,
    firstToken: config.firstToken as LatencySpec | undefined,
    chunkInterval: config.chunkInterval as LatencySpec | undefined,
    faults: config.faults as FaultRule[] | undefined,
    rateLimit: config.rateLimit,
    concurrency: config.concurrency,
    models: config.models,
    contextWindow: config.contextWindow,
  });
  const timers: Dispose[] = [];
  (config.outages ?? []).forEach((outage, i) => {
    const every = toMs(outage.every);
    const length = toMs(outage.duration);
    if (!(every > 0)) throw new TypeError(`outages[${i}].every: expected a duration > 0, got ${JSON.stringify(outage.every)}`);
    const rule: Omit<FaultRule, 'kind' | 'between'> = {};
    if (outage.retryAfter !== undefined) rule.retryAfter = outage.retryAfter;
    if (outage.probability !== undefined) rule.probability = outage.probability;
    if (outage.status !== undefined) rule.status = outage.status;
    const slot = timers.length;
    timers.push(() => {});
    const arm = (ms: number) => {
      timers[slot] = clock.setTimer(ms, () => {
        provider.control.injectOutage(outage.kind as FaultKind, length, rule);
        arm(every);
      });
    };
    arm(outage.start === undefined ? every : toMs(outage.start));
  });
  return {
    name,
    type: 'simulated',
    provider,
    simulated: provider,
    dispose: () => {
      for (const cancel of timers) cancel();
      provider.control.clear();
    },
  };
}

/** `{provider}`, `{model}`, `{input}` (the last user text) and `{call}` filled into a reply text. */
export function replyTemplate(template: string): ReplySpec {
  if (!template.includes('{')) return template;
  return (request, info) =>
    template.replace(/\{(provider|model|input|call)\}/g, (_, key: string) => {
      switch (key) {
        case 'provider':
          return info.provider;
        case 'model':
          return info.model;
        case 'call':
          return String(info.call);
        default:
          return lastUserText(request);
      }
    });
}

import type { ChatRequest, ContentPart } from '../llm/chat-request.js';
import { estimateRequestTokens } from './cost.js';
import { priorityStrategy, type Strategy, type StrategyInput } from './strategy.js';
import type { Target } from './target.js';
import type { TargetRuntime } from './target-runtime.js';

/**
 * Properties of a request, as plain data (what the gateway's YAML carries). Every field given
 * must hold; `{}` matches every request.
 */
export interface RequestCondition {
  /** Estimated input tokens (see `estimateRequestTokens`) at least this many. */
  minPromptTokens?: number;
  /** Estimated input tokens at most this many. */
  maxPromptTokens?: number;
  /** The request carries tools (true) or none (false). */
  hasTools?: boolean;
  /** A user or tool message carries an image (true) or none does (false). */
  hasImages?: boolean;
  /** The call is a stream (true) or a one-shot answer (false). */
  stream?: boolean;
  /** Each key's metadata value equals the given value, or one of the given values. */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
}

/** The escape hatch: any test of the request. */
export type RequestPredicate = (request: ChatRequest, input: StrategyInput) => boolean;

/** Which targets a rule picks: those whose id is listed, and those carrying any listed tag. */
export interface TargetSelector {
  tags?: readonly string[];
  ids?: readonly string[];
}

/** One rule of {@link when}. */
export interface RoutingRule {
  if: RequestCondition | RequestPredicate;
  use: TargetSelector;
  /** Use only the selected targets (no fallback to the others). Default false: they go first. */
  only?: boolean;
  /** Orders the selected targets; default the fallback strategy of {@link when}. */
  strategy?: Strategy;
}

const CONDITION_KEYS = new Set(['minPromptTokens', 'maxPromptTokens', 'hasTools', 'hasImages', 'stream', 'metadata']);
const SELECTOR_KEYS = new Set(['tags', 'ids']);
const RULE_KEYS = new Set(['if', 'use', 'only', 'strategy']);

interface CompiledRule {
  condition: RequestCondition | RequestPredicate;
  tags: ReadonlySet<string> | undefined;
  ids: ReadonlySet<string> | undefined;
  only: boolean;
  strategy: Strategy | undefined;
}

/** Per-call facts computed at most once, on demand (-1: not yet). */
interface Facts {
  tokens: number;
  images: number;
}

/**
 * Conditional routing: a {@link Strategy} that, per request, picks targets by the first rule whose
 * condition holds. The selected targets go first (ordered by the rule's `strategy`, else by
 * `fallback`) and the rest follow (ordered by `fallback`); with `only: true` the rest are left
 * out. A rule that selects none of this call's candidates leaves the order to `fallback` (or,
 * with `only`, leaves no candidate). When no rule matches, `fallback` orders all candidates
 * (default: by priority). Rules are checked here, once: a `TypeError` names the bad field.
 */
export function when(rules: readonly RoutingRule[], fallback: Strategy = priorityStrategy): Strategy {
  if (!Array.isArray(rules)) throw new TypeError('when: rules must be an array');
  if (typeof fallback !== 'function') throw new TypeError('when: the fallback strategy must be a function');
  const compiled = rules.map((rule, index) => compileRule(rule, `when: rules[${index}]`));
  const anyNeedsFacts = compiled.some((rule) => typeof rule.condition !== 'function');

  return (candidates, input) => {
    const facts: Facts | undefined = anyNeedsFacts ? { tokens: -1, images: -1 } : undefined;
    for (const rule of compiled) {
      const holds =
        typeof rule.condition === 'function' ? rule.condition(input.request, input) : conditionHolds(rule.condition, input.request, input.stream, facts!);
      if (holds) return applyRule(rule, candidates, input, fallback);
    }
    return fallback(candidates, input);
  };
}

/** True when `request` (sent as a stream or not) meets `condition`. */
export function matchesCondition(condition: RequestCondition, request: ChatRequest, stream = false): boolean {
  return conditionHolds(condition, request, stream, { tokens: -1, images: -1 });
}

function applyRule(rule: CompiledRule, candidates: readonly TargetRuntime[], input: StrategyInput, fallback: Strategy): readonly TargetRuntime[] {
  const selected: TargetRuntime[] = [];
  const rest: TargetRuntime[] = [];
  for (const runtime of candidates) (isSelected(rule, runtime.target) ? selected : rest).push(runtime);
  if (selected.length === 0) return rule.only ? selected : fallback(candidates, input);
  const first = (rule.strategy ?? fallback)(selected, input);
  if (rule.only || rest.length === 0) return first;
  return first.concat(fallback(rest, input));
}

function isSelected(rule: CompiledRule, target: Target): boolean {
  if (rule.ids?.has(target.id)) return true;
  if (!rule.tags) return false;
  for (const tag of target.tags) if (rule.tags.has(tag)) return true;
  return false;
}

function conditionHolds(c: RequestCondition, request: ChatRequest, stream: boolean, facts: Facts): boolean {
  // Cheapest tests first; the token estimate walks every message, so it comes last and once.
  if (c.stream !== undefined && c.stream !== stream) return false;
  if (c.hasTools !== undefined && c.hasTools !== (request.tools !== undefined && request.tools.length > 0)) return false;
  if (c.metadata !== undefined && !metadataMatches(c.metadata, request.metadata)) return false;
  if (c.hasImages !== undefined) {
    if (facts.images < 0) facts.images = hasImages(request) ? 1 : 0;
    if (c.hasImages !== (facts.images === 1)) return false;
  }
  if (c.minPromptTokens !== undefined || c.maxPromptTokens !== undefined) {
    if (facts.tokens < 0) facts.tokens = estimateRequestTokens(request);
    if (c.minPromptTokens !== undefined && facts.tokens < c.minPromptTokens) return false;
    if (c.maxPromptTokens !== undefined && facts.tokens > c.maxPromptTokens) return false;
  }
  return true;
}

function metadataMatches(wanted: Readonly<Record<string, string | readonly string[]>>, actual: Record<string, string> | undefined): boolean {
  for (const key in wanted) {
    const value = actual?.[key];
    if (value === undefined) return false;
    const expected = wanted[key]!;
    if (typeof expected === 'string' ? value !== expected : !expected.includes(value)) return false;
  }
  return true;
}

function hasImages(request: ChatRequest): boolean {
  for (const message of request.messages) {
    if ((message.role === 'user' || message.role === 'tool') && typeof message.content !== 'string' && partsHaveImage(message.content)) return true;
  }
  return false;
}

function partsHaveImage(parts: readonly ContentPart[]): boolean {
  for (const part of parts) if (part.type === 'image') return true;
  return false;
}

// --- validation (rules often come from YAML, so every message names the path) --------------

function compileRule(rule: RoutingRule, path: string): CompiledRule {
  if (!isObject(rule)) throw new TypeError(`${path}: expected an object with \`if\` and \`use\``);
  checkKeys(rule, RULE_KEYS, path);
  const condition = rule.if;
  if (typeof condition !== 'function') checkCondition(condition, `${path}.if`);
  const selector = rule.use;
  if (!isObject(selector)) throw new TypeError(`${path}.use: expected an object with \`tags\` and/or \`ids\``);
  checkKeys(selector, SELECTOR_KEYS, `${path}.use`);
  const tags = stringList(selector.tags, `${path}.use.tags`);
  const ids = stringList(selector.ids, `${path}.use.ids`);
  if (!tags?.length && !ids?.length) throw new TypeError(`${path}.use: expected a non-empty \`tags\` or \`ids\` list`);
  if (rule.only !== undefined && typeof rule.only !== 'boolean') throw new TypeError(`${path}.only: expected a boolean, got ${describe(rule.only)}`);
  if (rule.strategy !== undefined && typeof rule.strategy !== 'function') {
    throw new TypeError(`${path}.strategy: expected a strategy function, got ${describe(rule.strategy)}`);
  }
  return {
    condition,
    tags: tags?.length ? new Set(tags) : undefined,
    ids: ids?.length ? new Set(ids) : undefined,
    only: rule.only ?? false,
    strategy: rule.strategy,
  };
}

function checkCondition(condition: unknown, path: string): asserts condition is RequestCondition {
  if (!isObject(condition)) throw new TypeError(`${path}: expected an object of conditions or a function, got ${describe(condition)}`);
  checkKeys(condition, CONDITION_KEYS, path);
  const c = condition as RequestCondition;
  for (const key of ['minPromptTokens', 'maxPromptTokens'] as const) {
    const value = c[key];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && Number.isFinite(value))) {
      throw new TypeError(`${path}.${key}: expected a number >= 0, got ${describe(value)}`);
    }
  }
  for (const key of ['hasTools', 'hasImages', 'stream'] as const) {
    const value = c[key];
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${path}.${key}: expected a boolean, got ${describe(value)}`);
  }
  if (c.minPromptTokens !== undefined && c.maxPromptTokens !== undefined && c.minPromptTokens > c.maxPromptTokens) {
    throw new TypeError(`${path}: minPromptTokens (${c.minPromptTokens}) is above maxPromptTokens (${c.maxPromptTokens})`);
  }
  if (c.metadata !== undefined) {
    if (!isObject(c.metadata)) throw new TypeError(`${path}.metadata: expected an object of strings, got ${describe(c.metadata)}`);
    for (const [key, value] of Object.entries(c.metadata)) {
      if (typeof value !== 'string') stringList(value, `${path}.metadata.${key}`, 'a string or a list of strings');
    }
  }
}

function checkKeys(value: object, allowed: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw new TypeError(`${path}.${key}: unknown field (expected one of ${[...allowed].join(', ')})`);
  }
}

function stringList(value: unknown, path: string, expected = 'a list of strings'): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new TypeError(`${path}: expected ${expected}, got ${describe(value)}`);
  return value as readonly string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

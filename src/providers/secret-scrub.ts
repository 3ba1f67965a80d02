import { classifyThrown } from '../llm/classify.js';
import { isLlmError, LlmError } from '../llm/llm-error.js';
import type { HttpCallContext } from './http.js';

/** Secrets shorter than this are not masked: masking them would mangle ordinary words. */
const MIN_SECRET = 4;
/** Extra headers whose values are credentials (a proxy's auth, a gateway key); others are left alone. */
const SENSITIVE_HEADER = /auth|key|token|secret|cookie|session|signature|password|credential/i;

/**
 * What an adapter must never let into an error: its API key, the values of its extra headers
 * that carry credentials, and the token of any `Bearer` / `Basic` value on its own, since
 * upstream error bodies sometimes echo what they were sent in shapes `redactSecrets` cannot know.
 */
export function providerSecrets(apiKey: string | undefined, headers: Readonly<Record<string, string>> | undefined): string[] {
  const secrets = new Set<string>();
  const add = (value: string | undefined) => {
    const trimmed = value?.trim();
    if (trimmed && trimmed.length >= MIN_SECRET) secrets.add(trimmed);
  };
  add(apiKey);
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string') continue;
    const token = /^(?:bearer|basic)\s+(.+)$/i.exec(value.trim())?.[1];
    if (token || SENSITIVE_HEADER.test(name)) add(value);
    add(token);
  }
  // Longest first, so a token inside a longer secret does not leave the rest of it behind.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/**
 * Classifies what an adapter caught into an `LlmError` whose message cannot leak a secret: each
 * occurrence becomes `***`, and a cause that mentions one is dropped. Errors without any pass as they are.
 */
export function scrubSecrets(thrown: unknown, ctx: Pick<HttpCallContext, 'provider' | 'model' | 'signal'>, secrets: readonly string[]): LlmError {
  const error = isLlmError(thrown) ? thrown : classifyThrown(thrown, { provider: ctx.provider, model: ctx.model, signal: ctx.signal });
  if (secrets.length === 0) return error;
  const inMessage = secrets.some((s) => error.message.includes(s));
  const inCause = secrets.some((s) => mentions(error.cause, s));
  if (!inMessage && !inCause) return error;
  let message = error.message;
  for (const secret of secrets) message = message.split(secret).join('***');
  return new LlmError({
    kind: error.kind,
    message,
    status: error.status,
    provider: error.provider,
    model: error.model,
    retryAfterMs: error.retryAfterMs,
    code: error.code,
    type: error.type,
    requestId: error.requestId,
    rateLimit: error.rateLimit,
    ...(inCause ? {} : { cause: error.cause }),
  });
}

function mentions(cause: unknown, secret: string, depth = 0): boolean {
  if (depth > 4 || cause === undefined || cause === null) return false;
  if (typeof cause === 'string') return cause.includes(secret);
  if (cause instanceof Error) return cause.message.includes(secret) || mentions(cause.cause, secret, depth + 1);
  return false;
}

import { describe, expect, it } from 'vitest';
import { LlmError } from '../llm/llm-error.js';
import { anthropic } from './anthropic.js';
import { gemini } from './gemini.js';
import { ollama } from './ollama.js';
import { openai } from './openai.js';
import type { ChatProvider } from './provider.js';
import { providerSecrets, scrubSecrets } from './secret-scrub.js';
import type { Transport } from './transport.js';
import { events, failure } from '../../test/support/provider-test.js';

const KEY = 'plain-key-777777';
const HEADER = 'plainheadersecret999';

/** A transport answering every request with `status` and a JSON body quoting both secrets. */
function echoing(status: number, body: (said: string) => unknown): Transport {
  return async () => {
    const text = JSON.stringify(body(`bad credential ${KEY} with x-custom-auth ${HEADER} rejected`));
    return {
      status,
      headers: { get: (name) => (name === 'content-type' ? 'application/json' : null), has: (name) => name === 'content-type' },
      body: (async function* () {
        yield new TextEncoder().encode(text);
      })(),
    };
  };
}

const headers = { 'x-custom-auth': HEADER };
const adapters: Array<[string, ChatProvider]> = [
  ['openai', openai({ apiKey: KEY, headers, transport: echoing(401, (m) => ({ error: { message: m, type: 'invalid_request_error', code: 'invalid_api_key' } })) })],
  ['anthropic', anthropic({ apiKey: KEY, headers, transport: echoing(401, (m) => ({ type: 'error', error: { type: 'authentication_error', message: m } })) })],
  ['gemini', gemini({ apiKey: KEY, headers, transport: echoing(400, (m) => ({ error: { code: 400, message: m, status: 'INVALID_ARGUMENT' } })) })],
  ['ollama', ollama({ apiKey: KEY, headers, transport: echoing(401, (m) => ({ error: m })) })],
];

describe('secrets echoed by an upstream error', () => {
  for (const [name, provider] of adapters) {
    it(`${name}: the key and the extra headers' values never reach the error`, async () => {
      const call = { model: 'm', signal: new AbortController().signal };
      const request = { messages: [{ role: 'user' as const, content: 'hi' }] };
      for (const error of [await failure(provider.chat(request, call)), await failure(events(provider.stream(request, call)))]) {
        const seen = `${error.message} ${JSON.stringify(error)} ${error.stack ?? ''} ${String(error.cause ?? '')}`;
        expect(seen).not.toContain(KEY);
        expect(seen).not.toContain(HEADER);
        expect(error.message).toContain('bad credential *** with x-custom-auth *** rejected');
      }
    });
  }
});

describe('providerSecrets / scrubSecrets', () => {
  it('takes the key, credential headers and the token of a Bearer value; not ordinary headers, nor tiny values', () => {
    expect(
      providerSecrets('sk-1', { authorization: 'Bearer tok-abcdef', 'x-api-key': 'k-98765', 'content-type': 'application/json', org: 'org-12345', 'x-token': 'ab' }),
    ).toEqual(['Bearer tok-abcdef', 'tok-abcdef', 'k-98765', 'sk-1']);
    expect(providerSecrets(undefined, undefined)).toEqual([]);
  });

  it('drops a cause that mentions a secret and keeps every other field', () => {
    const cause = new Error(`socket said sk-123456`);
    const error = new LlmError({ kind: 'auth', message: 'denied sk-123456', status: 401, provider: 'p', model: 'm', code: 'c', cause });
    const clean = scrubSecrets(error, { provider: 'p', model: 'm', signal: new AbortController().signal }, ['sk-123456']);
    expect(clean.message).toBe('denied ***');
    expect(clean.cause).toBeUndefined();
    expect(clean.toJSON()).toMatchObject({ kind: 'auth', status: 401, provider: 'p', model: 'm', code: 'c' });
    const untouched = new LlmError({ kind: 'server', message: 'fine' });
    expect(scrubSecrets(untouched, { provider: 'p', model: 'm', signal: new AbortController().signal }, ['sk-123456'])).toBe(untouched);
  });
});

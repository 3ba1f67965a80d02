import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact.js';

const OPENAI_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd';
const LEGACY_OPENAI_KEY = 'sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh';
const ANTHROPIC_KEY = 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEfGh';
const GOOGLE_KEY = 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q';

describe('redactSecrets', () => {
  it('masks OpenAI keys, keeping only the prefix', () => {
    expect(redactSecrets(`Incorrect API key provided: ${OPENAI_KEY}.`)).toBe('Incorrect API key provided: sk-proj-***.');
    expect(redactSecrets(`key ${LEGACY_OPENAI_KEY} failed`)).toBe('key sk-*** failed');
  });

  it('masks Anthropic keys', () => {
    expect(redactSecrets(`invalid x-api-key ${ANTHROPIC_KEY}`)).toBe('invalid x-api-key sk-ant-***');
  });

  it('masks Google API keys', () => {
    expect(redactSecrets(`API key not valid: ${GOOGLE_KEY}`)).toBe('API key not valid: AIza***');
  });

  it('masks Bearer credentials', () => {
    expect(redactSecrets('sent Bearer abc.def-ghi_jkl/mno+p= to the server')).toBe('sent Bearer *** to the server');
    expect(redactSecrets('Authorization: Bearer abcdef123456')).toBe('Authorization: Bearer ***');
  });

  it('masks credential headers and fields however they are written', () => {
    expect(redactSecrets('x-api-key: my-own-secret')).toBe('x-api-key: ***');
    expect(redactSecrets('{"api-key":"azure-secret-value","model":"gpt"}')).toBe('{"api-key":"***","model":"gpt"}');
    expect(redactSecrets("{'x-goog-api-key': 'abcdef'}")).toBe("{'x-goog-api-key': '***'}");
    expect(redactSecrets('api_key=hunter2&model=x')).toBe('api_key=***&model=x');
  });

  it('masks key= and token query parameters in URLs', () => {
    expect(
      redactSecrets('POST https://generativelanguage.googleapis.com/v1beta/models/x:generateContent?alt=sse&key=secret123 failed'),
    ).toBe('POST https://generativelanguage.googleapis.com/v1beta/models/x:generateContent?alt=sse&key=*** failed');
    expect(redactSecrets('https://x.test/?access_token=abc&sig=def#frag')).toBe('https://x.test/?access_token=***&sig=***#frag');
  });

  it('masks credentials inside URLs', () => {
    expect(redactSecrets('cannot reach redis://:s3cret-pass@127.0.0.1:6379/0')).toBe('cannot reach redis://***@127.0.0.1:6379/0');
    expect(redactSecrets('redis://:p@ss@cache:6379 failed')).toBe('redis://***@cache:6379 failed');
    expect(redactSecrets('see https://docs.example.com/a@b')).toBe('see https://docs.example.com/a@b');
    expect(redactSecrets('"https://user:p4ss@proxy.test:8080/v1"')).toBe('"https://***@proxy.test:8080/v1"');
    expect(redactSecrets('redis://127.0.0.1:6379 and mail to someone@example.com')).toBe('redis://127.0.0.1:6379 and mail to someone@example.com');
  });

  it('masks JWTs (Azure AD tokens)', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
    expect(redactSecrets(`token ${jwt} expired`)).toBe('token eyJ*** expired');
  });

  it('masks distinctive keys even when glued to a word', () => {
    expect(redactSecrets(`x${ANTHROPIC_KEY}`)).toBe('xsk-ant-***');
    expect(redactSecrets(`0${LEGACY_OPENAI_KEY}`)).toBe('0sk-***');
  });

  it('leaves ordinary text alone', () => {
    const text =
      'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. See task-scheduler-configuration and risk-assessment-framework.';
    expect(redactSecrets(text)).toBe(text);
  });

  it('is idempotent', () => {
    const once = redactSecrets(`Authorization: Bearer ${OPENAI_KEY} and ${GOOGLE_KEY}?key=${ANTHROPIC_KEY}`);
    expect(redactSecrets(once)).toBe(once);
  });

  it('never lets a generated key through, whatever surrounds it', () => {
    const alnum = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
    const body = fc.string({ unit: alnum, minLength: 24, maxLength: 60 });
    const key = fc.oneof(
      body.map((b) => `sk-${b}`),
      body.map((b) => `sk-ant-api03-${b}`),
      body.map((b) => `sk-proj-${b}`),
      body.map((b) => `AIza${b}`),
    );
    // Keys are delimited in real text; a generic `sk-` glued after a letter reads as a word.
    const around = fc.string({ unit: fc.constantFrom(' ', '.', ',', ':', '=', '"', '\n', '(', ')'), minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), around, key, around, fc.string({ maxLength: 20 }), (pre, l, k, r, post) => {
        const out = redactSecrets(`${pre}${l}${k}${r}${post}`);
        // The part after the prefix is random; none of it may survive.
        expect(out).not.toContain(k.slice(-20));
      }),
    );
  });
});

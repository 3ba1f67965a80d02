import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../policy/errors.js';
import {
  abortedError,
  classifyHttpError,
  contentFilterError,
  classifyStreamError,
  classifyThrown,
  connectionError,
  timeoutError,
  truncatedStreamError,
  waitFromMessage,
} from './classify.js';
import { ERROR_KINDS } from './error-kind.js';
import { isLlmError } from './llm-error.js';

const NOW = Date.parse('2025-08-21T12:40:00Z');

const openaiBody = (message: string, type: string | null, code: string | null, param: string | null = null) =>
  JSON.stringify({ error: { message, type, param, code } });
const anthropicBody = (type: string, message: string, errorCode?: string) =>
  JSON.stringify({
    type: 'error',
    error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  });
const geminiBody = (code: number, status: string, message: string, details: unknown[] = []) =>
  JSON.stringify({ error: { code, message, status, details } });

const openai = (status: number, body: string, headers: Record<string, string> = {}) =>
  classifyHttpError({ provider: 'openai', status, body, headers, now: NOW });
const anthropic = (status: number, body: string, headers: Record<string, string> = {}) =>
  classifyHttpError({ provider: 'anthropic', status, body, headers, now: NOW });
const gemini = (status: number, body: string) => classifyHttpError({ provider: 'gemini', status, body, now: NOW });
const ollama = (status: number, body: string) => classifyHttpError({ provider: 'ollama', status, body, now: NOW });

const QUOTA_MESSAGE = 'You exceeded your current quota, please check your plan and billing details.';
const RATE_MESSAGE =
  'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits to learn more.';
const GEMINI_429 = 'You exceeded your current quota, please check your plan and billing details.';
const retryInfo = (retryDelay: string) => ({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay });
const quotaFailure = (quotaId: string) => ({
  '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
  violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId }],
});
const help = { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more', url: 'https://ai.google.dev' }] };

describe('classifyHttpError: OpenAI', () => {
  it('429 insufficient_quota (type) is quota and never retried', () => {
    const e = openai(429, openaiBody(QUOTA_MESSAGE, 'insufficient_quota', 'insufficient_quota'), { 'retry-after': '1' });
    expect(e.kind).toBe('quota');
    expect(e.retryable).toBe(false);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e).toMatchObject({ status: 429, provider: 'openai', type: 'insufficient_quota', code: 'insufficient_quota' });
  });

  it('429 insufficient_quota with a null code is quota', () => {
    expect(openai(429, openaiBody(QUOTA_MESSAGE, 'insufficient_quota', null)).kind).toBe('quota');
  });

  it.each([
    'credit_balance_exhausted',
    'organization_spend_limit_exceeded',
    'project_spend_limit_exceeded',
    'organization_usage_limit_exceeded',
  ])('429 billing code %s is quota', (code) => {
    const e = openai(429, openaiBody(QUOTA_MESSAGE, 'insufficient_quota', code));
    expect(e.kind).toBe('quota');
    expect(e.code).toBe(code);
  });

  it('429 billing code alone (no type) is quota', () => {
    expect(openai(429, openaiBody('Spend limit reached.', null, 'project_spend_limit_exceeded')).kind).toBe('quota');
  });

  it('429 rate_limit_exceeded is rate_limit with the wait from retry-after-ms', () => {
    const e = openai(429, openaiBody(RATE_MESSAGE, 'tokens', 'rate_limit_exceeded'), {
      'retry-after-ms': '250',
      'x-request-id': 'req_abc',
    });
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(250);
    expect(e.requestId).toBe('req_abc');
    expect(e.retryable).toBe(true);
  });

  it('429 rate_limit_exceeded takes the wait from an exhausted bucket’s reset header', () => {
    const e = openai(429, openaiBody(RATE_MESSAGE, 'tokens', 'rate_limit_exceeded'), {
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '1.5s',
    });
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(1500);
    expect(e.rateLimit?.tokens).toEqual({ limit: 30000, remaining: 0, resetMs: 1500 });
  });

  it('429 rate_limit_exceeded without headers takes the wait from "try again in 644ms"', () => {
    const e = openai(429, openaiBody(RATE_MESSAGE, 'tokens', 'rate_limit_exceeded'));
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(644);
  });

  it.each([
    ['Please try again in 1.5s.', 1500],
    ['Please try again in 6m0s.', 360_000],
    ['Please try again in 20ms.', 20],
  ])('429 rate_limit_exceeded reads "%s"', (tail, ms) => {
    const message = `Rate limit reached for gpt-4o in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. ${tail}`;
    expect(openai(429, openaiBody(message, 'requests', 'rate_limit_exceeded')).retryAfterMs).toBe(ms);
  });

  it('429 "Request too large" is not retried but falls back (context_length)', () => {
    const message =
      'Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.';
    const e = openai(429, openaiBody(message, 'tokens', 'rate_limit_exceeded'), { 'retry-after': '2' });
    expect(e.kind).toBe('context_length');
    expect(e.retryable).toBe(false);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e.code).toBe('rate_limit_exceeded');
  });

  it('429 slow_down is rate_limit', () => {
    const e = openai(429, openaiBody('Please reduce your rate of requests.', 'rate_limit_error', 'slow_down'));
    expect(e.kind).toBe('rate_limit');
    expect(e.code).toBe('slow_down');
  });

  it('503 server_is_overloaded is overloaded', () => {
    const e = openai(
      503,
      openaiBody('The server is overloaded, please try again later.', 'service_unavailable_error', 'server_is_overloaded'),
    );
    expect(e.kind).toBe('overloaded');
    expect(e.retryable).toBe(true);
  });

  it('400 context_length_exceeded is context_length', () => {
    const e = openai(
      400,
      openaiBody(
        "This model's maximum context length is 4097 tokens. However, your messages resulted in 4294 tokens. Please reduce the length of the messages.",
        'invalid_request_error',
        'context_length_exceeded',
        'messages',
      ),
    );
    expect(e.kind).toBe('context_length');
    expect(e).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
  });

  it('401 invalid_api_key is auth, and the key never reaches the message', () => {
    const e = openai(
      401,
      openaiBody(
        'Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234. You can find your API key at https://platform.openai.com/account/api-keys.',
        'invalid_request_error',
        'invalid_api_key',
      ),
    );
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain('AbCdEfGh');
    expect(e.message).toContain('sk-proj-***');
  });

  it('403 "Country, region, or territory not supported" is auth', () => {
    const e = openai(
      403,
      openaiBody('Country, region, or territory not supported', 'request_forbidden', 'unsupported_country_region_territory'),
    );
    expect(e.kind).toBe('auth');
  });

  it('404 model_not_found is not_found', () => {
    const e = openai(
      404,
      openaiBody('The model `gpt-9` does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found'),
    );
    expect(e.kind).toBe('not_found');
  });

  it('408 is timeout', () => {
    expect(openai(408, '').kind).toBe('timeout');
  });

  it('500 server_error is server', () => {
    const e = openai(500, openaiBody('The server had an error while processing your request. Sorry about that!', 'server_error', null));
    expect(e.kind).toBe('server');
    expect(e.type).toBe('server_error');
    expect(e.code).toBeUndefined();
  });

  it.each([502, 504])('%i with an HTML body is server, with a readable message', (status) => {
    const html = `<html>\r\n<head><title>${status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>${status} Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n`;
    const e = openai(status, html);
    expect(e.kind).toBe('server');
    expect(e.message).toBe(`openai HTTP ${status}: ${status} Bad Gateway ${status} Bad Gateway cloudflare`);
  });

  it('400 invalid_request_error is invalid_request', () => {
    const e = openai(400, openaiBody("Invalid value for 'temperature': expected a number.", 'invalid_request_error', null, 'temperature'));
    expect(e.kind).toBe('invalid_request');
    expect(e.retryable).toBe(false);
    expect(e.param).toBe('temperature');
    expect(e.toJSON()).toMatchObject({ param: 'temperature' });
  });

  it('400 content_filter (Azure OpenAI) is content_filter', () => {
    const body = JSON.stringify({
      error: {
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
      },
    });
    expect(openai(400, body).kind).toBe('content_filter');
  });

  it('422 is invalid_request', () => {
    expect(openai(422, JSON.stringify({ detail: [{ loc: ['body', 'messages'], msg: 'field required' }] })).kind).toBe(
      'invalid_request',
    );
  });

  it('Azure OpenAI 429 "exceeded token rate limit" is rate_limit, waiting retry-after', () => {
    const body = JSON.stringify({
      error: {
        code: '429',
        message:
          'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.',
      },
    });
    expect(openai(429, body)).toMatchObject({ kind: 'rate_limit', retryAfterMs: 6000 });
    expect(openai(429, body, { 'retry-after': '4' }).retryAfterMs).toBe(4000);
  });

  it('keeps the message and tags it with the code', () => {
    expect(openai(429, openaiBody(RATE_MESSAGE, 'tokens', 'rate_limit_exceeded')).message).toBe(
      `openai HTTP 429 (rate_limit_exceeded): ${RATE_MESSAGE}`,
    );
  });
});

describe('classifyHttpError: Anthropic', () => {
  it('529 overloaded_error is overloaded', () => {
    const e = anthropic(529, anthropicBody('overloaded_error', 'Overloaded'), { 'request-id': 'req_011' });
    expect(e.kind).toBe('overloaded');
    expect(e.type).toBe('overloaded_error');
    expect(e.requestId).toBe('req_011');
  });

  it('529 honours retry-after when present', () => {
    expect(anthropic(529, anthropicBody('overloaded_error', 'Overloaded'), { 'retry-after': '3' }).retryAfterMs).toBe(3000);
  });

  it('429 rate_limit_error with retry-after is rate_limit, waiting retry-after', () => {
    const e = anthropic(
      429,
      anthropicBody('rate_limit_error', 'This request would exceed the rate limit for your organization of 50 requests per minute.'),
      { 'retry-after': '17', 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': '2025-08-21T12:40:17Z' },
    );
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(17_000);
    expect(e.rateLimit?.requests).toEqual({ remaining: 0, resetMs: 17_000 });
  });

  it('429 ramp_limit_exceeded is rate_limit', () => {
    const e = anthropic(429, anthropicBody('rate_limit_error', 'Acceleration limit exceeded.', 'ramp_limit_exceeded'), {
      'retry-after': '5',
    });
    expect(e.kind).toBe('rate_limit');
    expect(e.code).toBe('ramp_limit_exceeded');
  });

  it('429 enforced_spend_limit_reached is quota, even with retry-after', () => {
    const e = anthropic(
      429,
      anthropicBody('rate_limit_error', 'You have reached your monthly spend limit.', 'enforced_spend_limit_reached'),
      { 'retry-after': '60' },
    );
    expect(e.kind).toBe('quota');
    expect(e.code).toBe('enforced_spend_limit_reached');
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('429 rate_limit_error without retry-after is quota', () => {
    expect(anthropic(429, anthropicBody('rate_limit_error', 'Rate limited.')).kind).toBe('quota');
  });

  it('429 rate_limit_error without retry-after but with an exhausted bucket is rate_limit', () => {
    const e = anthropic(429, anthropicBody('rate_limit_error', 'Rate limited.'), {
      'anthropic-ratelimit-tokens-remaining': '0',
      'anthropic-ratelimit-tokens-reset': '2025-08-21T12:40:09Z',
    });
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(9000);
  });

  it('402 billing_error is quota', () => {
    expect(anthropic(402, anthropicBody('billing_error', 'Your credit balance is too low.')).kind).toBe('quota');
  });

  it.each(['contract_spend_limit_reached', 'organization_on_hold'])('%s is quota', (code) => {
    expect(anthropic(400, anthropicBody('invalid_request_error', 'Access paused.', code)).kind).toBe('quota');
  });

  it('400 spend-limit invalid_request_error (by message) is quota', () => {
    const body = anthropicBody(
      'invalid_request_error',
      'You have reached your specified API usage limits. You will regain access on 2025-09-01 at 00:00 UTC.',
    );
    expect(anthropic(400, body).kind).toBe('quota');
    expect(anthropic(400, anthropicBody('invalid_request_error', 'Your credit balance is too low to access the Anthropic API.')).kind).toBe(
      'quota',
    );
  });

  it('400 "prompt is too long" is context_length', () => {
    expect(anthropic(400, anthropicBody('invalid_request_error', 'prompt is too long: 208656 tokens > 200000 maximum')).kind).toBe(
      'context_length',
    );
  });

  it('400 "temperature: Extra inputs are not permitted" is invalid_request', () => {
    expect(anthropic(400, anthropicBody('invalid_request_error', 'temperature: Extra inputs are not permitted')).kind).toBe(
      'invalid_request',
    );
  });

  it('401 authentication_error and 403 permission_error are auth', () => {
    expect(anthropic(401, anthropicBody('authentication_error', 'invalid x-api-key')).kind).toBe('auth');
    expect(anthropic(403, anthropicBody('permission_error', 'Your API key does not have permission.')).kind).toBe('auth');
  });

  it('404 not_found_error is not_found', () => {
    expect(anthropic(404, anthropicBody('not_found_error', 'model: claude-9')).kind).toBe('not_found');
  });

  it('413 request_too_large (Cloudflare, any body) is context_length', () => {
    expect(anthropic(413, '<html><body>413 Request Entity Too Large</body></html>').kind).toBe('context_length');
  });

  it('500 api_error is server, 504 timeout_error is server', () => {
    expect(anthropic(500, anthropicBody('api_error', 'Internal server error')).kind).toBe('server');
    expect(anthropic(504, anthropicBody('timeout_error', 'Request timed out')).kind).toBe('server');
  });

  it('409 conflict_error is server (retried like the SDKs do)', () => {
    expect(anthropic(409, anthropicBody('conflict_error', 'Conflict')).kind).toBe('server');
  });

  it('takes the request id from the body when the header is missing', () => {
    expect(anthropic(500, anthropicBody('api_error', 'x')).requestId).toBe('req_011CSHoEeqs5C35K2UUqR7Fy');
  });
});

describe('classifyHttpError: Gemini', () => {
  it('429 RESOURCE_EXHAUSTED with RetryInfo.retryDelay "43s" is rate_limit with 43000 ms', () => {
    const e = gemini(
      429,
      geminiBody(429, 'RESOURCE_EXHAUSTED', `${GEMINI_429} Please retry in 43.617996349s.`, [
        quotaFailure('GenerateRequestsPerMinutePerProjectPerModel-FreeTier'),
        help,
        retryInfo('43s'),
      ]),
    );
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(43_000);
    expect(e.type).toBe('RESOURCE_EXHAUSTED');
  });

  it('429 with a PerDay quotaId is quota, even with RetryInfo', () => {
    const e = gemini(
      429,
      geminiBody(429, 'RESOURCE_EXHAUSTED', GEMINI_429, [
        quotaFailure('GenerateRequestsPerDayPerProjectPerModel-FreeTier'),
        help,
        retryInfo('43s'),
      ]),
    );
    expect(e.kind).toBe('quota');
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('429 without RetryInfo is quota', () => {
    expect(gemini(429, geminiBody(429, 'RESOURCE_EXHAUSTED', GEMINI_429, [help])).kind).toBe('quota');
  });

  it('400 FAILED_PRECONDITION is quota', () => {
    const e = gemini(
      400,
      geminiBody(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use without a billing account linked.'),
    );
    expect(e.kind).toBe('quota');
  });

  it('400 API_KEY_INVALID is auth', () => {
    const e = gemini(
      400,
      geminiBody(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ]),
    );
    expect(e.kind).toBe('auth');
    expect(e).toMatchObject({ code: 'API_KEY_INVALID', type: 'INVALID_ARGUMENT' });
  });

  it('400 "The input token count (…) exceeds" is context_length', () => {
    const e = gemini(
      400,
      geminiBody(400, 'INVALID_ARGUMENT', 'The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).'),
    );
    expect(e.kind).toBe('context_length');
  });

  it('400 INVALID_ARGUMENT otherwise is invalid_request', () => {
    expect(gemini(400, geminiBody(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.')).kind).toBe('invalid_request');
  });

  it('403 PERMISSION_DENIED is auth', () => {
    expect(gemini(403, geminiBody(403, 'PERMISSION_DENIED', 'Method doesn’t allow unregistered callers.')).kind).toBe('auth');
  });

  it('404 NOT_FOUND is not_found', () => {
    const message = 'models/x is not found for API version v1beta, or is not supported for generateContent. Call ListModels…';
    expect(gemini(404, geminiBody(404, 'NOT_FOUND', message)).kind).toBe('not_found');
  });

  it('503 UNAVAILABLE is overloaded', () => {
    expect(gemini(503, geminiBody(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.')).kind).toBe('overloaded');
  });

  it('500 INTERNAL and 504 DEADLINE_EXCEEDED are server', () => {
    expect(gemini(500, geminiBody(500, 'INTERNAL', 'An internal error has occurred.')).kind).toBe('server');
    expect(gemini(504, geminiBody(504, 'DEADLINE_EXCEEDED', 'Deadline exceeded.')).kind).toBe('server');
  });

  it('reads an error wrapped in a JSON array (streamGenerateContent without alt=sse)', () => {
    const body = `[${geminiBody(429, 'RESOURCE_EXHAUSTED', GEMINI_429, [retryInfo('2s')])}]`;
    expect(gemini(429, body)).toMatchObject({ kind: 'rate_limit', retryAfterMs: 2000 });
  });
});

describe('classifyHttpError: Ollama', () => {
  it('503 "server busy" is overloaded', () => {
    const e = ollama(503, JSON.stringify({ error: 'server busy, please try again.  maximum pending requests exceeded' }));
    expect(e.kind).toBe('overloaded');
    expect(e.message).toBe('ollama HTTP 503: server busy, please try again.  maximum pending requests exceeded');
  });

  it('400 "the prompt is longer than the context length" is context_length', () => {
    const body = JSON.stringify({
      error: 'the prompt is longer than the context length currently available to the model; try a shorter prompt',
    });
    expect(ollama(400, body).kind).toBe('context_length');
  });

  it('404 "model not found" is not_found', () => {
    expect(ollama(404, JSON.stringify({ error: 'model "llama9" not found, try pulling it first' })).kind).toBe('not_found');
  });

  it('400 {"error": …} is invalid_request, 500 is server, 502 is server, 429 is rate_limit', () => {
    expect(ollama(400, JSON.stringify({ error: 'invalid options' })).kind).toBe('invalid_request');
    expect(ollama(500, JSON.stringify({ error: 'an error was encountered while running the model' })).kind).toBe('server');
    expect(ollama(502, JSON.stringify({ error: 'cloud model unreachable' })).kind).toBe('server');
    expect(ollama(429, JSON.stringify({ error: 'too many requests' })).kind).toBe('rate_limit');
  });

  it('499 (canceled upstream, not by our caller) is connection', () => {
    expect(ollama(499, '').kind).toBe('connection');
  });

  it('OpenAI-compatible /v1 errors classify by status', () => {
    const body = JSON.stringify({ error: { message: 'model "x" not found', type: 'not_found_error', param: null, code: null } });
    expect(ollama(404, body).kind).toBe('not_found');
  });
});

describe('classifyHttpError: any body', () => {
  it('never throws on bodies that are not JSON, or truncated JSON', () => {
    for (const body of ['', 'oops', '{"error":', '[1,2', 'null', '"string"', '{"error":{"message":5}}', '<html>']) {
      expect(() => openai(500, body)).not.toThrow();
      expect(openai(500, body).kind).toBe('server');
    }
  });

  it('maps every status to a kind, for any body (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(fc.string(), fc.json()),
        fc.constantFrom('openai', 'anthropic', 'gemini', 'ollama', 'groq'),
        (status, body, provider) => {
          const e = classifyHttpError({ provider, status, body, now: NOW });
          expect(isLlmError(e)).toBe(true);
          expect(ERROR_KINDS).toContain(e.kind);
          if (e.retryAfterMs !== undefined) expect(Number.isFinite(e.retryAfterMs)).toBe(true);
        },
      ),
    );
  });

  it('401 without a body is auth, 404 is not_found, 418 is invalid_request', () => {
    expect(openai(401, '').kind).toBe('auth');
    expect(openai(404, '').kind).toBe('not_found');
    expect(openai(418, '').kind).toBe('invalid_request');
    expect(openai(401, '').message).toBe('openai HTTP 401: empty body');
  });
});

describe('classifyStreamError', () => {
  it('OpenAI mid-stream {"error":{"type":"server_error"}} is server, with no status', () => {
    const e = classifyStreamError('openai', {
      error: { message: 'The server had an error processing your request.', type: 'server_error', param: null, code: null },
    });
    expect(e.kind).toBe('server');
    expect(e.status).toBeUndefined();
    expect(e.message).toBe('openai stream error (server_error): The server had an error processing your request.');
  });

  it('Anthropic mid-stream overloaded_error frame is overloaded', () => {
    const e = classifyStreamError('anthropic', '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
    expect(e.kind).toBe('overloaded');
    expect(e.type).toBe('overloaded_error');
  });

  it('Anthropic mid-stream api_error and rate_limit_error frames', () => {
    expect(classifyStreamError('anthropic', { type: 'error', error: { type: 'api_error', message: 'x' } }).kind).toBe('server');
    expect(classifyStreamError('anthropic', { type: 'error', error: { type: 'rate_limit_error', message: 'x' } }).kind).toBe(
      'rate_limit',
    );
  });

  it('Responses API nested error event is classified by its type/code', () => {
    const frame = {
      type: 'error',
      sequence_number: 2,
      error: { type: 'too_many_requests', code: 'too_many_requests', message: 'Too Many Requests', param: null },
    };
    expect(classifyStreamError('openai', frame).kind).toBe('rate_limit');
  });

  it('Responses API flat error event is classified by its code', () => {
    const frame = { type: 'error', code: 'rate_limit_exceeded', message: 'Please try again in 1.5s.', param: null, sequence_number: 3 };
    expect(classifyStreamError('openai', frame)).toMatchObject({ kind: 'rate_limit', retryAfterMs: 1500, code: 'rate_limit_exceeded' });
  });

  it('OpenAI mid-stream insufficient_quota and context_length_exceeded', () => {
    expect(classifyStreamError('openai', { error: { type: 'insufficient_quota', message: QUOTA_MESSAGE } }).kind).toBe('quota');
    expect(classifyStreamError('openai', { error: { code: 'context_length_exceeded', message: 'too long' } }).kind).toBe(
      'context_length',
    );
  });

  it('Gemini mid-stream error frame uses the code inside as the status', () => {
    const e = classifyStreamError('gemini', { error: { code: 503, message: 'This model is currently experiencing high demand.', status: 'UNAVAILABLE' } });
    expect(e).toMatchObject({ kind: 'overloaded', status: 503 });
  });

  it('Ollama mid-stream {"error": "…"} line is server', () => {
    expect(classifyStreamError('ollama', { error: 'an error was encountered while running the model' }).kind).toBe('server');
  });

  it('an unparseable frame is server', () => {
    const e = classifyStreamError('openai', 'not json at all');
    expect(e.kind).toBe('server');
    expect(e.message).toBe('openai stream error: not json at all');
  });

  it('carries the model and request id it is given', () => {
    expect(classifyStreamError('openai', {}, { model: 'gpt-4o', requestId: 'req_9' })).toMatchObject({
      model: 'gpt-4o',
      requestId: 'req_9',
      provider: 'openai',
    });
  });
});

describe('waitFromMessage', () => {
  it('reads Go durations and words after "try again in" / "retry in"', () => {
    expect(waitFromMessage('Please try again in 644ms.')).toBe(644);
    expect(waitFromMessage('Please retry in 43.5s.')).toBe(43_500);
    expect(waitFromMessage('Please try again in 6m0s.')).toBe(360_000);
    expect(waitFromMessage('try again in 2 seconds')).toBe(2000);
    expect(waitFromMessage('try again in 1 minute')).toBe(60_000);
    expect(waitFromMessage('Please retry after 6 seconds.')).toBe(6000);
    expect(waitFromMessage('try again later')).toBeUndefined();
  });
});

describe('constructors', () => {
  it('connectionError keeps the errno code of fetch’s cause', () => {
    const cause = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    const e = connectionError(cause, { provider: 'openai', model: 'gpt-4o' });
    expect(e).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED', provider: 'openai', model: 'gpt-4o' });
    expect(e.message).toBe('openai connection failed: fetch failed: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)');
    expect(e.cause).toBe(cause);
    expect(e.retryable).toBe(true);
  });

  it('truncatedStreamError (EOF before the terminal event) is connection', () => {
    const e = truncatedStreamError({ provider: 'anthropic' });
    expect(e).toMatchObject({ kind: 'connection', code: 'stream_truncated' });
    expect(e.message).toBe('anthropic stream ended before its terminal event');
  });

  it('timeoutError names its scope', () => {
    expect(timeoutError('first_token', { timeoutMs: 8000 })).toMatchObject({ kind: 'timeout', code: 'first_token_timeout' });
    expect(timeoutError('idle', { provider: 'gemini', timeoutMs: 15000 }).message).toBe('gemini stream stalled after 15000ms');
    expect(timeoutError('attempt').message).toBe('provider attempt timed out');
  });

  it('contentFilterError keeps the raw reason as code', () => {
    expect(contentFilterError('SAFETY', { provider: 'gemini' })).toMatchObject({
      kind: 'content_filter',
      code: 'SAFETY',
      message: 'gemini blocked the content (SAFETY)',
    });
    expect(contentFilterError().message).toBe('provider blocked the content');
  });

  it('abortedError keeps the reason as cause', () => {
    const reason = new Error('client went away');
    const e = abortedError(reason);
    expect(e).toMatchObject({ kind: 'aborted', message: 'request aborted: client went away' });
    expect(e.cause).toBe(reason);
    expect(e.retryable).toBe(false);
  });
});

describe('classifyThrown', () => {
  it('passes an LlmError through', () => {
    const e = truncatedStreamError();
    expect(classifyThrown(e)).toBe(e);
  });

  it('turns a policy TimeoutError into timeout', () => {
    expect(classifyThrown(new TimeoutError('attempt', 500))).toMatchObject({ kind: 'timeout', code: 'attempt_timeout' });
    expect(classifyThrown(new TimeoutError('deadline', 500))).toMatchObject({ kind: 'timeout', code: 'deadline_timeout' });
  });

  it('turns AbortSignal.timeout()’s DOMException into timeout', () => {
    expect(classifyThrown(new DOMException('The operation timed out.', 'TimeoutError')).kind).toBe('timeout');
  });

  it('turns the caller’s abort into aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    expect(classifyThrown(new DOMException('This operation was aborted', 'AbortError'), { signal: controller.signal })).toMatchObject({
      kind: 'aborted',
      message: 'request aborted: user cancelled',
    });
    expect(classifyThrown(new DOMException('This operation was aborted', 'AbortError')).kind).toBe('aborted');
  });

  it('treats a signal aborted by a policy timeout as timeout, not aborted', () => {
    const controller = new AbortController();
    controller.abort(new TimeoutError('attempt', 100));
    expect(classifyThrown(new DOMException('aborted', 'AbortError'), { signal: controller.signal }).kind).toBe('timeout');
  });

  it('turns anything else into connection', () => {
    expect(classifyThrown(new TypeError('fetch failed'), { provider: 'ollama' })).toMatchObject({ kind: 'connection', provider: 'ollama' });
    expect(classifyThrown('weird').kind).toBe('connection');
  });
});

// The `code` of error bodies and mid-stream error frames: stable, never a transport's internal code.
import { describe, expect, it } from 'vitest';
import { classifyStreamError, connectionError, timeoutError, truncatedStreamError } from '../llm/classify.js';
import { ERROR_KINDS } from '../llm/error-kind.js';
import { LlmError } from '../llm/llm-error.js';
import { AllTargetsFailedError } from '../router/all-targets-failed.js';
import { errorBody, fromLlmError } from './http-errors.js';

/** The `error.code` of the frame the gateway writes for `error`. */
const frameCode = (error: LlmError): unknown => (JSON.parse(errorBody(fromLlmError(error))) as { error: { code: unknown } }).error.code;

describe('fromLlmError code', () => {
  it('a cut upstream connection is upstream_connection_error, not undici\'s UND_ERR_SOCKET', () => {
    const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const error = connectionError(new TypeError('terminated', { cause }), { provider: 'openai' });
    expect(error.code).toBe('UND_ERR_SOCKET');
    expect(frameCode(error)).toBe('upstream_connection_error');
    expect(frameCode(connectionError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })))).toBe('upstream_connection_error');
    expect(frameCode(truncatedStreamError({ provider: 'openai' }))).toBe('upstream_connection_error');
  });

  it('a stream error frame without a code is server_error, not the kind "server"', () => {
    const error = classifyStreamError('openai', { error: { message: 'boom' } });
    expect(error.kind).toBe('server');
    expect(frameCode(error)).toBe('server_error');
  });

  it('timeouts are timeout', () => {
    for (const scope of ['attempt', 'deadline', 'first_token', 'idle'] as const) expect(frameCode(timeoutError(scope))).toBe('timeout');
  });

  it("keeps a provider's own OpenAI-style code for the kinds it explains", () => {
    expect(frameCode(new LlmError({ kind: 'server', message: 'x', code: 'server_is_overloaded' }))).toBe('server_is_overloaded');
    expect(frameCode(new LlmError({ kind: 'invalid_request', message: 'x', code: 'unsupported_parameter' }))).toBe('unsupported_parameter');
    expect(frameCode(new LlmError({ kind: 'overloaded', message: 'x', code: 'circuit_open' }))).toBe('circuit_open');
  });

  it('the kinds with an OpenAI code always answer it, as before', () => {
    expect(frameCode(new LlmError({ kind: 'rate_limit', message: 'x', code: 'slow_down' }))).toBe('rate_limit_exceeded');
    expect(frameCode(new LlmError({ kind: 'quota', message: 'x' }))).toBe('insufficient_quota');
    expect(frameCode(new LlmError({ kind: 'context_length', message: 'x', code: 'string_above_max_length' }))).toBe('context_length_exceeded');
    expect(frameCode(new LlmError({ kind: 'content_filter', message: 'x', code: 'SAFETY' }))).toBe('content_filter');
  });

  it('drops codes that are not OpenAI-style: upper case, odd characters, too long', () => {
    expect(frameCode(new LlmError({ kind: 'server', message: 'x', code: 'INTERNAL' }))).toBe('server_error');
    expect(frameCode(new LlmError({ kind: 'server', message: 'x', code: 'ERR_STREAM_PREMATURE_CLOSE' }))).toBe('server_error');
    expect(frameCode(new LlmError({ kind: 'server', message: 'x', code: 'bad code' }))).toBe('server_error');
    expect(frameCode(new LlmError({ kind: 'overloaded', message: 'x', code: 'a'.repeat(65) }))).toBe('server_is_overloaded');
  });

  it("the gateway's own upstream auth and model failures are not the client's invalid_api_key / model_not_found", () => {
    expect(frameCode(new LlmError({ kind: 'auth', message: 'x', code: 'invalid_api_key' }))).toBe('upstream_auth_error');
    expect(frameCode(new LlmError({ kind: 'not_found', message: 'x', code: 'model_not_found' }))).toBe('upstream_model_not_found');
  });

  it('a call that failed on every target answers the code of its kind', () => {
    const attempts = [{ target: 'a/m', attempt: 1, outcome: 'failure' as const, kind: 'timeout' as const, startedAt: 0, durationMs: 1, delayBeforeMs: 0 }];
    expect(frameCode(new AllTargetsFailedError(attempts, { now: 0 }))).toBe('timeout');
    expect(frameCode(new AllTargetsFailedError(attempts, { now: 0, kind: 'server' }))).toBe('server_error');
  });

  it('lists the attempts with the names the library uses (a skip says its skipReason)', () => {
    const attempts = [
      { target: 'a/m', attempt: 0, outcome: 'skipped' as const, skipReason: 'breaker_open' as const, startedAt: 0, durationMs: 0, delayBeforeMs: 0 },
      { target: 'b/m', attempt: 1, outcome: 'failure' as const, kind: 'server' as const, status: 500, startedAt: 0, durationMs: 1, delayBeforeMs: 0 },
    ];
    const body = JSON.parse(errorBody(fromLlmError(new AllTargetsFailedError(attempts, { now: 0 })))) as { error: { attempts: unknown[] } };
    expect(body.error.attempts).toEqual([
      { target: 'a/m', outcome: 'skipped', skipReason: 'breaker_open' },
      { target: 'b/m', outcome: 'failure', attempt: 1, kind: 'server', status: 500 },
    ]);
  });

  it("a call that failed on every target answers the provider's own code from the failure behind it", () => {
    const attempts = [{ target: 'a/m', attempt: 1, outcome: 'failure' as const, kind: 'invalid_request' as const, status: 400, startedAt: 0, durationMs: 1, delayBeforeMs: 0 }];
    const upstream = new LlmError({ kind: 'invalid_request', status: 400, message: 'temperature is not supported', code: 'unsupported_parameter', param: 'temperature' });
    expect(frameCode(new AllTargetsFailedError(attempts, { now: 0, cause: upstream }))).toBe('unsupported_parameter');
    // And the field it names.
    expect(fromLlmError(new AllTargetsFailedError(attempts, { now: 0, cause: upstream })).param).toBe('temperature');
    expect(fromLlmError(new LlmError({ kind: 'server', message: 'x', param: 'temperature' })).param).toBeNull();
    expect(fromLlmError(new LlmError({ kind: 'invalid_request', message: 'x', param: 'a b <script>' })).param).toBeNull();
    // Not from a failure of another kind, nor an errno-style code.
    expect(frameCode(new AllTargetsFailedError(attempts, { now: 0, cause: new LlmError({ kind: 'server', message: 'x', code: 'bad_gateway' }) }))).toBe('invalid_request');
    const reset = new LlmError({ kind: 'connection', message: 'x', code: 'ECONNRESET' });
    expect(frameCode(new AllTargetsFailedError([{ ...attempts[0]!, kind: 'connection' }], { now: 0, cause: reset }))).toBe('upstream_connection_error');
  });

  it('every kind has a stable snake_case code', () => {
    for (const kind of ERROR_KINDS) expect(frameCode(new LlmError({ kind, message: 'x' }))).toMatch(/^[a-z][a-z_]*$/);
  });
});

// Config problems never show secrets: values from `${VAR}` references, a provider's apiKey and headers.
import { describe, expect, it } from 'vitest';
import { validateConfig, type ConfigResult } from './config-load.js';
import { formatProblem } from './config-problems.js';

const KEY = '0123456789abcdef0123456789abcdef';
const env = { AZURE_KEY: KEY, AZURE_ENDPOINT: 'https://my-res.openai.azure.com', MODEL: 'gpt-4o-secret-deployment', SHORT: 'ab' };
const ROUTES = { chat: { targets: [{ provider: 'az', model: 'gpt-4o' }] } };

const lines = (result: ConfigResult): string[] => (result.ok ? [] : result.problems.map(formatProblem));
const check = (config: Record<string, unknown>) => lines(validateConfig({ routes: ROUTES, ...config }, { env }));

describe('config problems: values from the environment', () => {
  it('a value that came from ${VAR} is named, never shown (swapped apiKey and baseURL)', () => {
    const out = check({ providers: { az: { type: 'openai', apiKey: '${AZURE_ENDPOINT}', baseURL: '${AZURE_KEY}' } } });
    expect(out).toEqual(['providers.az.baseURL: expected a URL such as https://api.example.com/v1, got the value of ${AZURE_KEY} (hidden)']);
  });

  it('a string made with several values names them all', () => {
    const out = check({ providers: { az: { type: 'openai', baseURL: '${AZURE_KEY}-${SHORT}' } } });
    expect(out).toEqual([
      'providers.az.baseURL: expected a URL such as https://api.example.com/v1, got a string made with the values of ${AZURE_KEY} and ${SHORT} (hidden)',
    ]);
  });

  it('anywhere in the config, not only under providers', () => {
    const out = check({ providers: { az: { type: 'openai' } }, server: { bodyLimit: '${AZURE_KEY}' }, store: { type: 'redis', url: '${AZURE_KEY}' } });
    expect(out).toEqual([
      'server.bodyLimit: expected a size such as 1048576 (bytes), "512kb" or "1mb", got the value of ${AZURE_KEY} (hidden)',
      'store.url: expected a Redis URL such as redis://127.0.0.1:6379 or "${REDIS_URL}", got the value of ${AZURE_KEY} (hidden)',
    ]);
  });

  it('route references made from values: hidden, and not quoted in the list of target ids either', () => {
    const out = check({
      providers: { az: { type: 'openai' } },
      routes: {
        chat: {
          targets: [{ provider: 'az', model: '${MODEL}' }, { provider: '${AZURE_KEY}', model: 'm' }],
          rules: [{ if: { stream: true }, use: { ids: ['nope'] } }],
        },
      },
    });
    expect(out).toHaveLength(2);
    expect(out[0]).toBe('routes.chat.targets[1].provider: expected the name of a configured provider (az), got the value of ${AZURE_KEY} (hidden)');
    expect(out[1]).toBe('routes.chat.rules[0].use.ids[0]: expected the id of a target of this route (az/${MODEL}, ${AZURE_KEY}/m), got "nope"');
    expect(out.join('\n')).not.toContain(KEY);
    expect(out.join('\n')).not.toContain(env.MODEL);
  });

  it("the schema's own list of allowed values is never rewritten, even when a variable holds one of them", () => {
    const out = validateConfig(
      { providers: { a: { type: '${KIND}' }, b: { type: 'nope' } } },
      { env: { KIND: 'openai' } },
    );
    expect(out.ok).toBe(false);
    const text = out.ok ? '' : out.problems.map(formatProblem).join('\n');
    expect(text).toContain('"openai"');
    expect(text).not.toContain('${KIND}');
  });

  it('a value from a default (${VAR:-default}) is written in the file, and shown', () => {
    const out = check({ providers: { az: { type: 'openai', baseURL: '${UNSET_BASE:-not a url}' } } });
    expect(out).toEqual(['providers.az.baseURL: expected a URL such as https://api.example.com/v1, got "not a url"']);
  });
});

describe("config problems: a provider's apiKey and headers", () => {
  it('are shown by type and length only', () => {
    const out = check({
      providers: {
        az: { type: 'openai', apiKey: 12345, headers: { authorization: 67890, 'x-flag': true, 'x-list': ['secret-a'] } },
        g: { type: 'gemini', apiKey: ['AIza-not-a-string'], headers: 'Bearer abcdefgh' },
      },
    });
    expect(out).toEqual([
      'providers.az.apiKey: expected a string, got a number',
      'providers.az.headers.authorization: expected a string, got a number',
      'providers.az.headers.x-flag: expected a string, got a boolean',
      'providers.az.headers.x-list: expected a string, got a list of 1',
      'providers.g.apiKey: expected a string, got a list of 1',
      'providers.g.headers: expected an object, got a string of 15 characters',
    ]);
    expect(out.join('\n')).not.toMatch(/12345|67890|abcdefgh|secret-a/);
  });

  it('other values are still shown, with the pattern-based redaction', () => {
    const out = check({ providers: { az: { type: 'openai', organization: 42, baseURL: 'not a url sk-proj-abcdefghijklmnop' } } });
    expect(out).toEqual([
      'providers.az.baseURL: expected a URL such as https://api.example.com/v1, got "not a url sk-proj-***"',
      'providers.az.organization: expected a string, got number 42',
    ]);
  });
});

describe('config problems: empty values', () => {
  it('an empty value from the environment hides nothing, so it is shown', () => {
    const result = validateConfig({ routes: ROUTES, providers: { az: { type: 'openai', azure: { apiVersion: '${EMPTY}' } } } }, { env: { EMPTY: '' } });
    expect(lines(result)).toEqual(['providers.az.azure.apiVersion: expected a non-empty string, got ""']);
  });
});

// `ballast simulate --config FILE`: unset `${VAR}` references in the parts a simulation never reads.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capturedIo, tempDirForTests } from '../../test/support/cli-io.js';
import { main } from './main.js';

const tmp = tempDirForTests('ballast-simulate-env-');

/** The README's example config, as printed there. */
const README_CONFIG = `
server:
  host: 127.0.0.1            # default
  port: 4000
  tokens: ["\${BALLAST_TOKEN}"]   # bearer tokens for clients; none = no auth
  bodyLimit: 1mb
providers:
  openai:    { type: openai, apiKey: "\${OPENAI_API_KEY}" }
  groq:      { type: openai, apiKey: "\${GROQ_API_KEY}", baseURL: https://api.groq.com/openai/v1 }
  azure:     { type: openai, apiKey: "\${AZURE_KEY}", baseURL: https://my-res.openai.azure.com, azure: { apiVersion: 2024-10-21 } }
  anthropic: { type: anthropic, apiKey: "\${ANTHROPIC_API_KEY}" }
  gemini:    { type: gemini, apiKey: "\${GEMINI_API_KEY}" }
  ollama:    { type: ollama, baseURL: "\${OLLAMA_HOST:-127.0.0.1:11434}" }
routes:
  chat:                      # the "model" clients ask for
    strategy: priority       # round-robin, weighted, least-latency, least-cost, least-busy
    targets:
      - { provider: openai, model: gpt-4o, contextWindow: 128000, cost: { input: 2.5, output: 10 } }
      - { provider: anthropic, model: claude-sonnet-4-5, contextWindow: 200000 }
      - { provider: gemini, model: gemini-2.5-flash, contextWindow: 1000000 }
    retry: { attempts: 2, maxRetryAfter: 20s }
    breaker: { window: 30s, failureRate: 0.5, minCalls: 10, openFor: 30s }
    timeouts: { total: 60s, attempt: 30s, firstToken: 8s, idle: 15s }
    hedge: { delay: 3s }
    resume: true
    healthCheck: { interval: 30s, timeout: 5s }
store:                       # default { type: memory }: this process only
  type: redis
  url: "\${REDIS_URL}"        # redis://[:password@]host:port[/db]; default redis://127.0.0.1:6379
  prefix: "ballast:"         # default; every key the gateway writes starts with it
`;

async function simulate(name: string, yaml: string) {
  await writeFile(join(tmp.path, name), yaml);
  const io = capturedIo(tmp.path, {}); // no variable set
  const code = await main(['simulate', '--config', name, '--duration', '1m'], io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('ballast simulate: unset variables', () => {
  it("runs the README's example config with no variable set", async () => {
    const { code, stdout, stderr } = await simulate('readme.yaml', README_CONFIG);
    expect(stderr).not.toContain('is invalid');
    expect(code).toBe(0);
    expect(stdout).toContain('  requests   120: 120 answered (100%), 0 failed\n');
    expect(stderr).toContain(
      'note: BALLAST_TOKEN, OPENAI_API_KEY, GROQ_API_KEY, AZURE_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, REDIS_URL are not set; ' +
        'not needed here, the simulation ignores the server and store settings and the providers using them are not called\n',
    );
  });

  it('fills typed server and store fields, whole or inside a longer string', async () => {
    const yaml = README_CONFIG.replace('port: 4000', 'port: "${PORT}"')
      .replace('bodyLimit: 1mb', 'bodyLimit: "${BODY_LIMIT}"\n  shutdownGrace: "${GRACE}"')
      .replace('baseURL: https://my-res.openai.azure.com', 'baseURL: "https://${AZURE_RESOURCE}.openai.azure.com"')
      .replace('apiVersion: 2024-10-21', 'apiVersion: "${AZURE_API_VERSION}"')
      .replace('url: "${REDIS_URL}"', 'url: "redis://:${REDIS_PASSWORD}@redis:6379"');
    const { code, stderr } = await simulate('typed.yaml', yaml);
    expect(stderr).not.toContain('is invalid');
    expect(code).toBe(0);
    for (const name of ['PORT', 'BODY_LIMIT', 'GRACE', 'AZURE_RESOURCE', 'AZURE_API_VERSION', 'REDIS_PASSWORD']) expect(stderr).toContain(name);
  });

  it('still reports real problems, and unset variables the simulation reads, but not the ones it ignores', async () => {
    const yaml = README_CONFIG.replace('provider: gemini, model', 'provider: gemni, model')
      .replace('attempts: 2,', 'attempts: "${ATTEMPTS}",')
      .replace('port: 4000', 'port: [4000]')
      .replace('ollama:    { type: ollama,', 'sim:       { type: simulated, reply: "${SIM_REPLY}" }\n  ollama:    { type: ollama,');
    const { code, stderr } = await simulate('bad.yaml', yaml);
    expect(code).toBe(1);
    expect(stderr.split('\n').filter((line) => line !== '')).toEqual([
      'bad.yaml is invalid:',
      'providers.sim.reply: expected the environment variable SIM_REPLY to be set (or a default: ${SIM_REPLY:-value}), got SIM_REPLY unset',
      'routes.chat.retry.attempts: expected the environment variable ATTEMPTS to be set (or a default: ${ATTEMPTS:-value}), got ATTEMPTS unset',
      'server.port: expected a number, got a list of 1',
      'routes.chat.targets[2].provider: expected the name of a configured provider (openai, groq, azure, anthropic, gemini, sim, ollama), got "gemni"',
    ]);
  });

  it('a stand-in the field does not accept is reported as the unset variable', async () => {
    const yaml = README_CONFIG.replace('port: 4000', 'port: "40${PORT_SUFFIX}"');
    const { code, stderr } = await simulate('suffix.yaml', yaml);
    expect(code).toBe(1);
    expect(stderr).toBe(
      'suffix.yaml is invalid:\nserver.port: expected the environment variable PORT_SUFFIX to be set (or a default: ${PORT_SUFFIX:-value}), got PORT_SUFFIX unset\n',
    );
  });
});

/** `ballast --help`. */
export const MAIN_HELP = `ballast: keep LLM calls working when providers fail

Usage: ballast <command> [options]

Commands:
  serve    start the OpenAI-compatible gateway (demo mode when no config and no provider keys)
  check    validate a config file and print every problem

Not available yet in this version: \`ballast mock\` (mock provider servers) and \`ballast simulate\`.

Options:
  -h, --help       show help (also after a command: ballast serve --help)
  -v, --version    print the version
`;

/** `ballast serve --help`. */
export const SERVE_HELP = `Usage: ballast serve [--config FILE] [--port N] [--host H] [--log-level LEVEL]

Starts the gateway: POST /v1/chat/completions and GET /v1/models in the OpenAI wire format,
GET /status (JSON), GET /healthz.

Config, first found:
  --config FILE        a YAML or JSON config (\${ENV} references allowed); reloaded on change and on SIGHUP
  BALLAST_CONFIG       the same, from the environment
  provider keys        OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OLLAMA_HOST: one route per
                       provider plus a "default" route falling back across all of them
                       (models: BALLAST_OPENAI_MODEL, BALLAST_ANTHROPIC_MODEL, ... to change them)
  nothing              demo mode: simulated providers with injected faults, answers labelled simulated

Options:
  -c, --config FILE    config file
  -p, --port N         port (overrides server.port; default 4000)
  -H, --host H         address to bind (overrides server.host; default 127.0.0.1, loopback only)
  --log-level LEVEL    debug, info (default), warn, error or silent (also BALLAST_LOG_LEVEL)
  -h, --help           this help

Logs are JSON lines on standard output; the banner and config problems go to standard error.
Ctrl-C stops accepting requests, lets in-flight ones finish (server.shutdownGrace), then exits.
`;

/** `ballast check --help`. */
export const CHECK_HELP = `Usage: ballast check [FILE]

Validates a config file (YAML, or JSON for .json files) and prints every problem, one per line:
  routes.chat.targets[1].provider: expected the name of a configured provider (openai), got "opnai"
Exit code 0 when it is valid, 1 when it is not, 2 for a usage error.

Without FILE, checks BALLAST_CONFIG, or else the config \`ballast serve\` would build from the
environment (provider keys, or demo mode).

Options:
  -h, --help   this help
`;

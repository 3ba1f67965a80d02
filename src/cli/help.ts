/** `ballast --help`. */
export const MAIN_HELP = `ballast: keep LLM calls working when providers fail

Usage: ballast <command> [options]

Commands:
  serve     start the OpenAI-compatible gateway (demo mode when no config and no provider keys)
  check     validate a config file and print every problem
  mock      start mock OpenAI, Anthropic, Gemini and Ollama servers for your own tests
  simulate  replay traffic through a config's routes on a virtual clock and report what happened

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

/** `ballast mock --help`. */
export const MOCK_HELP = `Usage: ballast mock [--scenario FILE] [--port N] [--host H]

Starts four mock provider servers that speak the real wire formats, for your own tests:
  openai     http://127.0.0.1:4010/v1       POST /v1/chat/completions (JSON or SSE), GET /v1/models
  anthropic  http://127.0.0.1:4011          POST /v1/messages (JSON or SSE)
  gemini     http://127.0.0.1:4012/v1beta   POST /v1beta/models/{model}:generateContent, :streamGenerateContent
  ollama     http://127.0.0.1:4013          POST /api/chat (NDJSON or JSON), GET /api/tags
Each request is logged on standard output (protocol, method, path, model); the URLs go to
standard error. Ctrl-C or SIGTERM closes the servers.

Scenario file (YAML, or JSON for .json files): each part is that mock's scenario, a list of
replies or an object with \`replies\` and options; a protocol left out answers a short text.
Every mock takes whenExhausted (repeat-last | cycle | error): what follows the last reply.
  openai:                               # options: whenExhausted, apiKey, models
    replies:
      - { type: error, kind: rate_limit, retryAfter: 1 }
      - { type: text, text: "Hello there", toolCalls: [{ name: get_weather, arguments: { city: Oslo } }] }
  anthropic:                            # options: whenExhausted, apiKey
    - { type: text, text: "Hi from Claude", chunkDelayMs: 50 }
  gemini:                               # options: whenExhausted, apiKey, models
    whenExhausted: cycle                # Gemini's default is error: 500 once the replies run out
    replies: [{ type: text, text: "Hi from Gemini" }]
  ollama:                               # options: whenExhausted, models
    - { type: stream-error-after, text: "partial" }
Reply types: text, error (with kind), stream-error-after, stall-after, cut-after, truncate-after
(a clean end without the terminal event), and per protocol malformed-frame / malformed-line,
content-filter, refusal, blocked, safety. Replies are played in order, one per valid request.

Options:
  -s, --scenario FILE  the scenario file (default: every request gets a short text answer)
  -p, --port N         the first port; the others follow (default 4010: 4010-4013; 0 for free ports)
  -H, --host H         address to listen on (default 127.0.0.1, loopback only)
  -h, --help           this help
`;

/** \`ballast simulate --help\`. */
export const SIMULATE_HELP = `Usage: ballast simulate [--config FILE] [--route NAME] [--duration 1h] [--rps 2] [--stream] [--seed N] [--json]

Sends a steady stream of small chat requests through the config's routes, on a virtual clock:
an hour of traffic takes a few seconds. The routers, breakers, retries, fallbacks and timeouts
are the real code \`ballast serve\` runs. Then it reports, per route: success rate, attempts,
retries, fallbacks (from -> to), hedges, breaker transitions and cooldowns per target, latency
p50/p99 (virtual time), failures by kind, and a timeline in 12 parts of the duration.

Simulated providers run as configured (faults, outages, latency, rate limits). Any other provider
(openai, anthropic, gemini, ollama) is never called: a healthy simulated provider of the same name
takes its place, and the report says so. Its \${KEY} references need not be set.
The same config and seed give the same report.

Options:
  -c, --config FILE    a YAML or JSON config (default: BALLAST_CONFIG, else the demo config of \`ballast serve\`)
  -r, --route NAME     only this route (repeat for more; default every route)
  -d, --duration D     virtual time the traffic lasts, e.g. 30m, 1h, 1h30m (default 1h)
  --rps N              requests started per second on each route (default 2)
  --stream             stream every request and read it to the end (default: non-streamed)
  --seed N             seed of the simulated providers and the routers' random choices (default 1)
  --json               print the report as JSON
  -h, --help           this help

At most 200000 requests in all (routes x duration x rps). Exit code 0 after a run, 1 for an
invalid config, 2 for a usage error.
`;

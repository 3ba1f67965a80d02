const MASK = '***';

// Credential-carrying fields written as `name: value`, `name=value` or `"name": "value"`.
const ASSIGNMENT =
  /\b((?:proxy-)?authorization|x-api-key|x-goog-api-key|api[-_]?key|apikey|access[-_]?token|client[-_]?secret|password)(["']?\s*[:=]\s*["']?)(?:(bearer|basic|token)\s+)?([^\s"',;}&]+)/gi;
const AUTH_SCHEME = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi;
const QUERY_PARAM = /([?&;](?:key|api[-_]?key|apikey|access[-_]?token|token|sig|signature)=)[^&\s"'#]+/gi;
// Provider key shapes; the recognisable prefix is kept so a reader still knows which key it was.
// Distinctive prefixes match anywhere, even glued to a word; short generic ones only after a
// non-letter, so "task-scheduler-configuration" stays readable.
const DISTINCT_KEY = /(sk-ant-|sk-proj-|sk-svcacct-|sk-admin-|AIza|github_pat_|ya29\.)[A-Za-z0-9_-]{8,}/g;
const GENERIC_KEY = /(?<![A-Za-z])(sk-|gsk_|xai-|hf_|r8_|pplx-|ghp_|glpat-)[A-Za-z0-9_-]{8,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
// Credentials inside a URL (`redis://:password@host`, `https://user:pass@host`).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]+@/gi;

/**
 * Masks secrets in free text (upstream error bodies, URLs, header dumps) before it reaches an
 * error message, a log or a metric: API keys (`sk-…`, `sk-ant-…`, `AIza…`, and a few other
 * providers' shapes), `Bearer`/`Basic` credentials, `Authorization` / `x-api-key` style fields,
 * `key=` / `api_key=` / `token=` query parameters, JWTs and URL credentials (`redis://:pass@host`).
 * Idempotent.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(ASSIGNMENT, (_match, name: string, sep: string, scheme: string | undefined) =>
      `${name}${sep}${scheme ? `${scheme} ` : ''}${MASK}`,
    )
    .replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} ${MASK}`)
    .replace(QUERY_PARAM, (_match, prefix: string) => `${prefix}${MASK}`)
    .replace(DISTINCT_KEY, (_match, prefix: string) => `${prefix}${MASK}`)
    .replace(GENERIC_KEY, (_match, prefix: string) => `${prefix}${MASK}`)
    .replace(JWT, `eyJ${MASK}`)
    .replace(URL_USERINFO, (_match, scheme: string) => `${scheme}${MASK}@`);
}

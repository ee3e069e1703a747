// Secrets never leave the process in text (issue #16 item 6, CONVENTIONS §6): credentials inside URLs,
// bearer tokens in text, and the secret fields of a config. The logger, `config check --print`, the
// bridge's startup line, its /readyz body and the CLI's error line all pass through here.

export const REDACTED = '[redacted]';

/** Config and log keys whose value is a secret (a `*_file` / `*_env` key only names where it is). */
export const SECRET_KEYS: readonly string[] = [
  'token',
  'password',
  'authorization',
  'authkey',
  'auth_key',
  'api_token',
  'api_tokens',
  'private_key',
  'secret',
  'cookie',
  'preauth_key',
];

// scheme://user:password@ or scheme://token@ — everything between `//` and the last `@` before the host.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>]*)@/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g;

/** A URL with its password (or a bare token in the user part) replaced: `postgres://u:[redacted]@h/db`. */
export function redactUrl(url: string): string {
  return redactText(url);
}

/** Free text (a log line, an error message) with URL credentials and Authorization values redacted. */
export function redactText(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, scheme: string, info: string) => {
      const colon = info.indexOf(':');
      // `user:password@` keeps the user (useful and not secret); `token@` (no colon) is all secret.
      return colon >= 0 ? `${scheme}${info.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    })
    .replace(BEARER, (_m, kind: string) => `${kind} ${REDACTED}`);
}

/**
 * A deep copy of a config (or any plain data) for display: values under secret keys replaced by
 * `[redacted]`, and every string passed through {@link redactText} (URLs with credentials).
 */
export function redactConfig<T>(value: T): T {
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (
      key !== undefined &&
      SECRET_KEYS.includes(key.toLowerCase()) &&
      (typeof v === 'string' || typeof v === 'number')
    )
      return REDACTED;
    if (typeof v === 'string') return redactText(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value, undefined) as T;
}

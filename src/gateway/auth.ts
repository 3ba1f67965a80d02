import { createHash, timingSafeEqual } from 'node:crypto';

/** Checks `Authorization: Bearer <token>` against the configured client tokens. */
export interface TokenCheck {
  /** True when no tokens are configured (auth is off). */
  readonly open: boolean;
  /** True when the header carries one of the tokens. */
  allows(authorization: string | undefined): boolean;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Builds a {@link TokenCheck}. Tokens are compared as SHA-256 digests with `timingSafeEqual`, so
 * neither the comparison nor the token's length leaks through timing; every token is compared,
 * never stopping at the first match.
 */
export function tokenCheck(tokens: readonly string[]): TokenCheck {
  const digests = tokens.map(digest);
  return {
    open: digests.length === 0,
    allows(authorization) {
      if (digests.length === 0) return true;
      if (!authorization) return false;
      const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
      if (!match) return false;
      const presented = digest(match[1]!);
      let ok = false;
      for (const d of digests) ok = timingSafeEqual(presented, d) || ok;
      return ok;
    },
  };
}

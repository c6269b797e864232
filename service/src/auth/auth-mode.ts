// Whether calls are authenticated, decided once at start: secure by default.
//
// - Any identity source configured (a tokens file, a JWKS, client certificates): auth is on;
//   every call but health and reflection needs an identity.
// - None, and the service listens on loopback only (the `npm start` default): auth is off,
//   every call runs as the anonymous admin of tenant "default", and the start says so.
// - None, and it listens on anything else: it refuses to start, saying how to configure
//   one, unless SPOOL_AUTH=none says that is meant (behind a proxy that authenticates,
//   say), which it accepts with a warning at every start.
import { isIP } from "node:net";
import type { Logger } from "pino";
import { CallAuthenticator, type Authenticator, type CertificateIdentities } from "./authenticator.js";
import { JwtVerifier, type JwtSettings } from "./jwt-verifier.js";
import { anonymousAdmin } from "./principal.js";
import { ClientCertIdentities } from "./client-certs.js";
import { StaticTokens } from "./static-tokens.js";
import { WatchedFile } from "./watched-file.js";

export const authModes = ["auto", "none"] as const;
export type AuthMode = (typeof authModes)[number];

export interface AuthSettings {
  mode: AuthMode;
  tokensFile: string | undefined;
  /** Client certificates' SANs to identities (auth/client-certs.ts); needs mTLS. */
  clientCertsFile: string | undefined;
  jwt: JwtSettings | undefined;
}

/** Every call runs as the anonymous admin. */
export const openAccess: Authenticator = { authenticate: () => anonymousAdmin, close: () => {} };

/** Whether `host` (SPOOL_HOST) can only be reached from this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./.test(bare);
  return false;
}

export class AuthConfigError extends Error {
  override name = "AuthConfigError";
}

export function createAuthenticator(settings: AuthSettings, host: string, log: Logger): Authenticator {
  const configured = settings.tokensFile !== undefined || settings.jwt !== undefined || settings.clientCertsFile !== undefined;
  if (settings.mode === "none") {
    if (configured) {
      throw new AuthConfigError("SPOOL_AUTH=none turns auth off, yet an identity source is configured: remove one or the other");
    }
    log.warn({ host }, "AUTH IS OFF (SPOOL_AUTH=none): anyone who reaches this port can read, create and cancel every task");
    return openAccess;
  }
  if (!configured) {
    if (!isLoopback(host)) {
      throw new AuthConfigError(
        `listening on ${host} with no identity source configured: set SPOOL_AUTH_TOKENS_FILE (static tokens), ` +
          `SPOOL_AUTH_JWKS with SPOOL_AUTH_ISSUER and SPOOL_AUTH_AUDIENCE (JWTs), or SPOOL_AUTH_CLIENT_CERTS (mTLS); ` +
          `or SPOOL_AUTH=none if something in front of Spool authenticates (see docs/security.md)`,
      );
    }
    log.info({ host }, "auth is off: listening on loopback only, every call runs as the anonymous admin (docs/security.md)");
    return openAccess;
  }
  const opened: { close(): void }[] = [];
  const open = <T extends { close(): void }>(source: T): T => (opened.push(source), source);
  let tokens: StaticTokens | undefined;
  let jwt: JwtVerifier | undefined;
  let certificates: CertificateIdentities | undefined;
  try {
    tokens = settings.tokensFile === undefined ? undefined : open(new StaticTokens(settings.tokensFile, log));
    jwt = settings.jwt === undefined ? undefined : open(new JwtVerifier(settings.jwt, log));
    certificates = settings.clientCertsFile === undefined ? undefined : open(watchedCertificates(settings.clientCertsFile, log));
  } catch (error) {
    for (const source of opened) source.close();
    throw error;
  }
  const sources = [tokens && "static tokens", jwt && "JWT", certificates && "client certificates"].filter(Boolean);
  log.info({ sources }, "auth is on");
  return new CallAuthenticator({ tokens, jwt, certificates });
}

/** The client-certificate mapping, re-read when its file changes, as the tokens file is. */
function watchedCertificates(path: string, log: Logger): CertificateIdentities & { close(): void } {
  const file = new WatchedFile(path, (text) => ClientCertIdentities.parse(text, path), log.child({ component: "auth-client-certs" }));
  return { identify: (certificate) => file.value.identify(certificate), close: () => file.close() };
}

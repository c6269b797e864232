// Bearer JWTs checked against a JWKS (SPOOL_AUTH_JWKS), with jose: signature, `exp`/`nbf`
// (30 s of clock skew allowed), `iss` (SPOOL_AUTH_ISSUER) and `aud` (SPOOL_AUTH_AUDIENCE).
//
// - The JWKS is a file (re-read when it changes) or a URL: https, or http on a loopback
//   host only. jose caches a remote set, fetches it again when a token names a key it has not
//   seen (at most every 30 s), and at least every 10 minutes.
// - Only asymmetric algorithms are accepted: a JWKS is public, so an HMAC key in it would
//   let anyone who can read it sign tokens.
// - The identity: `sub` is the subject; the tenant is the claim SPOOL_AUTH_TENANT_CLAIM
//   (default "tenant"), a string; the roles are the claim SPOOL_AUTH_ROLES_CLAIM (default
//   "roles"), a list of names or one space-separated string. Claim names are taken whole
//   (namespaced claims such as "https://example.com/tenant" contain dots and slashes).
// - A verified token is remembered until it expires, at most a minute, by its SHA-256, in a
//   bounded map, so a client that sends the same token with every call costs one verify per
//   minute, not one per call.
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Logger } from "pino";
import { SpoolError } from "../errors.js";
import { subjectSchema, tenantSchema } from "./names.js";
import { highestRole, type Principal } from "./principal.js";
import { sha256Hex } from "./static-tokens.js";
import { WatchedFile } from "./watched-file.js";

export interface JwtSettings {
  /** A file path or an https (or loopback http) URL. */
  jwks: string;
  issuer: string;
  audience: string;
  tenantClaim: string;
  rolesClaim: string;
}

const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const clockToleranceS = 30;
const cacheMaxEntries = 10_000;
const cacheMaxMs = 60_000;

/** Whether SPOOL_AUTH_JWKS names a URL (rather than a file). */
export const isJwksUrl = (jwks: string): boolean => /^https?:\/\//i.test(jwks);

export class JwtVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #file: WatchedFile<JWTVerifyGetKey> | undefined;
  readonly #verified = new Map<string, { principal: Principal; until: number }>();

  constructor(
    readonly settings: JwtSettings,
    log: Logger,
  ) {
    if (isJwksUrl(settings.jwks)) {
      this.#keys = createRemoteJWKSet(new URL(settings.jwks), { timeoutDuration: 5000 });
    } else {
      const file = new WatchedFile(settings.jwks, (text) => localKeys(settings.jwks, text), log.child({ component: "auth-jwks" }));
      this.#file = file;
      this.#keys = (header, token) => file.value(header, token);
    }
  }

  /** Whether this token is shaped like a JWT (three base64url parts). */
  static looksLikeJwt(token: string): boolean {
    return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
  }

  async identify(token: string): Promise<Principal> {
    const key = sha256Hex(token);
    const now = Date.now();
    const cached = this.#verified.get(key);
    if (cached && cached.until > now) return cached.principal;
    if (cached) this.#verified.delete(key);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms,
        clockTolerance: clockToleranceS,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (error) {
      // The keys could not be had: the service's problem, not the token's, and passing.
      if (!tokenProblems.some((type) => error instanceof type)) {
        throw new SpoolError("unavailable", `the JWKS could not be read to check the token; retry later`, { cause: error });
      }
      throw new SpoolError("unauthenticated", `bearer token rejected: ${reasonOf(error)}`, { cause: error });
    }
    const principal = this.principalOf(payload);
    if (this.#verified.size >= cacheMaxEntries) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(key, { principal, until: Math.min(payload.exp! * 1000, now + cacheMaxMs) });
    return principal;
  }

  principalOf(payload: JWTPayload): Principal {
    const { tenantClaim, rolesClaim } = this.settings;
    const subject = subjectSchema.safeParse(payload.sub);
    if (!subject.success) throw new SpoolError("unauthenticated", `bearer token rejected: "sub": ${subject.error.issues[0]!.message}`);
    const tenantValue = payload[tenantClaim];
    if (typeof tenantValue !== "string") {
      throw new SpoolError("unauthenticated", `bearer token rejected: it has no "${tenantClaim}" claim naming the tenant (SPOOL_AUTH_TENANT_CLAIM)`);
    }
    const tenant = tenantSchema.safeParse(tenantValue);
    if (!tenant.success) throw new SpoolError("unauthenticated", `bearer token rejected: "${tenantClaim}": ${tenant.error.issues[0]!.message}`);
    const rolesValue = payload[rolesClaim];
    const names = typeof rolesValue === "string" ? rolesValue.split(" ") : Array.isArray(rolesValue) ? rolesValue : [];
    return { subject: subject.data, tenant: tenant.data, role: highestRole(names), via: "jwt" };
  }

  close(): void {
    this.#file?.close();
  }
}

function localKeys(path: string, text: string): JWTVerifyGetKey {
  let set: JSONWebKeySet;
  try {
    set = JSON.parse(text) as JSONWebKeySet;
  } catch (error) {
    throw new Error(`${path}: not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(set?.keys)) throw new Error(`${path}: not a JWKS: it needs a "keys" list`);
  if (set.keys.some((key) => key.kty === "oct")) throw new Error(`${path}: holds a symmetric ("oct") key; a JWKS for Spool holds public keys only`);
  return createLocalJWKSet(set);
}

/** What jose throws for a token that is wrong, as opposed to keys that could not be had. */
const tokenProblems = [
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWTInvalid,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
];

/** A reason a caller can act on, without echoing the token (jose's messages do not). */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "it has expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `claim "${error.claim}" ${error.reason === "check_failed" ? "does not match" : error.reason}: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the JWKS matches it";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (error instanceof errors.JOSEAlgNotAllowed) return "its algorithm is not allowed (asymmetric algorithms only)";
  return (error as Error).message;
}

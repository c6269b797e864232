// Who is calling: a gRPC call's credentials to a Principal, or UNAUTHENTICATED.
//
// - A bearer token (`authorization: Bearer <token>`) decides when one is sent: a static
//   token listed in SPOOL_AUTH_TOKENS_FILE, else a JWT when SPOOL_AUTH_JWKS is set. A token
//   that is neither is refused, even when a client certificate would identify the caller:
//   credentials sent wrong are an error to report, not to paper over.
// - Without a token, a client certificate whose SAN is mapped (SPOOL_AUTH_CLIENT_CERTS)
//   identifies the caller (mTLS).
// - Nothing else is an identity. When auth is off (auth/auth-mode.ts) every call runs as
//   the anonymous admin instead, and this class is not used.
import type { PeerCertificate } from "node:tls";
import type { Metadata } from "@grpc/grpc-js";
import { SpoolError } from "../errors.js";
import { JwtVerifier } from "./jwt-verifier.js";
import type { Principal } from "./principal.js";
import type { StaticTokens } from "./static-tokens.js";

/** What a call offers to identify itself. */
export interface Credentials {
  metadata: Metadata;
  /** The verified client certificate, when the connection is mTLS. */
  peerCertificate: PeerCertificate | undefined;
}

export interface Authenticator {
  authenticate(credentials: Credentials): Principal | Promise<Principal>;
  close(): void;
}

/** Maps a verified client certificate to an identity (auth/client-certs.ts). */
export interface CertificateIdentities {
  identify(certificate: PeerCertificate): Principal | undefined;
  close?(): void;
}

/** The longest bearer token read (a JWT with many claims stays well below). */
const maxTokenLength = 16 * 1024;

const unauthenticated = (message: string) => new SpoolError("unauthenticated", message);

export class CallAuthenticator implements Authenticator {
  constructor(
    private readonly sources: { tokens?: StaticTokens; jwt?: JwtVerifier; certificates?: CertificateIdentities },
  ) {}

  authenticate({ metadata, peerCertificate }: Credentials): Principal | Promise<Principal> {
    const headers = metadata.get("authorization");
    if (headers.length > 1) throw unauthenticated("authorization: sent more than once");
    if (headers.length === 1) return this.#fromToken(bearerToken(headers[0]!));
    const { certificates } = this.sources;
    if (certificates && peerCertificate && Object.keys(peerCertificate).length > 0) {
      const principal = certificates.identify(peerCertificate);
      if (principal) return principal;
      throw unauthenticated("the client certificate's SAN is not mapped to an identity (SPOOL_AUTH_CLIENT_CERTS)");
    }
    throw unauthenticated(`no credentials: send ${this.#accepted()}`);
  }

  #fromToken(token: string): Principal | Promise<Principal> {
    const { tokens, jwt } = this.sources;
    const listed = tokens?.identify(token);
    if (listed) return listed;
    if (jwt && JwtVerifier.looksLikeJwt(token)) return jwt.identify(token);
    throw unauthenticated(jwt ? "bearer token rejected: not a listed token, nor a JWT" : "bearer token rejected: not a listed token");
  }

  #accepted(): string {
    const forms: string[] = [];
    if (this.sources.tokens || this.sources.jwt) forms.push("authorization: Bearer <token>");
    if (this.sources.certificates) forms.push("a client certificate");
    return forms.join(" or ");
  }

  close(): void {
    this.sources.tokens?.close();
    this.sources.jwt?.close();
    this.sources.certificates?.close?.();
  }
}

/** The token of an `authorization: Bearer <token>` header value. */
function bearerToken(value: string | Buffer): string {
  if (typeof value !== "string") throw unauthenticated("authorization: must be text");
  const match = /^bearer[ ]+(\S+)[ ]*$/i.exec(value);
  if (!match) throw unauthenticated('authorization: must be "Bearer <token>"');
  if (match[1]!.length > maxTokenLength) throw unauthenticated(`authorization: the token is over ${maxTokenLength} characters`);
  return match[1]!;
}

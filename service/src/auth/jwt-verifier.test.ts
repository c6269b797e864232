// JWT checks against a local JWKS file and a JWKS served over loopback HTTP, with keys made
// here by jose: every way a token can be wrong is UNAUTHENTICATED, naming why.
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpoolError } from "../errors.js";
import { JwtVerifier, type JwtSettings } from "./jwt-verifier.js";

const log = pino({ level: "silent" });
const issuer = "https://issuer.test/";
const audience = "spool";
let dir: string;
let jwksFile: string;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let signingKey: PrivateKey;
let strangerKey: PrivateKey;
let publicJwk: JWK;

async function sign(claims: JWTPayload, options: { key?: PrivateKey; kid?: string; expiresIn?: string | number; alg?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ tenant: "acme", roles: ["operator"], ...claims })
    .setProtectedHeader({ alg: options.alg ?? "ES256", kid: options.kid ?? "k1" })
    .setIssuedAt()
    .setSubject((claims.sub as string | undefined) ?? "svc-billing");
  if (claims.iss === undefined) jwt.setIssuer(issuer);
  if (claims.aud === undefined) jwt.setAudience(audience);
  jwt.setExpirationTime(options.expiresIn ?? "5m");
  return jwt.sign(options.key ?? signingKey);
}

const settings = (overrides: Partial<JwtSettings> = {}): JwtSettings => ({
  jwks: jwksFile,
  issuer,
  audience,
  tenantClaim: "tenant",
  rolesClaim: "roles",
  ...overrides,
});

async function rejection(verifier: JwtVerifier, token: string): Promise<SpoolError> {
  try {
    await verifier.identify(token);
  } catch (error) {
    return error as SpoolError;
  }
  throw new Error("the token was accepted");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-jwt-"));
  jwksFile = join(dir, "jwks.json");
  ({ privateKey: signingKey } = await generateKeyPair("ES256", { extractable: true }).then(async (pair) => {
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    return pair;
  }));
  ({ privateKey: strangerKey } = await generateKeyPair("ES256"));
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk] }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("JwtVerifier with a JWKS file", () => {
  it("turns a valid token into the identity its claims name", async () => {
    const verifier = new JwtVerifier(settings(), log);
    try {
      expect(await verifier.identify(await sign({}))).toEqual({ subject: "svc-billing", tenant: "acme", role: "operator", via: "jwt" });
      // Roles as one space-separated string, and the highest one counts.
      const spaced = await sign({ roles: "submitter admin unknown" });
      expect((await verifier.identify(spaced)).role).toBe("admin");
      // Claims under other names, as an identity provider's namespaced claims.
      const custom = new JwtVerifier(settings({ tenantClaim: "https://example.com/org", rolesClaim: "scope" }), log);
      const token = await sign({ "https://example.com/org": "globex", scope: "submitter" });
      expect(await custom.identify(token)).toMatchObject({ tenant: "globex", role: "submitter" });
      custom.close();
      // No role of Spool's: an identity without a role (the API then denies, naming the role).
      expect((await verifier.identify(await sign({ roles: ["reader"] }))).role).toBeUndefined();
    } finally {
      verifier.close();
    }
  });

  it("refuses an expired token, a wrong audience or issuer, an unknown key and a forged signature", async () => {
    const verifier = new JwtVerifier(settings(), log);
    try {
      const cases: [string, Promise<string>, RegExp][] = [
        ["expired", sign({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), /expired/],
        ["audience", sign({ aud: "another-service" }), /"aud"/],
        ["issuer", sign({ iss: "https://evil.test/" }), /"iss"/],
        ["unknown key", sign({}, { kid: "k2", key: strangerKey }), /no key of the JWKS matches/],
        ["forged", sign({}, { key: strangerKey }), /signature does not verify/],
        ["no tenant", sign({ tenant: undefined }), /no "tenant" claim/],
        ["NUL tenant", sign({ tenant: "ac\u0000me" }), /NUL/],
      ];
      for (const [what, token, reason] of cases) {
        const error = await rejection(verifier, await token);
        expect({ what, code: error.code }).toEqual({ what, code: "unauthenticated" });
        expect(error.message, what).toMatch(reason);
      }
      // Not a JWT at all.
      expect((await rejection(verifier, "a.b.c")).code).toBe("unauthenticated");
    } finally {
      verifier.close();
    }
  });

  it("refuses HMAC: a symmetric key in the JWKS stops the start, an HS256 token is refused", async () => {
    const octFile = join(dir, "oct.json");
    await writeFile(octFile, JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "h" }] }));
    expect(() => new JwtVerifier(settings({ jwks: octFile }), log)).toThrow(/symmetric/);
    const verifier = new JwtVerifier(settings(), log);
    try {
      const hs = await new SignJWT({ tenant: "acme" })
        .setProtectedHeader({ alg: "HS256", kid: "k1" })
        .setSubject("x")
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode("a shared secret of thirty-two bytes"));
      expect((await rejection(verifier, hs)).code).toBe("unauthenticated");
    } finally {
      verifier.close();
    }
  });

  it("reads the JWKS file again when it changes: a rotated key is trusted without a restart", async () => {
    const file = join(dir, "rotating.json");
    await writeFile(file, JSON.stringify({ keys: [publicJwk] }));
    const verifier = new JwtVerifier(settings({ jwks: file }), log);
    try {
      const { privateKey, publicKey } = await generateKeyPair("ES256");
      const rotated = await sign({}, { key: privateKey, kid: "k9" });
      expect((await rejection(verifier, rotated)).code).toBe("unauthenticated");
      await writeFile(file, JSON.stringify({ keys: [publicJwk, { ...(await exportJWK(publicKey)), kid: "k9", alg: "ES256" }] }));
      let identity;
      for (const deadline = Date.now() + 30_000; !identity && Date.now() < deadline; ) {
        identity = await verifier.identify(rotated).catch(() => undefined);
        if (!identity) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(identity).toMatchObject({ subject: "svc-billing" });
    } finally {
      verifier.close();
    }
  });
});

describe("JwtVerifier with a JWKS URL", () => {
  let server: Server;
  let fetches = 0;
  let serving = true;

  beforeAll(async () => {
    server = createServer((request, response) => {
      fetches++;
      if (!serving) return response.writeHead(503).end();
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const url = () => `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;

  it("fetches the set once and remembers verified tokens", async () => {
    const verifier = new JwtVerifier(settings({ jwks: url() }), log);
    const token = await sign({});
    for (let i = 0; i < 5; i++) expect((await verifier.identify(token)).tenant).toBe("acme");
    expect((await verifier.identify(await sign({ sub: "other" }))).subject).toBe("other");
    expect(fetches).toBe(1);
    verifier.close();
  });

  it("answers UNAVAILABLE, not UNAUTHENTICATED, when the JWKS cannot be had", async () => {
    serving = false;
    try {
      const verifier = new JwtVerifier(settings({ jwks: url() }), log);
      const error = await rejection(verifier, await sign({}));
      expect(error.code).toBe("unavailable");
      verifier.close();
    } finally {
      serving = true;
    }
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthConfigError, createAuthenticator, isLoopback, openAccess, type AuthSettings } from "./auth-mode.js";
import { anonymousAdmin } from "./principal.js";
import { sha256Hex } from "./static-tokens.js";

const off: AuthSettings = { mode: "auto", tokensFile: undefined, clientCertsFile: undefined, jwt: undefined };

/** A logger that keeps its lines. */
function recording() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-auth-mode-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("isLoopback", () => {
  it("knows which addresses only this machine reaches", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) expect(isLoopback(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "spool.internal", "128.0.0.1", "::2"]) expect(isLoopback(host), host).toBe(false);
  });
});

describe("createAuthenticator", () => {
  it("is off on loopback with nothing configured, and says so", () => {
    const { log, lines } = recording();
    expect(createAuthenticator(off, "127.0.0.1", log)).toBe(openAccess);
    expect(lines.map((l) => l.msg).join("\n")).toContain("auth is off");
    expect(openAccess.authenticate({ metadata: new Metadata(), peerCertificate: undefined })).toBe(anonymousAdmin);
  });

  it("refuses to start on a public address with no identity source, saying how to configure one", () => {
    for (const host of ["0.0.0.0", "::", "10.1.2.3"]) {
      expect(() => createAuthenticator(off, host, recording().log)).toThrow(AuthConfigError);
      expect(() => createAuthenticator(off, host, recording().log)).toThrow(/SPOOL_AUTH_TOKENS_FILE.*SPOOL_AUTH_JWKS.*SPOOL_AUTH=none/);
    }
  });

  it("accepts SPOOL_AUTH=none anywhere, with a warning; with a source configured as well, it refuses", async () => {
    const { log, lines } = recording();
    expect(createAuthenticator({ ...off, mode: "none" }, "0.0.0.0", log)).toBe(openAccess);
    expect(lines.find((l) => l.level === 40)?.msg).toMatch(/AUTH IS OFF/);
    const tokensFile = join(dir, "none.json");
    await writeFile(tokensFile, "[]");
    expect(() => createAuthenticator({ mode: "none", tokensFile, clientCertsFile: undefined, jwt: undefined }, "0.0.0.0", log)).toThrow(/SPOOL_AUTH=none/);
  });

  it("with a tokens file, identifies bearer tokens and refuses everything else", async () => {
    const tokensFile = join(dir, "tokens.json");
    await writeFile(tokensFile, JSON.stringify([{ token_sha256: sha256Hex("s3cret-token-for-alice"), subject: "alice", tenant: "acme", roles: ["submitter"] }]));
    const auth = createAuthenticator({ ...off, tokensFile }, "0.0.0.0", recording().log);
    try {
      const call = (value?: string | string[]) => {
        const metadata = new Metadata();
        for (const v of [value ?? []].flat()) metadata.add("authorization", v);
        return Promise.resolve().then(() => auth.authenticate({ metadata, peerCertificate: undefined }));
      };
      expect(await call("Bearer s3cret-token-for-alice")).toMatchObject({ subject: "alice", tenant: "acme", role: "submitter", via: "token" });
      expect(await call("bearer   s3cret-token-for-alice")).toMatchObject({ subject: "alice" });
      for (const bad of [undefined, "Bearer nope", "Basic YWxpY2U6eA==", "Bearer", "s3cret-token-for-alice", ["Bearer s3cret-token-for-alice", "Bearer s3cret-token-for-alice"], `Bearer ${"x".repeat(20_000)}`]) {
        await expect(call(bad), String(bad).slice(0, 40)).rejects.toMatchObject({ code: "unauthenticated" });
      }
    } finally {
      auth.close();
    }
  });

  it("stops the start on a tokens file that is missing or wrong, naming the file and the entry", async () => {
    const file = join(dir, "bad.json");
    const attempt = () => createAuthenticator({ ...off, tokensFile: file }, "127.0.0.1", recording().log);
    expect(attempt).toThrow(/ENOENT/);
    await writeFile(file, "{not json");
    expect(attempt).toThrow(/bad\.json: not JSON/);
    await writeFile(file, JSON.stringify([{ token: "long-enough-token-1", subject: "a", tenant: "t", roles: ["submitter"] }, { subject: "b", tenant: "t", roles: ["submitter"] }]));
    expect(attempt).toThrow(/bad\.json entry \[1\]: needs exactly one of token_sha256 and token/);
    await writeFile(file, JSON.stringify([{ token: "long-enough-token-1", subject: "a", tenant: "t", roles: ["superuser"] }]));
    expect(attempt).toThrow(/entry \[0\]\.roles/);
    await writeFile(file, JSON.stringify([{ token: "short", subject: "a", tenant: "t", roles: ["admin"] }]));
    expect(attempt).toThrow(/at least 16 characters/);
  });

  it("re-reads the tokens file when it changes: a revoked token stops working without a restart", async () => {
    const file = join(dir, "rotating.json");
    const entry = (token: string, subject: string) => ({ token_sha256: sha256Hex(token), subject, tenant: "acme", roles: ["submitter"] });
    await writeFile(file, JSON.stringify([entry("first-token-0123456789", "first")]));
    const auth = createAuthenticator({ ...off, tokensFile: file }, "127.0.0.1", recording().log);
    const who = async (token: string) => {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      return Promise.resolve()
        .then(() => auth.authenticate({ metadata, peerCertificate: undefined }))
        .then((p) => p.subject, () => undefined);
    };
    try {
      expect(await who("first-token-0123456789")).toBe("first");
      await writeFile(file, JSON.stringify([entry("second-token-0123456789", "second")]));
      for (const deadline = Date.now() + 30_000; (await who("second-token-0123456789")) === undefined && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await who("second-token-0123456789")).toBe("second");
      expect(await who("first-token-0123456789")).toBeUndefined();
      // A broken edit keeps the last good file.
      await writeFile(file, "[{");
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await who("second-token-0123456789")).toBe("second");
    } finally {
      auth.close();
    }
  });
});

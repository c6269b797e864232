// TLS and mTLS on the built service (SPOOL_TLS_*), with real certificates made by openssl for
// this file: a CA, a server certificate for 127.0.0.1 and localhost, client certificates with
// URI SANs, and a second CA that the service does not trust. Clients: the SDK, `buf curl` over
// https, the spool command, and the container health check. A certificate rotated while the
// service runs is served to new connections without a restart, and a garbage file written
// meanwhile leaves it serving the last good one.
import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, type SpoolTlsOptions } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { presentedSerial, serialOf, TestPki, type CertificateFiles } from "../service/src/test-support/certificates.js";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { eventually } from "../service/src/test-support/spool.js";
import { bufCurl, curlCall, killAll, serviceUrl, startService, type ServiceProcess } from "./support/service.js";

const database = useTestDatabase();
const healthcheckJs = fileURLToPath(new URL("../service/dist/healthcheck.js", import.meta.url));
const mainJs = fileURLToPath(new URL("../service/dist/main.js", import.meta.url));
const spoolBin = fileURLToPath(new URL("../sdk/bin/spool.js", import.meta.url));

const pki = new TestPki();
const ca = pki.ca("ca");
const otherCa = pki.ca("other-ca");
const serverSans = ["DNS:localhost", "IP:127.0.0.1"];
// serverAuth and clientAuth: with mTLS, the health check presents it as its client certificate.
const server = pki.issue(ca, "server", { sans: serverSans });
const client = pki.issue(ca, "client", { sans: ["URI:spiffe://spool.test/ns/e2e/sa/client"], usages: ["clientAuth"] });
const stranger = pki.issue(otherCa, "stranger", { sans: ["URI:spiffe://spool.test/ns/e2e/sa/client"], usages: ["clientAuth"] });

afterAll(async () => {
  await killAll();
  pki.remove();
});

const tlsEnv = (files: CertificateFiles, clientCa?: string): Record<string, string> => ({
  SPOOL_TLS_CERT: files.cert,
  SPOOL_TLS_KEY: files.key,
  ...(clientCa ? { SPOOL_TLS_CLIENT_CA: clientCa } : {}),
});

function start(env: Record<string, string>): Promise<ServiceProcess> {
  // Auth is on in some of these (client certificates), which leaves the demo kinds out unless asked.
  return startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "1", SPOOL_DEMO_KINDS: "true", ...env });
}

/** A client that trusts `trust` (a CA file) and presents `identity`, if given. */
function sdk(service: ServiceProcess, trust: CertificateFiles | undefined, identity?: CertificateFiles): SpoolClient {
  const tls: SpoolTlsOptions | undefined = trust && {
    ca: pki.read(trust.cert),
    ...(identity ? { cert: pki.read(identity.cert), key: pki.read(identity.key) } : {}),
  };
  return new SpoolClient(service.address, { tls, retries: 0, deadlineMs: 10_000 });
}

/** An echo task, created and awaited through this client: its result, or the error's code. */
async function echo(spool: SpoolClient, value: unknown): Promise<unknown> {
  try {
    const task = await spool.createTask("demo.echo", value);
    return (await spool.waitForTask(task.id, { timeoutMs: 30_000 })).result;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    spool.close();
  }
}

function run(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe("TLS", () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    service = await start(tlsEnv(server));
    expect(service.output()).toMatch(/"transport":"tls"[^\n]*"msg":"spool serving"/);
  });

  it("serves the SDK, which verifies the server against the CA", async () => {
    expect(await echo(sdk(service, ca), { over: "tls" })).toEqual({ over: "tls" });
    // A client that trusts another CA (or only the system's roots) refuses the server.
    expect(await echo(sdk(service, otherCa), 1)).toBe("unavailable");
    expect(await echo(new SpoolClient(service.address, { tls: true, retries: 0 }), 1)).toBe("unavailable");
  });

  it("serves buf curl over https, verified with --cacert", async () => {
    const tls = { cacert: ca.cert };
    const created = await curlCall(service, "CreateTask", { kind: "demo.echo", input: "curl" }, tls);
    expect(await curlCall(service, "GetTask", { id: created.task.id }, tls)).toMatchObject({ task: { id: created.task.id } });
    const listed = await bufCurl(service, ["--list-services", serviceUrl(service, tls)], tls);
    expect(listed.stdout).toContain("spool.v1.TaskService");
  });

  it("refuses plaintext clients", async () => {
    expect(await echo(sdk(service, undefined), 1)).toBe("unavailable");
    const plaintext = await bufCurl(service, ["-d", "{}", serviceUrl(service, undefined, "/grpc.health.v1.Health/Check")]);
    expect(plaintext.code).not.toBe(0);
  });

  it("serves the spool command with --ca, or SPOOL_CA", async () => {
    const env = { SPOOL_ADDRESS: service.address };
    const withFlag = await run(spoolBin, ["--ca", ca.cert, "create", "demo.echo", "--input", "7", "--wait", "--json"], env);
    expect(withFlag, withFlag.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(withFlag.stdout)).toMatchObject({ state: "succeeded", result: 7 });
    const withEnv = await run(spoolBin, ["list", "--limit", "1", "--json"], { ...env, SPOOL_CA: ca.cert });
    expect(withEnv, withEnv.stderr).toMatchObject({ code: 0 });
    const plaintext = await run(spoolBin, ["list", "--limit", "1"], env);
    expect(plaintext.code).toBe(1);
    expect(plaintext.stderr).toContain("error: unavailable");
  });

  it("passes the container health check, which connects with TLS", async () => {
    const check = await run(healthcheckJs, [], { ...tlsEnv(server), SPOOL_PORT: String(service.port) });
    expect(check, check.stdout).toMatchObject({ code: 0 });
    expect(check.stdout).toContain("SERVING");
    expect(check.stderr).toBe(""); // no warning either (an IP address as SNI would get one)
  });
});

describe("mTLS", () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    service = await start(tlsEnv(server, ca.cert));
    expect(service.output()).toMatch(/"transport":"mtls"[^\n]*"msg":"spool serving"/);
  });

  it("serves a client with a certificate the client CA issued", async () => {
    expect(await echo(sdk(service, ca, client), "mutual")).toBe("mutual");
    const created = await curlCall(service, "CreateTask", { kind: "demo.echo", input: 1 }, { cacert: ca.cert, cert: client.cert, key: client.key });
    expect(created.task.kind).toBe("demo.echo");
    const cli = await run(spoolBin, ["list", "--limit", "1", "--json"], {
      SPOOL_ADDRESS: service.address,
      SPOOL_CA: ca.cert,
      SPOOL_CERT: client.cert,
      SPOOL_KEY: client.key,
    });
    expect(cli, cli.stderr).toMatchObject({ code: 0 });
  });

  it("refuses a client without a certificate, and one another CA issued", async () => {
    expect(await echo(sdk(service, ca), 1)).toBe("unavailable");
    expect(await echo(sdk(service, ca, stranger), 1)).toBe("unavailable");
    const tls = { cacert: ca.cert };
    expect((await bufCurl(service, ["--list-services", serviceUrl(service, tls)], tls)).code).not.toBe(0);
    const strangerTls = { cacert: ca.cert, cert: stranger.cert, key: stranger.key };
    expect((await bufCurl(service, ["--list-services", serviceUrl(service, strangerTls)], strangerTls)).code).not.toBe(0);
  });

  it("passes the health check, presenting the server's certificate or SPOOL_HEALTHCHECK_CERT", async () => {
    const env = { ...tlsEnv(server, ca.cert), SPOOL_PORT: String(service.port) };
    const own = await run(healthcheckJs, [], env);
    expect(own, own.stdout).toMatchObject({ code: 0 });
    const given = await run(healthcheckJs, [], { ...env, SPOOL_HEALTHCHECK_CERT: client.cert, SPOOL_HEALTHCHECK_KEY: client.key });
    expect(given, given.stdout).toMatchObject({ code: 0 });
    // A certificate the client CA did not issue: not healthy, and it says what it presented.
    const refused = await run(healthcheckJs, [], { ...env, SPOOL_HEALTHCHECK_CERT: stranger.cert, SPOOL_HEALTHCHECK_KEY: stranger.key });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("presents SPOOL_HEALTHCHECK_CERT as its client certificate");
  });
});

describe("client certificates as identities (SPOOL_AUTH_CLIENT_CERTS)", () => {
  const billing = pki.issue(ca, "billing", { sans: ["URI:spiffe://spool.test/ns/billing/sa/api"], usages: ["clientAuth"] });
  let service: ServiceProcess;

  beforeAll(async () => {
    const mapping = join(pki.dir, "client-certs.json");
    writeFileSync(
      mapping,
      JSON.stringify([
        { san: "spiffe://spool.test/ns/billing/sa/api", tenant: "billing", roles: ["submitter"] },
        { san: "spiffe://spool.test/ns/e2e/sa/client", tenant: "e2e", roles: ["operator"] },
      ]),
    );
    service = await start({ ...tlsEnv(server, ca.cert), SPOOL_AUTH_CLIENT_CERTS: mapping });
  });
  afterAll(() => service.kill("SIGTERM"));

  it("runs each call as the identity its certificate's SAN maps to, in that tenant", async () => {
    expect(service.output()).toMatch(/"sources":\["client certificates"\][^\n]*"msg":"auth is on"/);
    const spool = sdk(service, ca, billing);
    try {
      const task = await spool.createTask("demo.echo", "from billing");
      expect(task).toMatchObject({ tenant: "billing", createdBy: "spiffe://spool.test/ns/billing/sa/api" });
      // The operator of another tenant cannot see it: NOT_FOUND, as a missing task.
      const other = sdk(service, ca, client);
      try {
        await expect(other.getTask(task.id)).rejects.toMatchObject({ code: "not_found" });
        expect((await other.listTasksPage()).tasks.map((t) => t.id)).not.toContain(task.id);
      } finally {
        other.close();
      }
    } finally {
      spool.close();
    }
  });

  it("refuses a certificate the client CA issued whose SAN is not mapped: UNAUTHENTICATED", async () => {
    const unmapped = pki.issue(ca, "unmapped", { sans: ["URI:spiffe://spool.test/ns/other/sa/x"], usages: ["clientAuth"] });
    expect(await echo(sdk(service, ca, unmapped), 1)).toBe("unauthenticated");
  });
});

describe("certificate rotation", () => {
  it("serves a new certificate to new connections without a restart, and keeps serving through a garbage file", async () => {
    const live = { cert: join(pki.dir, "live.pem"), key: join(pki.dir, "live.key") };
    copyFileSync(server.cert, live.cert);
    copyFileSync(server.key, live.key);
    const service = await start({ ...tlsEnv(live), SPOOL_TLS_REFRESH_MS: "200" });
    expect(await presentedSerial(service.port)).toBe(serialOf(server.cert));
    const before = sdk(service, ca);
    expect((await before.createTask("demo.echo", "connected")).state).toBeDefined();

    // A certificate from a new CA, as a renewal might bring; the key first, then the certificate.
    const renewed = pki.issue(otherCa, "renewed", { sans: serverSans });
    copyFileSync(renewed.key, live.key);
    copyFileSync(renewed.cert, live.cert);
    await eventually(
      async () => ((await presentedSerial(service.port)) === serialOf(renewed.cert) ? true : undefined),
      30_000,
      "the renewed certificate on a new connection",
    );
    expect(service.output()).toContain("TLS certificate reloaded");
    expect(await echo(sdk(service, otherCa), "renewed")).toBe("renewed");
    expect(await echo(sdk(service, ca), 1)).toBe("unavailable"); // a new connection gets the new certificate
    // A connection made before keeps the certificate it was made with, and goes on working.
    expect(await echo(before, "still connected")).toBe("still connected");
    expect((await curlCall(service, "ListTasks", { pageSize: 1 }, { cacert: otherCa.cert })).tasks).toHaveLength(1);

    // A garbage certificate file: a warning, the process goes on, and the renewed certificate too.
    writeFileSync(live.cert, "-----BEGIN CERTIFICATE-----\nhalf-written\n");
    await eventually(async () => (/TLS files not reloaded[^\n]*SPOOL_TLS_CERT/.test(service.output()) ? true : undefined), 30_000, "the warning");
    expect(service.child.exitCode).toBeNull();
    expect(await presentedSerial(service.port)).toBe(serialOf(renewed.cert));
    expect(await echo(sdk(service, otherCa), "after garbage")).toBe("after garbage");
    expect(await run(healthcheckJs, [], { SPOOL_PORT: String(service.port), ...tlsEnv(renewed) })).toMatchObject({ code: 0 });
    await service.kill("SIGTERM");
  });
});

describe("bad TLS settings stop the start", () => {
  const startFailure = async (env: Record<string, string>) => {
    const result = await run(mainJs, [], { DATABASE_URL: database.url, SPOOL_PORT: "0", SPOOL_HTTP_PORT: "0", SPOOL_LOG_FORMAT: "json", ...env });
    expect(result.code).toBe(1);
    const fatal = result.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line)).find((line) => line.level === 60);
    return String(fatal?.err?.message);
  };

  it("names the variable of a setting that is missing its pair", async () => {
    expect(await startFailure({ SPOOL_TLS_KEY: server.key })).toBe(
      "invalid configuration: SPOOL_TLS_KEY: is set without SPOOL_TLS_CERT: give both, the certificate and its key, to turn TLS on",
    );
    expect(await startFailure({ SPOOL_TLS_CLIENT_CA: ca.cert })).toMatch(/^invalid configuration: SPOOL_TLS_CLIENT_CA: needs SPOOL_TLS_CERT/);
  });

  it("names the file that cannot be read or used", async () => {
    const missing = join(pki.dir, "missing.pem");
    expect(await startFailure(tlsEnv({ cert: missing, key: server.key }))).toMatch(
      new RegExp(`^SPOOL_TLS_CERT \\(${missing}\\): cannot read it: ENOENT`),
    );
    const garbage = join(pki.dir, "garbage.key");
    writeFileSync(garbage, "garbage\n");
    expect(await startFailure(tlsEnv({ cert: server.cert, key: garbage }))).toMatch(
      new RegExp(`^SPOOL_TLS_KEY \\(${garbage}\\): not a usable private key`),
    );
    expect(await startFailure(tlsEnv({ cert: server.cert, key: client.key }))).toBe(
      `SPOOL_TLS_KEY (${client.key}): is not the key of the certificate in SPOOL_TLS_CERT`,
    );
  });
});

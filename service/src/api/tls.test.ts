// TLS credentials from files (tls.ts) on a real grpc-js server: bad files stop the start with
// a message naming the variable and the file; a rotated certificate reaches new connections
// without a restart; a bad file met while serving is warned about and the last good one goes
// on being served; with a client CA, only clients holding a certificate it issued get in.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { get as httpsGet } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, Server, type ServiceError } from "@grpc/grpc-js";
import { HealthImplementation, service as healthService } from "grpc-health-check";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { presentedSerial, serialOf, TestPki, type CertificateFiles } from "../test-support/certificates.js";
import { startHttpServer } from "../http/http-server.js";
import { eventually } from "../test-support/spool.js";
import { serverTls, type TlsConfig } from "./tls.js";

const pki = new TestPki();
const ca = pki.ca("ca");
const otherCa = pki.ca("other-ca");
const serverSans = ["DNS:localhost", "IP:127.0.0.1"];
const first = pki.issue(ca, "server-1", { sans: serverSans });
const client = pki.issue(ca, "client", { sans: ["URI:spiffe://test/client"], usages: ["clientAuth"] });
const stranger = pki.issue(otherCa, "stranger", { sans: ["URI:spiffe://test/client"], usages: ["clientAuth"] });

const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((server) => server.forceShutdown()));
afterAll(() => pki.remove());

/** Log lines the credentials wrote. */
function capture() {
  const lines: Array<{ level: number; msg: string; problem?: string }> = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** The live files of a test: copies, so that rotating them leaves the originals alone. */
function liveFiles(name: string, from: CertificateFiles, clientCa?: string): TlsConfig {
  const certFile = join(pki.dir, `${name}-live.pem`);
  const keyFile = join(pki.dir, `${name}-live.key`);
  copyFileSync(from.cert, certFile);
  copyFileSync(from.key, keyFile);
  let clientCaFile: string | undefined;
  if (clientCa) {
    clientCaFile = join(pki.dir, `${name}-live-ca.pem`);
    copyFileSync(clientCa, clientCaFile);
  }
  return { certFile, keyFile, clientCaFile, refreshMs: 100 };
}

async function serve(config: TlsConfig, log = capture().log): Promise<number> {
  const server = new Server();
  servers.push(server);
  new HealthImplementation({ "": "SERVING" }).addToServer(server);
  const { credentials: serverCredentials } = serverTls(config, log);
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverCredentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
}

/** The serial number of the certificate a new connection is given. */
const servedSerial = presentedSerial;

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** A health Check over a new channel that trusts `trust` and presents `identity`, if any: "SERVING" or the error. */
async function check(port: number, trust: CertificateFiles, identity?: CertificateFiles): Promise<string> {
  const channel = credentials.createSsl(pki.read(trust.cert), identity && pki.read(identity.key), identity && pki.read(identity.cert));
  const health = new HealthClient(`127.0.0.1:${port}`, channel) as unknown as {
    check(request: object, options: object, callback: (error: ServiceError | null, response?: { status: string }) => void): void;
    close(): void;
  };
  try {
    return await new Promise((resolve) =>
      health.check({ service: "" }, { deadline: Date.now() + 10_000 }, (error, response) =>
        resolve(error ? `error ${error.code}: ${error.details}` : String(response?.status)),
      ),
    );
  } finally {
    health.close();
  }
}

describe("at start", () => {
  it("names the variable and the file of one that cannot be read or is not PEM", () => {
    const config = liveFiles("start", first);
    const { log } = capture();
    expect(() => serverTls({ ...config, certFile: join(pki.dir, "missing.pem") }, log)).toThrow(
      new RegExp(`^SPOOL_TLS_CERT \\(${pki.dir}/missing.pem\\): cannot read it: ENOENT`),
    );
    writeFileSync(join(pki.dir, "garbage.pem"), "not a certificate\n");
    expect(() => serverTls({ ...config, certFile: join(pki.dir, "garbage.pem") }, log)).toThrow(
      `SPOOL_TLS_CERT (${pki.dir}/garbage.pem): holds no PEM certificate`,
    );
    expect(() => serverTls({ ...config, keyFile: join(pki.dir, "garbage.pem") }, log)).toThrow(
      `SPOOL_TLS_KEY (${pki.dir}/garbage.pem): not a usable private key`,
    );
    expect(() => serverTls({ ...config, clientCaFile: join(pki.dir, "garbage.pem") }, log)).toThrow(
      `SPOOL_TLS_CLIENT_CA (${pki.dir}/garbage.pem): holds no PEM certificate`,
    );
    writeFileSync(join(pki.dir, "broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(() => serverTls({ ...config, certFile: join(pki.dir, "broken.pem") }, log)).toThrow(
      `SPOOL_TLS_CERT (${pki.dir}/broken.pem): certificate 1 of 1 does not parse`,
    );
  });

  it("refuses a key that is not the certificate's", () => {
    const config = liveFiles("mismatch", first);
    expect(() => serverTls({ ...config, keyFile: client.key }, capture().log)).toThrow(
      `SPOOL_TLS_KEY (${client.key}): is not the key of the certificate in SPOOL_TLS_CERT`,
    );
  });
});

describe("while serving", () => {
  it("serves a rotated certificate to new connections, and the last good one while the files are bad", async () => {
    const config = liveFiles("rotate", first);
    const { log, lines } = capture();
    const port = await serve(config, log);
    const firstSerial = await servedSerial(port);
    expect(await check(port, ca)).toBe("SERVING");

    // A new certificate from another CA: once it has been read, new connections get it.
    const second = pki.issue(otherCa, "server-2", { sans: serverSans });
    copyFileSync(second.key, config.keyFile);
    copyFileSync(second.cert, config.certFile);
    const secondSerial = await eventually(async () => {
      const serial = await servedSerial(port);
      return serial === firstSerial ? undefined : serial;
    }, 20_000, "the rotated certificate");
    expect(await check(port, otherCa)).toBe("SERVING");
    expect(await check(port, ca)).toMatch(/^error 14: /); // the old CA no longer vouches for the server
    expect(lines.some((line) => line.msg.startsWith("TLS certificate reloaded"))).toBe(true);

    // Garbage in the certificate file: a warning, and the second certificate is still served.
    writeFileSync(config.certFile, "garbage, as if half-written\n");
    await eventually(async () => lines.find((line) => line.level === 40 && /SPOOL_TLS_CERT .*holds no PEM/.test(line.problem ?? "")), 20_000, "a warning");
    expect(await servedSerial(port)).toBe(secondSerial);
    expect(await check(port, otherCa)).toBe("SERVING");

    // A certificate written before its key: the pair does not match yet, so nothing changes...
    const third = pki.issue(ca, "server-3", { sans: serverSans });
    copyFileSync(third.cert, config.certFile);
    await eventually(async () => lines.find((line) => /is not the key of the certificate/.test(line.problem ?? "")), 20_000, "a mismatch warning");
    expect(await servedSerial(port)).toBe(secondSerial);
    // ...until the key follows.
    copyFileSync(third.key, config.keyFile);
    await eventually(async () => ((await servedSerial(port)) === secondSerial ? undefined : true), 20_000, "the third certificate");
    expect(await check(port, ca)).toBe("SERVING");
    // Each problem was warned about once, however many reads met it.
    const warnings = lines.filter((line) => line.level === 40).map((line) => line.problem);
    expect(new Set(warnings).size).toBe(warnings.length);
  });

  it("goes on serving when a file disappears", async () => {
    const config = liveFiles("vanish", first);
    const { log, lines } = capture();
    const port = await serve(config, log);
    const serial = await servedSerial(port);
    rmSync(config.keyFile);
    await eventually(async () => lines.find((line) => /SPOOL_TLS_KEY .*cannot read it: ENOENT/.test(line.problem ?? "")), 20_000, "a warning");
    expect(await servedSerial(port)).toBe(serial);
    expect(await check(port, ca)).toBe("SERVING");
  });
});

describe("with a client CA (mTLS)", () => {
  it("lets in only a client with a certificate the CA issued", async () => {
    const port = await serve(liveFiles("mtls", first, ca.cert));
    expect(await check(port, ca, client)).toBe("SERVING");
    expect(await check(port, ca)).toMatch(/^error 14: /);
    expect(await check(port, ca, stranger)).toMatch(/^error 14: /);
  });

  it("verifies clients against a rotated client CA", async () => {
    const config = liveFiles("mtls-rotate", first, ca.cert);
    const { log, lines } = capture();
    const port = await serve(config, log);
    copyFileSync(otherCa.cert, config.clientCaFile!);
    await eventually(async () => lines.find((line) => line.msg.startsWith("TLS client CA reloaded")), 20_000, "the CA reload");
    expect(await check(port, ca, stranger)).toBe("SERVING");
    expect(await check(port, ca, client)).toMatch(/^error 14: /);
    writeFileSync(config.clientCaFile!, "garbage\n");
    await eventually(async () => lines.find((line) => /SPOOL_TLS_CLIENT_CA .*holds no PEM/.test(line.problem ?? "")), 20_000, "a warning");
    expect(await check(port, ca, stranger)).toBe("SERVING");
  });
});

it("stops reading the files once the server is shut down", async () => {
  // grpc-js's file watcher reads on an interval of refreshMs: it must be cleared, or it would
  // keep a stopped replica's process alive.
  const started = vi.spyOn(globalThis, "setInterval");
  const cleared = vi.spyOn(globalThis, "clearInterval");
  try {
    const port = await serve(liveFiles("close", first));
    expect(await check(port, ca)).toBe("SERVING");
    const watchers = started.mock.calls.flatMap((call, index) => (call[1] === 100 ? [started.mock.results[index]!.value] : []));
    expect(watchers).toHaveLength(1);
    servers.splice(0).forEach((server) => server.forceShutdown());
    await eventually(async () => (cleared.mock.calls.some((call) => call[0] === watchers[0]) ? true : undefined), 10_000, "the interval to be cleared");
  } finally {
    started.mockRestore();
    cleared.mockRestore();
  }
});

describe("the HTTP port", () => {
  it("serves HTTPS from the same files, takes a rotated certificate, and refuses plain HTTP", async () => {
    const config = liveFiles("http", first);
    const tls = serverTls(config, capture().log);
    const http = await startHttpServer({ host: "127.0.0.1", port: 0, ready: () => true, metrics: undefined, log: pino({ level: "silent" }), tls });
    try {
      const get = (caFile: string) =>
        new Promise<number>((resolve, reject) => {
          const sent = httpsGet({ host: "127.0.0.1", port: http.port, path: "/healthz", servername: "localhost", ca: readFileSync(caFile) }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          });
          sent.on("error", reject);
        });
      expect(await get(ca.cert)).toBe(200);
      await expect(fetch(`http://127.0.0.1:${http.port}/healthz`)).rejects.toThrow();

      const second = pki.issue(otherCa, "http-2", { sans: serverSans });
      copyFileSync(second.key, config.keyFile);
      copyFileSync(second.cert, config.certFile);
      const served = async () => {
        const socket = tlsConnect({ host: "127.0.0.1", port: http.port, servername: "localhost", ALPNProtocols: ["http/1.1"], rejectUnauthorized: false });
        try {
          await once(socket, "secureConnect");
          return socket.getPeerCertificate().serialNumber;
        } finally {
          socket.destroy();
        }
      };
      await eventually(async () => ((await served()) === serialOf(second.cert) ? true : undefined), 20_000, "the rotated certificate");
      expect(await get(otherCa.cert)).toBe(200);
    } finally {
      await http.close();
    }
  });
});

// TLS on the gRPC port, from PEM files that are reloaded when they change (SPOOL_TLS_CERT,
// SPOOL_TLS_KEY, SPOOL_TLS_CLIENT_CA, SPOOL_TLS_REFRESH_MS; docs/security.md).
//
// - At start every file is read and checked (readable, PEM, the key matches the certificate, the
//   client CA holds certificates); a problem stops the start with a message naming the variable
//   and the file.
// - While serving, grpc-js's own FileWatcherCertificateProvider reads the files again every
//   refreshMs, and its certificate-provider server credentials give what it read to the TLS
//   server (setSecureContext): a new certificate is presented to connections made from then on,
//   while open connections keep the one they began with.
// - Between the two sits CheckedCertificates, which passes on only a complete, valid set of
//   files. grpc-js alone would stop accepting every connection on a bad read (a file missing
//   or half-written mid-rotation, a certificate written before its key): here the last good
//   certificate goes on being served, a warning names the problem (once, not at every read),
//   and the files are tried again at the next refresh.
// - The HTTP port (http/http-server.ts) serves TLS from the same checked certificate, and takes
//   each new one the same way (watchIdentity); it asks no client certificate (browsers and
//   probes present none), so its callers authenticate with tokens.
// - With a client CA the server asks every client for a certificate and refuses the handshake
//   of one that sends none or one the CA did not issue (mTLS). grpc-js then gives a handler the
//   verified certificate as call.getAuthContext().sslPeerCertificate (auth/client-certs.ts maps
//   it to an identity).
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";

export interface TlsConfig {
  /** PEM: the server's certificate, then any intermediates. */
  certFile: string;
  /** PEM: its private key. */
  keyFile: string;
  /** PEM: the CA certificates that issue client certificates; set, clients must present one (mTLS). */
  clientCaFile: string | undefined;
  /** How often the files are read again. */
  refreshMs: number;
}

export interface ServerTls {
  /** For server.bindAsync. */
  readonly credentials: ServerCredentials;
  /** Whether clients must present a certificate the client CA issued. */
  readonly mutual: boolean;
  /** The certificate and key read at start. */
  readonly identity: Identity;
  /**
   * Calls `listener` with each new valid certificate and key as the files change (and once,
   * on the next tick, with the current pair): the HTTP port serves TLS from the same files.
   * Returns what stops the calls.
   */
  watchIdentity(listener: (identity: Identity) => void): () => void;
}

/** The variables that name the files, so that a message says which setting to fix. */
const variables = { cert: "SPOOL_TLS_CERT", key: "SPOOL_TLS_KEY", ca: "SPOOL_TLS_CLIENT_CA" } as const;
type Role = keyof typeof variables;

type Identity = experimental.IdentityCertificateUpdate;
type Ca = experimental.CaCertificateUpdate;

/**
 * Reads and checks the files (throwing with a message that names the variable and the file),
 * and returns credentials that reload them while the server runs.
 */
export function serverTls(config: TlsConfig, log: Logger): ServerTls {
  const name = (role: Role) => `${variables[role]} (${fileOf(config, role)})`;
  const read = (role: Role) => {
    try {
      return readFileSync(fileOf(config, role));
    } catch (error) {
      throw new Error(`${name(role)}: cannot read it: ${(error as Error).message}`);
    }
  };
  const identity = { certificate: read("cert"), privateKey: read("key") };
  const identityCheck = checkIdentity(identity);
  if (!identityCheck.ok) throw new Error(`${identityCheck.problems.map((p) => `${name(p.role)}: ${p.message}`).join("; ")}`);
  let ca: Ca | undefined;
  if (config.clientCaFile !== undefined) {
    ca = { caCertificate: read("ca") };
    const problem = caProblem(ca);
    if (problem) throw new Error(`${name("ca")}: ${problem}`);
  }
  const leaf = identityCheck.leaf;
  const now = Date.now();
  if (Date.parse(leaf.validTo) < now || Date.parse(leaf.validFrom) > now) {
    log.warn(
      { certFile: config.certFile, validFrom: leaf.validFrom, validTo: leaf.validTo },
      "the TLS certificate is not valid now: clients will refuse it",
    );
  }
  log.info({ ...describe(leaf), mutual: ca !== undefined, refreshMs: config.refreshMs }, "TLS on");

  const provider = new CheckedCertificates(config, identity, ca, log);
  // grpc-js 1.14's declaration names these parameters the wrong way round: the first is the
  // identity provider, the second (null for none) the CA's, and its code reads them so. This
  // provider is both. With a CA the server requests a certificate and, as asked here, requires it.
  const credentials = experimental.createCertificateProviderServerCredentials(provider, ca ? provider : null, ca !== undefined);
  return {
    credentials,
    mutual: ca !== undefined,
    identity,
    watchIdentity(listener) {
      const relay = (update: Identity | null) => update && listener(update);
      provider.addIdentityCertificateListener(relay);
      return () => provider.removeIdentityCertificateListener(relay);
    },
  };
}

function fileOf(config: TlsConfig, role: Role): string {
  return role === "cert" ? config.certFile : role === "key" ? config.keyFile : (config.clientCaFile ?? "");
}

/**
 * A grpc-js CertificateProvider that relays a FileWatcherCertificateProvider's readings only
 * when they are complete, valid and new: listeners always get a set of files that works.
 * It watches the files only while the server has listeners on it, so closing the server stops
 * the refresh timer.
 */
class CheckedCertificates implements experimental.CertificateProvider {
  readonly #files: experimental.FileWatcherCertificateProvider;
  readonly #config: TlsConfig;
  readonly #log: Logger;
  #identity: Identity;
  #ca: Ca | undefined;
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  /** The last problem warned about, per kind, so that a file that stays bad is not logged at every read. */
  readonly #warned: { identity?: string; ca?: string } = {};
  #watching = false;

  constructor(config: TlsConfig, identity: Identity, ca: Ca | undefined, log: Logger) {
    this.#config = config;
    this.#identity = identity;
    this.#ca = ca;
    this.#log = log;
    this.#files = new experimental.FileWatcherCertificateProvider({
      certificateFile: config.certFile,
      privateKeyFile: config.keyFile,
      caCertificateFile: config.clientCaFile,
      refreshIntervalMs: config.refreshMs,
    });
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    // On the next tick, as grpc-js's own providers do: the server registers its watcher right
    // after adding this listener, and it is ready before the first connection can arrive.
    process.nextTick(() => this.#identityListeners.has(listener) && listener(this.#identity));
    this.#watch();
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.delete(listener);
    this.#unwatchIfUnused();
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    const ca = this.#ca;
    if (ca) process.nextTick(() => this.#caListeners.has(listener) && listener(ca));
    this.#watch();
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
    this.#unwatchIfUnused();
  }

  readonly #onIdentity = (update: Identity | null) => {
    if (update === null) return this.#warn("identity", this.#unreadable(["cert", "key"]));
    if (update.certificate.equals(this.#identity.certificate) && update.privateKey.equals(this.#identity.privateKey)) {
      delete this.#warned.identity;
      return;
    }
    const check = checkIdentity(update);
    if (!check.ok) {
      return this.#warn("identity", check.problems.map((p) => `${this.#name(p.role)}: ${p.message}`).join("; "));
    }
    this.#identity = update;
    delete this.#warned.identity;
    this.#log.info(describe(check.leaf), "TLS certificate reloaded: new connections get it");
    for (const listener of this.#identityListeners) listener(update);
  };

  readonly #onCa = (update: Ca | null) => {
    if (this.#config.clientCaFile === undefined) return;
    if (update === null) return this.#warn("ca", this.#unreadable(["ca"]));
    if (this.#ca && update.caCertificate.equals(this.#ca.caCertificate)) {
      delete this.#warned.ca;
      return;
    }
    const problem = caProblem(update);
    if (problem) return this.#warn("ca", `${this.#name("ca")}: ${problem}`);
    this.#ca = update;
    delete this.#warned.ca;
    this.#log.info({ clientCaFile: this.#config.clientCaFile }, "TLS client CA reloaded: new connections are verified against it");
    for (const listener of this.#caListeners) listener(update);
  };

  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    this.#files.addIdentityCertificateListener(this.#onIdentity);
    if (this.#config.clientCaFile !== undefined) this.#files.addCaCertificateListener(this.#onCa);
  }

  #unwatchIfUnused(): void {
    if (!this.#watching || this.#identityListeners.size > 0 || this.#caListeners.size > 0) return;
    this.#watching = false;
    this.#files.removeIdentityCertificateListener(this.#onIdentity);
    this.#files.removeCaCertificateListener(this.#onCa);
  }

  #warn(kind: "identity" | "ca", problem: string): void {
    if (this.#warned[kind] === problem) return;
    this.#warned[kind] = problem;
    const still = kind === "identity" ? "still serving the previous certificate" : "still verifying clients against the previous client CA";
    this.#log.warn({ problem, retryInMs: this.#config.refreshMs }, `TLS files not reloaded, ${still}: ${problem}`);
  }

  #name(role: Role): string {
    return `${variables[role]} (${fileOf(this.#config, role)})`;
  }

  /** grpc-js says only that a read failed: which file, and why, is read here. */
  #unreadable(roles: Role[]): string {
    const problems = roles.flatMap((role) => {
      try {
        readFileSync(fileOf(this.#config, role));
        return [];
      } catch (error) {
        return [`${this.#name(role)}: cannot read it: ${(error as Error).message}`];
      }
    });
    return problems.join("; ") || `${roles.map((role) => this.#name(role)).join(", ")}: could not be read`;
  }
}

type IdentityCheck = { ok: true; leaf: X509Certificate } | { ok: false; problems: { role: Role; message: string }[] };

/** Whether a certificate chain and key are usable together: each parses, and the key is the certificate's. */
function checkIdentity(identity: Identity): IdentityCheck {
  const problems: { role: Role; message: string }[] = [];
  let leaf: X509Certificate | undefined;
  try {
    leaf = certificatesOf(identity.certificate)[0];
  } catch (error) {
    problems.push({ role: "cert", message: (error as Error).message });
  }
  let key: ReturnType<typeof createPrivateKey> | undefined;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(identity.privateKey.toString("latin1"))) {
      throw new Error("holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)");
    }
    key = createPrivateKey(identity.privateKey);
  } catch (error) {
    problems.push({ role: "key", message: `not a usable private key: ${(error as Error).message}` });
  }
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    problems.push({ role: "key", message: `is not the key of the certificate in ${variables.cert}` });
  }
  if (problems.length > 0 || !leaf) return { ok: false, problems };
  try {
    // What setSecureContext will do with them: anything OpenSSL refuses is caught here.
    createSecureContext({ cert: identity.certificate, key: identity.privateKey });
  } catch (error) {
    return { ok: false, problems: [{ role: "cert", message: `refused with its key: ${(error as Error).message}` }] };
  }
  return { ok: true, leaf };
}

/** What is wrong with a client CA file, if anything. */
function caProblem(ca: Ca): string | undefined {
  try {
    certificatesOf(ca.caCertificate);
    createSecureContext({ ca: ca.caCertificate });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Every certificate of a PEM file, in order; throws if there is none or one does not parse.
 * (OpenSSL ignores what is not a certificate in a CA file, so a garbled file would otherwise
 * pass for an empty list of CAs.)
 */
function certificatesOf(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`certificate ${index + 1} of ${blocks.length} does not parse: ${(error as Error).message}`);
    }
  });
}

/** What the logs say about a certificate. */
function describe(certificate: X509Certificate): Record<string, string> {
  return {
    subject: certificate.subject.replaceAll("\n", ", "),
    subjectAltName: certificate.subjectAltName ?? "",
    issuer: certificate.issuer.replaceAll("\n", ", "),
    serialNumber: certificate.serialNumber,
    validTo: certificate.validTo,
    fingerprint256: certificate.fingerprint256,
  };
}

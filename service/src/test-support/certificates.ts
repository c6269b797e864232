// Real certificates for tests, made with the openssl command in a temporary folder: CAs, and
// leaf certificates they issue with the SANs, usages and serial a test asks for. EC P-256
// keys, so that each takes a few milliseconds.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";

export interface CertificateFiles {
  /** PEM certificate file. */
  readonly cert: string;
  /** PEM private key file. */
  readonly key: string;
}

export interface LeafOptions {
  /** subjectAltName entries as openssl writes them: "DNS:localhost", "IP:127.0.0.1", "URI:spiffe://...". */
  sans: string[];
  /** extendedKeyUsage; default serverAuth and clientAuth. */
  usages?: ("serverAuth" | "clientAuth")[];
  /** Default: a fresh one each time. */
  serial?: number;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), "spool-pki-"));
  #count = 0;

  /** A self-signed CA. */
  ca(name: string): CertificateFiles {
    const files = this.#files(name);
    openssl([
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", `/CN=${name}`, "-keyout", files.key, "-out", files.cert,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return files;
  }

  /** A certificate issued by `ca`. */
  issue(ca: CertificateFiles, name: string, options: LeafOptions): CertificateFiles {
    const files = this.#files(name);
    const csr = join(this.dir, `${name}.csr`);
    const extensions = join(this.dir, `${name}.ext`);
    // A config section, not -addext: its values may hold commas (a SAN with one is a test case).
    const sans = options.sans.map((san, index) => {
      const colon = san.indexOf(":");
      return `${san.slice(0, colon)}.${index + 1} = ${san.slice(colon + 1)}`;
    });
    writeFileSync(
      extensions,
      [
        "[ext]",
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature",
        `extendedKeyUsage = ${(options.usages ?? ["serverAuth", "clientAuth"]).join(",")}`,
        "subjectAltName = @alt",
        "[alt]",
        ...sans,
        "",
      ].join("\n"),
    );
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${name}`, "-keyout", files.key, "-out", csr]);
    openssl([
      "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-days", "2",
      "-set_serial", String(options.serial ?? Date.now() * 1000 + ++this.#count),
      "-extfile", extensions, "-extensions", "ext", "-out", files.cert,
    ]);
    return files;
  }

  read(file: string): Buffer {
    return readFileSync(file);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #files(name: string): CertificateFiles {
    return { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
  }
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * The serial number of the certificate a server on loopback presents to a new connection,
 * unverified: what a test that rotates certificates polls for.
 */
export async function presentedSerial(port: number): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ALPNProtocols: ["h2"], rejectUnauthorized: false });
  try {
    await once(socket, "secureConnect");
    return socket.getPeerCertificate().serialNumber;
  } finally {
    socket.destroy();
  }
}

/** A certificate file's serial number, as presentedSerial gives it. */
export function serialOf(file: string): string {
  return new X509Certificate(readFileSync(file)).serialNumber;
}

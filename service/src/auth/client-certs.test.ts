// Client certificates as identities: the mapping file is checked entry by entry, Node's
// subjectaltname strings (quoted entries included) are split back into SANs, URI SANs are
// tried before DNS names, and a handler of a real mTLS server gets the principal of the
// certificate the client presented.
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PeerCertificate } from "node:tls";
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { TestPki } from "../test-support/certificates.js";
import { serverTls } from "../api/tls.js";
import { ClientCertIdentities, subjectAltNames } from "./client-certs.js";

const pki = new TestPki();
afterAll(() => pki.remove());

const mapping = [
  { san: "spiffe://mesh/ns/billing/sa/api", tenant: "billing", roles: ["submitter"] },
  { san: "spiffe://mesh/ns/a,b/sa/odd", tenant: "odd", roles: ["submitter", "operator"] },
  { san: "Ops-Console.Internal.example", tenant: "ops", roles: ["operator", "admin", "submitter"] },
  { san: "reports.internal.example", tenant: "reports", roles: ["submitter"] },
];
const identities = ClientCertIdentities.parse(JSON.stringify(mapping), "ids.json");

describe("subjectAltNames", () => {
  it("splits Node's string into typed SANs", () => {
    expect(subjectAltNames("DNS:a.example, URI:spiffe://x/y, IP Address:127.0.0.1, email:a@b.c")).toEqual([
      { type: "DNS", value: "a.example" },
      { type: "URI", value: "spiffe://x/y" },
      { type: "IP Address", value: "127.0.0.1" },
      { type: "email", value: "a@b.c" },
    ]);
  });

  it("unescapes quoted values, whose commas do not split them", () => {
    // Node 20 quotes the value after its type; the splitter also takes the whole entry quoted.
    expect(subjectAltNames('DNS:a.example, URI:"spiffe://x/a\\u002cb", URI:spiffe://x/c')).toEqual([
      { type: "DNS", value: "a.example" },
      { type: "URI", value: "spiffe://x/a,b" },
      { type: "URI", value: "spiffe://x/c" },
    ]);
    expect(subjectAltNames('"URI:spiffe://x/a, DNS:admin.example", DNS:b.example')).toEqual([
      { type: "URI", value: "spiffe://x/a, DNS:admin.example" },
      { type: "DNS", value: "b.example" },
    ]);
    expect(subjectAltNames('URI:"spiffe://x/\\"q\\""')).toEqual([{ type: "URI", value: 'spiffe://x/"q"' }]);
  });

  it("gives no SAN at all for a string it cannot split", () => {
    expect(subjectAltNames('URI:"spiffe://x/unterminated, DNS:a.example')).toEqual([]);
    expect(subjectAltNames("no type here")).toEqual([]);
    expect(subjectAltNames("")).toEqual([]);
  });

  it("reads what Node writes for a real certificate with a comma in a URI SAN", () => {
    const ca = pki.ca("san-ca");
    const files = pki.issue(ca, "san-leaf", { sans: ["DNS:a.example", "URI:spiffe://mesh/ns/a,b/sa/odd", "IP:127.0.0.1"] });
    const text = new X509Certificate(pki.read(files.cert)).subjectAltName ?? "";
    expect(text).toContain('"'); // Node quoted it
    expect(subjectAltNames(text)).toEqual([
      { type: "DNS", value: "a.example" },
      { type: "URI", value: "spiffe://mesh/ns/a,b/sa/odd" },
      { type: "IP Address", value: "127.0.0.1" },
    ]);
    expect(identities.identify({ subjectaltname: text })).toEqual({ subject: "spiffe://mesh/ns/a,b/sa/odd", tenant: "odd", role: "operator", via: "mtls" });
  });
});

describe("identify", () => {
  it("maps a URI SAN to its tenant and highest role", () => {
    expect(identities.identify({ subjectaltname: "URI:spiffe://mesh/ns/billing/sa/api" })).toEqual({
      subject: "spiffe://mesh/ns/billing/sa/api",
      tenant: "billing",
      role: "submitter",
      via: "mtls",
    });
  });

  it("tries URI SANs before DNS names, whatever their order in the certificate", () => {
    const principal = identities.identify({ subjectaltname: "DNS:reports.internal.example, URI:spiffe://mesh/ns/billing/sa/api" });
    expect(principal?.tenant).toBe("billing");
    // An unmapped URI does not hide a mapped DNS name.
    expect(identities.identify({ subjectaltname: "URI:spiffe://mesh/ns/x/sa/y, DNS:reports.internal.example" })?.tenant).toBe("reports");
  });

  it("matches DNS names regardless of case, URIs exactly", () => {
    expect(identities.identify({ subjectaltname: "DNS:OPS-console.internal.EXAMPLE" })).toEqual({
      subject: "ops-console.internal.example",
      tenant: "ops",
      role: "admin",
      via: "mtls",
    });
    expect(identities.identify({ subjectaltname: "URI:spiffe://mesh/ns/billing/sa/API" })).toBeUndefined();
  });

  it("identifies no one without a certificate, a SAN, or a mapped SAN", () => {
    expect(identities.identify(undefined)).toBeUndefined();
    expect(identities.identify({ subjectaltname: undefined as unknown as string })).toBeUndefined();
    expect(identities.identify({ subjectaltname: "IP Address:127.0.0.1, email:api@billing.example" })).toBeUndefined();
    // The literal text of a mapped SAN inside another SAN's quoted value is not that SAN.
    expect(identities.identify({ subjectaltname: '"DNS:x.example, URI:spiffe://mesh/ns/billing/sa/api"' })).toBeUndefined();
  });
});

describe("the mapping file", () => {
  const refused = (json: unknown) => {
    try {
      ClientCertIdentities.parse(typeof json === "string" ? json : JSON.stringify(json), "/etc/spool/ids.json");
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("accepted");
  };

  it("names the file and each entry at fault", () => {
    expect(refused("[{")).toMatch(/^SPOOL_AUTH_CLIENT_CERTS \(\/etc\/spool\/ids.json\): not JSON: /);
    expect(refused({ san: "a.example" })).toBe('SPOOL_AUTH_CLIENT_CERTS (/etc/spool/ids.json): must be a JSON list of { "san", "tenant", "roles" }');
    const message = refused([
      { san: "ok.example", tenant: "t", roles: ["admin"] },
      { san: "b.example", roles: ["submitter"] },
      { san: "c.example", tenant: "t", roles: ["operater"] },
      { san: "*.example", tenant: "t", roles: ["admin"] },
      { san: "URI:spiffe://x/y", tenant: "t", roles: ["admin"] },
      { san: "d.example", tenant: "t", roles: [], tenat: "typo" },
      { san: "OK.example", tenant: "u", roles: ["submitter"] },
    ]);
    expect(message).toMatch(/^SPOOL_AUTH_CLIENT_CERTS \(\/etc\/spool\/ids.json\): /);
    expect(message).toContain("entry 1 (tenant): ");
    expect(message).toContain("entry 2 (roles[0]): ");
    expect(message).toContain("entry 3 (san): is neither a URI (scheme:...) nor a DNS name");
    expect(message).toContain('entry 4 (san): write the name without its type: "spiffe://x/y"');
    expect(message).toContain("entry 5 (roles): needs at least one of submitter, operator, admin");
    expect(message).toMatch(/entry 5: .*tenat/);
    expect(message).toContain('entry 6: san "OK.example" is already mapped by entry 0');
  });

  it("is read from its path, and an unreadable one is named", () => {
    const file = join(pki.dir, "ids.json");
    writeFileSync(file, JSON.stringify(mapping));
    expect(ClientCertIdentities.load(file).size).toBe(4);
    expect(() => ClientCertIdentities.load(join(pki.dir, "missing.json"))).toThrow(
      `SPOOL_AUTH_CLIENT_CERTS (${join(pki.dir, "missing.json")}): cannot read it: ENOENT`,
    );
  });
});

describe("on a real mTLS server", () => {
  // A one-method service whose handler answers with the principal of its caller, as an
  // authenticating interceptor or handler would find it.
  const whoAmI: ServiceDefinition = {
    whoAmI: {
      path: "/test.Who/AmI",
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (value: Buffer) => value,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };

  it("gives a handler the principal of the client's certificate", async () => {
    const ca = pki.ca("mtls-ca");
    const server = pki.issue(ca, "mtls-server", { sans: ["DNS:localhost", "IP:127.0.0.1"] });
    const billing = pki.issue(ca, "billing", { sans: ["DNS:other.example", "URI:spiffe://mesh/ns/billing/sa/api"], usages: ["clientAuth"] });
    const unmapped = pki.issue(ca, "unmapped", { sans: ["URI:spiffe://mesh/ns/x/sa/y"], usages: ["clientAuth"] });
    const grpcServer = new Server();
    grpcServer.addService(whoAmI, {
      whoAmI: (call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } }, callback: (error: null, value: Buffer) => void) =>
        callback(null, Buffer.from(JSON.stringify(identities.identify(call.getAuthContext()?.sslPeerCertificate) ?? null))),
    } as unknown as UntypedServiceImplementation);
    const tls = serverTls({ certFile: server.cert, keyFile: server.key, clientCaFile: ca.cert, refreshMs: 10_000 }, pino({ level: "silent" }));
    const port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync("127.0.0.1:0", tls.credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const Client = makeGenericClientConstructor(whoAmI, "Who");
    const ask = async (identity: { cert: string; key: string }) => {
      const channel = credentials.createSsl(pki.read(ca.cert), pki.read(identity.key), pki.read(identity.cert));
      const client = new Client(`127.0.0.1:${port}`, channel) as unknown as {
        whoAmI(request: Buffer, callback: (error: ServiceError | null, value?: Buffer) => void): void;
        close(): void;
      };
      try {
        return await new Promise((resolve, reject) =>
          client.whoAmI(Buffer.alloc(0), (error, value) => (error ? reject(error) : resolve(JSON.parse(value!.toString())))),
        );
      } finally {
        client.close();
      }
    };
    try {
      expect(await ask(billing)).toEqual({ subject: "spiffe://mesh/ns/billing/sa/api", tenant: "billing", role: "submitter", via: "mtls" });
      expect(await ask(unmapped)).toBeNull();
    } finally {
      grpcServer.forceShutdown();
    }
  });
});

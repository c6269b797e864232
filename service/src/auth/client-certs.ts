// Client certificates as identities (mTLS): SPOOL_AUTH_CLIENT_CERTS names a JSON file that maps
// a subject alternative name (SAN) of a client certificate to a tenant and roles
// (docs/security.md):
//
//   [
//     { "san": "spiffe://mesh/ns/billing/sa/api", "tenant": "billing", "roles": ["submitter"] },
//     { "san": "ops-console.internal.example", "tenant": "ops", "roles": ["operator"] }
//   ]
//
// - A `san` with a scheme (`spiffe:`, `https:`...) is a URI SAN, matched exactly; anything else
//   is a DNS name, matched regardless of case. Each SAN appears once in the file.
// - identify() takes the certificate a handler gets from grpc-js, which hands it over only
//   once the TLS handshake has verified it against SPOOL_TLS_CLIENT_CA (api/tls.ts):
//       identities.identify(call.getAuthContext()?.sslPeerCertificate)
//   The certificate's URI SANs are tried first, in their order, then its DNS names; the first
//   one the file maps is the principal's subject. No certificate, no SAN, or none mapped:
//   undefined, and the caller is not identified by its certificate.
// - Node writes a certificate's SANs as one string, "DNS:a.example, URI:spiffe://x/y", and since
//   the fix of CVE-2021-44532 (Node 17.3.1, 16.13.2, 14.18.3) a value that holds a comma, a quote
//   or a control character is written as a JSON string (`URI:"spiffe://x/a\u002cb"`), so that
//   no value can pass for two. subjectAltNames()
//   splits it back as Node's own tls.checkServerIdentity does; a string it cannot split
//   identifies no one.
import { readFileSync } from "node:fs";
import type { PeerCertificate } from "node:tls";
import { z } from "zod";
import { highestRole, roles, type Principal } from "./principal.js";

/** One SAN of a certificate: its type as Node names it ("DNS", "URI", "IP Address", "email"...) and its value. */
export interface SubjectAltName {
  readonly type: string;
  readonly value: string;
}

const dnsName = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;
const uriScheme = /^[a-z][a-z0-9+.-]*:/i;

const entrySchema = z.strictObject({
  san: z
    .string()
    .min(1)
    .superRefine((san, ctx) => {
      if (/^(URI|DNS):/i.test(san)) {
        const message = `write the name without its type: "${san.slice(4)}" (a scheme makes it a URI SAN, else it is a DNS name)`;
        ctx.addIssue({ code: "custom", message });
      } else if (!uriScheme.test(san) && !dnsName.test(san)) {
        ctx.addIssue({ code: "custom", message: "is neither a URI (scheme:...) nor a DNS name (no wildcards: names are matched exactly)" });
      }
    }),
  tenant: z.string().min(1),
  roles: z.array(z.enum(roles)).min(1, `needs at least one of ${roles.join(", ")}`),
});

type Entry = z.infer<typeof entrySchema>;

/** The SAN as it is looked up: a URI as it is, a DNS name in lower case. */
const keyOf = (type: "URI" | "DNS", value: string) => (type === "URI" ? `URI:${value}` : `DNS:${value.toLowerCase()}`);

export class ClientCertIdentities {
  readonly #byKey: ReadonlyMap<string, Entry>;

  private constructor(byKey: ReadonlyMap<string, Entry>) {
    this.#byKey = byKey;
  }

  /** Reads and checks the file; throws with a message naming it and the entry at fault. */
  static load(file: string): ClientCertIdentities {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`SPOOL_AUTH_CLIENT_CERTS (${file}): cannot read it: ${(error as Error).message}`);
    }
    return ClientCertIdentities.parse(text, file);
  }

  /** The mapping in this JSON text; `file` names it in messages. */
  static parse(text: string, file: string): ClientCertIdentities {
    const problem = (message: string) => new Error(`SPOOL_AUTH_CLIENT_CERTS (${file}): ${message}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw problem(`not JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(json)) throw problem('must be a JSON list of { "san", "tenant", "roles" }');
    const byKey = new Map<string, Entry & { index: number }>();
    const problems: string[] = [];
    json.forEach((item: unknown, index) => {
      const parsed = entrySchema.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const field = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
          problems.push(`entry ${index}${field ? ` (${field.replace(/^\./, "")})` : ""}: ${issue.message}`);
        }
        return;
      }
      const entry = parsed.data;
      const key = keyOf(uriScheme.test(entry.san) ? "URI" : "DNS", entry.san);
      const earlier = byKey.get(key);
      if (earlier) problems.push(`entry ${index}: san "${entry.san}" is already mapped by entry ${earlier.index}`);
      else byKey.set(key, { ...entry, index });
    });
    if (problems.length > 0) throw problem(problems.join("; "));
    return new ClientCertIdentities(byKey);
  }

  /** How many SANs are mapped. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * The principal of a verified client certificate (call.getAuthContext()?.sslPeerCertificate),
   * or undefined when there is none or none of its SANs is mapped.
   */
  identify(certificate: Pick<PeerCertificate, "subjectaltname"> | undefined): Principal | undefined {
    if (!certificate?.subjectaltname) return undefined;
    const names = subjectAltNames(certificate.subjectaltname);
    for (const type of ["URI", "DNS"] as const) {
      for (const name of names) {
        if (name.type !== type) continue;
        const entry = this.#byKey.get(keyOf(type, name.value));
        if (entry) {
          const subject = type === "DNS" ? name.value.toLowerCase() : name.value;
          return { subject, tenant: entry.tenant, role: highestRole(entry.roles), via: "mtls" };
        }
      }
    }
    return undefined;
  }
}

/** A JSON string at the start of the text, as Node writes a SAN that needs escaping. */
const jsonString = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;

/**
 * The SANs in Node's `subjectaltname` string, in order. Entries are separated by ", "; a quoted
 * part is a JSON string, unescaped here (the way lib/tls.js splits them). A string that is not
 * in this form gives no SAN at all, rather than a guess.
 */
export function subjectAltNames(text: string): SubjectAltName[] {
  const entries: string[] = [];
  let current = "";
  let offset = 0;
  while (offset < text.length) {
    const separator = text.indexOf(", ", offset);
    const quote = text.indexOf('"', offset);
    if (quote !== -1 && (separator === -1 || quote < separator)) {
      current += text.slice(offset, quote);
      const match = jsonString.exec(text.slice(quote));
      if (!match) return [];
      current += JSON.parse(match[0]) as string;
      offset = quote + match[0].length;
    } else if (separator !== -1) {
      entries.push(current + text.slice(offset, separator));
      current = "";
      offset = separator + 2;
    } else {
      current += text.slice(offset);
      offset = text.length;
    }
  }
  entries.push(current);
  const names: SubjectAltName[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(":");
    if (colon <= 0) return [];
    names.push({ type: entry.slice(0, colon), value: entry.slice(colon + 1) });
  }
  return names;
}

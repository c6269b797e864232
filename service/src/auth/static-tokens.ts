// Static bearer tokens from a file (SPOOL_AUTH_TOKENS_FILE): a JSON list of
//   { "token_sha256": "<hex>" | "token": "<plain>", "subject", "tenant", "roles": [...] }
// Only the SHA-256 of a token needs to be stored (`printf %s "$TOKEN" | sha256sum`); a
// plain `token` is accepted for development. A call's token is hashed and looked up, so the
// comparison never runs over the secret itself. The file is re-read when it changes
// (watched-file.ts): adding or revoking a token needs no restart.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { highestRole, roles, type Principal } from "./principal.js";
import { subjectSchema, tenantSchema } from "./names.js";
import { WatchedFile } from "./watched-file.js";

const entrySchema = z
  .object({
    token_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (the SHA-256 of the token)")
      .optional(),
    token: z.string().min(16, "must be at least 16 characters").max(4096).optional(),
    subject: subjectSchema,
    tenant: tenantSchema,
    roles: z.array(z.enum(roles)).min(1, "must name at least one of submitter, operator, admin"),
  })
  .strict()
  .refine((entry) => (entry.token === undefined) !== (entry.token_sha256 === undefined), {
    message: "needs exactly one of token_sha256 and token",
  });

export function sha256Hex(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The file's tokens by SHA-256; throws, naming the file and the entry, when it is invalid. */
export function parseTokensFile(path: string, text: string): Map<string, Principal> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not JSON: ${(error as Error).message}`);
  }
  const parsed = z.array(entrySchema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [index, ...rest] = issue.path;
    const where = index === undefined ? "" : ` entry [${String(index)}]${rest.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("")}`;
    throw new Error(`${path}${where}: ${issue.message}`);
  }
  const byHash = new Map<string, Principal>();
  parsed.data.forEach((entry, i) => {
    const hash = (entry.token_sha256 ?? sha256Hex(entry.token!)).toLowerCase();
    if (byHash.has(hash)) throw new Error(`${path} entry [${i}]: the same token is listed twice`);
    byHash.set(hash, { subject: entry.subject, tenant: entry.tenant, role: highestRole(entry.roles), via: "token" });
  });
  return byHash;
}

export class StaticTokens {
  readonly #file: WatchedFile<Map<string, Principal>>;

  constructor(path: string, log: Logger) {
    this.#file = new WatchedFile(path, (text) => parseTokensFile(path, text), log.child({ component: "auth-tokens" }));
  }

  /** The identity this token stands for, if the file lists it. */
  identify(token: string): Principal | undefined {
    return this.#file.value.get(sha256Hex(token));
  }

  close(): void {
    this.#file.close();
  }
}

// The Postgres server a bench runs against: DATABASE_URL's, else an embedded one (Postgres 18,
// default settings) in a temporary directory, removed when stopped.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "@spool/server/embedded-postgres";
import { pino } from "pino";

export interface BenchPostgres {
  /** A URL of the server, as a superuser. */
  adminUrl: string;
  /** Whether the harness started it (embedded) rather than DATABASE_URL naming it. */
  embedded: boolean;
  /** The same server, another database. */
  urlOf(database: string): string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<BenchPostgres> {
  const given = process.env.DATABASE_URL;
  const urlOf = (adminUrl: string) => (database: string) => Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
  if (given) return { adminUrl: given, embedded: false, urlOf: urlOf(given), stop: async () => {} };
  const dataDir = await mkdtemp(join(tmpdir(), "spool-bench-"));
  await chmod(dataDir, 0o755); // the embedded Postgres runs as the postgres user when the bench runs as root
  const embedded = await startEmbeddedPostgres(dataDir, pino({ level: "warn" }));
  return {
    adminUrl: embedded.url,
    embedded: true,
    urlOf: urlOf(embedded.url),
    stop: async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

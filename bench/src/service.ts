// The Spool service as the benchmark runs it: the built service as a child process, on a
// database of its own, with the bench's handlers (tasks.ts).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import { startChild } from "./processes.js";

export const repositoryRoot = fileURLToPath(new URL("../..", import.meta.url));
/** SPOOL_CANCEL_GRACE_MS of the bench's service. */
export const graceMs = 1000;

/** Drops and creates the database of `url` on the admin connection's server. */
export async function freshDatabase(admin: postgres.Sql, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
}

/** The built service on `url` with the bench's tasks and defaults, plus `env`; resolves once it serves (match[1]: its port). */
export function startSpool(url: string, env: Record<string, string> = {}) {
  return startChild(
    join(repositoryRoot, "service", "dist", "main.js"),
    {
      DATABASE_URL: url,
      SPOOL_HOST: "127.0.0.1",
      SPOOL_PORT: "0",
      SPOOL_HTTP_PORT: "0",
      SPOOL_TASKS: join(repositoryRoot, "bench", "dist", "tasks.js"),
      SPOOL_CANCEL_GRACE_MS: String(graceMs),
      SPOOL_LOG_LEVEL: "info",
      ...env,
    },
    /"port":(\d+),[^\n]*"msg":"spool serving"/,
  );
}

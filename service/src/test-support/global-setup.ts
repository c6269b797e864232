// Vitest global setup: finds a Postgres (DATABASE_URL when set, as in CI; else an embedded
// one in a temporary directory), builds a migrated template database once, and hands both to
// the test files, which clone the template (test-support/database.ts): fast and isolated.
import { mkdtemp, rm, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { pino } from "pino";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../store/database.js";
import { startEmbeddedPostgres } from "../store/embedded.js";

declare module "vitest" {
  export interface ProvidedContext {
    adminUrl: string;
    templateDatabase: string;
  }
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export default async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(join(tmpdir(), "spool-test-"));
    await chmod(dataDir, 0o755);
    const embedded = await startEmbeddedPostgres(dataDir, pino({ level: "warn" }));
    adminUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }
  const templateDatabase = `spool_template_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
  await admin.unsafe(`create database ${templateDatabase}`);
  await migrateDatabase(databaseUrl(adminUrl, templateDatabase));
  project.provide("adminUrl", adminUrl);
  project.provide("templateDatabase", templateDatabase);

  return async () => {
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
    await admin.end();
    await stopEmbedded?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}

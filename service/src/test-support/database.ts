// A database of its own for each test file, cloned from the migrated template.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { databaseUrl } from "./global-setup.js";

/** Creates a fresh migrated database before the file's tests and drops it after them. */
export function useTestDatabase(): { readonly url: string } {
  const adminUrl = inject("adminUrl");
  const template = inject("templateDatabase");
  const name = `spool_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  beforeAll(async () => {
    await admin.unsafe(`create database ${name} template ${template}`);
  });
  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return { url: databaseUrl(adminUrl, name) };
}

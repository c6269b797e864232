// drizzle-kit: `npm run db:generate -w @spool/server` writes a migration for a schema change,
// `npm run db:check` checks that the committed migrations are consistent.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/store/schema.ts",
  out: "./drizzle",
  schemaFilter: ["spool"],
  migrations: { table: "__spool_migrations" },
});

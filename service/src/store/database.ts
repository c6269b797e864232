// Connection to Postgres: one postgres.js pool for statements, drizzle on top of it for the
// typed reads, and migrations applied at start under an advisory lock, so replicas that start
// together apply them once.
import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema.js";
import { timestampType } from "./timestamp-parser.js";

/** The connection pool: what opens transactions and listens. */
export type Pool = postgres.Sql;
/** A pool or a transaction: every statement module runs on either. */
export type Sql = postgres.Sql | postgres.TransactionSql;
export type Db = PostgresJsDatabase<typeof schema>;

export interface Database {
  /** Statements (writes, claims, log reads); LISTEN opens one more connection from it. */
  readonly sql: Pool;
  /** Typed reads (GetTask, ListTasks, WatchTask). */
  readonly db: Db;
  /** One connection for the lease alone, so that nothing queued on the others can delay it. */
  readonly lease: Pool;
  readonly url: string;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

export interface ConnectOptions {
  /** Most connections in all: statements, reads, LISTEN and the lease (at least 5). */
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/** Seconds before reconnecting after `retries` failed attempts: 50 ms doubling, at most 1 s, jittered. */
export function reconnectDelay(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2);
}

/**
 * How `max` connections are shared: one for LISTEN, one for the lease, a quarter of the rest
 * for the typed reads, the others for statements.
 */
export function connectionBudget(max: number): { statements: number; reads: number; listen: 1; lease: 1 } {
  const shared = Math.max(3, max) - 2;
  const reads = Math.max(1, Math.floor(shared / 4));
  return { statements: shared - reads, reads, listen: 1, lease: 1 };
}

export function connect(url: string, options: ConnectOptions = {}): Database {
  const budget = connectionBudget(options.max ?? 16);
  const common = {
    prepare: true,
    onnotice: () => {},
    connect_timeout: 10,
    // Reconnect delay (s) after the n-th failed attempt in a row. The driver's default grows
    // to 20 s, which would leave the service idle long after Postgres is back (measured: 14 s
    // after a 4 s outage); this one is at most ~1 s.
    backoff: reconnectDelay,
    connection: {
      application_name: options.applicationName ?? "spool",
      // Plan every execution with its actual parameters. A generic plan cached while
      // spool.tasks was nearly empty (a new install, or right after an ANALYZE of an empty
      // table) can scan the table once per row of a batch, and stays cached until the next
      // autoanalyze: measured, 1.2 s instead of 8 ms per flush. Batched statements make the
      // planning cost small.
      plan_cache_mode: "force_custom_plan",
      // Timestamps come back as "...+00", which timestamps.ts reads exactly.
      TimeZone: "UTC",
    },
  };
  const sql = postgres(url, {
    ...common,
    max: budget.statements,
    types: {
      // int8 (seq, counts) as JS numbers: they stay far below 2^53.
      bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
      date: timestampType,
    },
  });
  // drizzle gets a client of its own: it replaces its client's timestamp parsers with
  // pass-through ones (it maps dates itself), which would hand the raw statements strings.
  const readClient = postgres(url, { ...common, max: budget.reads });
  const db = drizzle(readClient, { schema });
  const lease = postgres(url, { ...common, max: budget.lease });
  return {
    sql,
    db,
    lease,
    url,
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), readClient.end({ timeout: 5 }), lease.end({ timeout: 5 })]);
    },
  };
}

/** Applies the committed migrations; safe to call from many replicas at once. */
export async function migrateDatabase(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`select pg_advisory_lock(hashtext('spool.migrate'))`;
    // Our own table name: an application sharing the database may use drizzle too.
    await migrate(drizzle(sql), { migrationsFolder, migrationsTable: "__spool_migrations" });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Server settings Spool depends on, as warnings for the log: its tables churn like a queue's,
 * and without autovacuum their indexes fill with dead entries and every claim slows down.
 */
export async function serverWarnings(sql: Pool): Promise<string[]> {
  const [row] = await sql<{ autovacuum: string }[]>`select current_setting('autovacuum') as autovacuum`;
  return row?.autovacuum === "off"
    ? ["autovacuum is off on this Postgres: spool.tasks will fill with dead rows and claiming will slow down; turn it on, or VACUUM spool.tasks regularly"]
    : [];
}

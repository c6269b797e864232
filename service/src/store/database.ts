// Connection to Postgres: one postgres.js pool for statements, drizzle on top of it for the
// typed reads, and migrations applied at start under an advisory lock, so replicas that start
// together apply them once. A URL that lists several hosts (an HA Postgres) is served by a
// PrimaryFinder: every connection goes to the host that accepts writes, and after a failover
// to the promoted standby (primary-finder.ts says why postgres.js is not left to do it).
import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { backoffDelayMs, type Backoff } from "@spool/proto";
import { PrimaryFinder, targetSessionAttrs } from "./primary-finder.js";
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
  /**
   * One connection for the claims (a replica claims one at a time), whose statements are
   * planned once: see plannedOnceSettings.
   */
  readonly claims: Pool;
  /**
   * One connection for the AttemptWriter's flushes (one at a time), planned once like the
   * claims: see writerSettings.
   */
  readonly writes: Pool;
  /** One connection for the Notifier's sends (notify.ts), with synchronous_commit off. */
  readonly notices: Pool;
  readonly url: string;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

export interface ConnectOptions {
  /** Most connections in all: statements, reads, LISTEN, the lease, the claims, the writer and the notices (at least 7). */
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/** Reconnects: 40 ms doubling, at most 800 ms, +-25% (so at most 1 s). */
const reconnectBackoff: Backoff = { baseMs: 40, factor: 2, maxMs: 800, jitter: 0.25 };

/** Seconds before reconnecting after `retries` failed attempts (postgres.js takes seconds). */
export function reconnectDelay(retries: number): number {
  return backoffDelayMs(reconnectBackoff, retries) / 1000;
}

/**
 * How `max` connections are shared: one for LISTEN, one for the lease, one for the claims, one
 * for the attempt writer, one for the notices, a quarter of the rest for the typed reads, the
 * others for statements.
 */
export function connectionBudget(max: number): { statements: number; reads: number; listen: 1; lease: 1; claims: 1; writes: 1; notices: 1 } {
  const shared = Math.max(2, max - 5);
  const reads = Math.max(1, Math.floor(shared / 4));
  return { statements: Math.max(1, shared - reads), reads, listen: 1, lease: 1, claims: 1, writes: 1, notices: 1 };
}

/**
 * The settings of the claim and writer connections, whose few statements run many times a
 * second. The claim is one large statement (claim.ts), and planning
 * it cost more than running it: 1.9 ms of a 2.6 ms claim of one task, 2.0 of 3.7 ms for 40
 * (Postgres 15, this machine); the writer's (record-attempts.ts) took 1.35 ms to plan and
 * 0.38 ms to run for one outcome. On these connections they are planned once, generically,
 * and the plan reused. A generic plan is made from the statistics of the moment, and one made while
 * spool.tasks was empty chose sequential scans and a scan of every pending task in the wrong
 * index: 13.8 s a claim once the table held 400,000 rows, until the next ANALYZE. Every part
 * of the claim is an index probe bounded by a LIMIT or by its index range, so sequential
 * scans are ruled out here (enable_seqscan off: a last resort for the planner, not a ban),
 * and the plan is the same whatever the table holds (measured: 1.7 ms empty, 0.9 ms with
 * 400,000 rows not yet analyzed). claim-plan.test.ts checks the plan made on an empty table
 * against a full one, and record-attempts-plan.test.ts the writer's.
 */
export const plannedOnceSettings = { plan_cache_mode: "force_generic_plan", enable_seqscan: "off" } as const;

/**
 * The writer connection's: planned once too, and its joins (lines and outcomes with the tasks
 * they belong to) hashed. A generic plan does not know how many lines a flush holds and chose
 * nested loops that unnested all of them once per task: 17 ms for 1,000 lines of 50 tasks,
 * against 2 ms hashed (record-attempts-plan.test.ts).
 */
export const writerSettings = { ...plannedOnceSettings, enable_nestloop: "off" } as const;

/** Seconds to open a connection (and, with several hosts, to ask a host whether it is the primary). */
const connectTimeout = 10;

/**
 * Where postgres.js connects. One host: there, as postgres.js does by itself. Several hosts:
 * through the finder's socket, with postgres.js told of the first host only (its own handling
 * of several hosts would take over otherwise). Either way target_session_attrs read-write or
 * primary becomes postgres.js's `primary`: its read-write check lets a Postgres 14+ standby
 * through (primary-finder.ts).
 */
function hostOptions(url: string, finder: PrimaryFinder | undefined): object {
  const target = targetSessionAttrs(url) !== undefined || finder ? { target_session_attrs: "primary" } : {};
  if (!finder) return target;
  const [first] = finder.hosts;
  // Typed `object`: postgres.js takes host and port as arrays (one entry each, so that an
  // IPv6 address stays whole) and a `socket` function, which its types do not declare.
  return { ...target, host: [first!.host], port: [first!.port], socket: finder.socket };
}

/** A finder when the URL lists several hosts, shared by every client of one replica. */
function finderFor(url: string, applicationName: string): PrimaryFinder | undefined {
  const finder = new PrimaryFinder(url, { connectTimeout, applicationName });
  return finder.hosts.length > 1 ? finder : undefined;
}

export function connect(url: string, options: ConnectOptions = {}): Database {
  const budget = connectionBudget(options.max ?? 16);
  const finder = finderFor(url, options.applicationName ?? "spool");
  const common = {
    ...hostOptions(url, finder),
    prepare: true,
    onnotice: () => {},
    connect_timeout: connectTimeout,
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
      // No JIT compilation: Spool's statements are short, and a plan whose estimate crosses
      // jit_above_cost (the claim's, with a tenant's backlog unknown to the planner) spent
      // 400-1,200 ms compiling to save nothing: measured on Postgres 15, 8 ms without.
      jit: "off",
      // Timestamps come back as "...+00", which timestamps.ts reads exactly.
      TimeZone: "UTC",
    },
  };
  const types = {
    // int8 (seq, counts) as JS numbers: they stay far below 2^53.
    bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
    date: timestampType,
  };
  const sql = postgres(url, { ...common, max: budget.statements, types });
  // drizzle gets a client of its own: it replaces its client's timestamp parsers with
  // pass-through ones (it maps dates itself), which would hand the raw statements strings.
  const readClient = postgres(url, { ...common, max: budget.reads });
  const db = drizzle(readClient, { schema });
  const lease = postgres(url, { ...common, max: budget.lease });
  const plannedOnce = (max: number, settings: object) => ({ ...common, max, connection: { ...common.connection, ...settings }, types });
  const claims = postgres(url, plannedOnce(budget.claims, plannedOnceSettings));
  const writes = postgres(url, plannedOnce(budget.writes, writerSettings));
  // Notices need no durability: a send commits without waiting for its WAL flush (notify.ts).
  const notices = postgres(url, { ...common, max: budget.notices, connection: { ...common.connection, synchronous_commit: "off" } });
  return {
    sql,
    db,
    lease,
    claims,
    writes,
    notices,
    url,
    close: async () => {
      const clients = [sql, readClient, lease, claims, writes, notices];
      await Promise.all(clients.map((client) => client.end({ timeout: 5 })));
    },
  };
}

/** Applies the committed migrations; safe to call from many replicas at once. */
export async function migrateDatabase(url: string): Promise<void> {
  const finder = finderFor(url, "spool migrate");
  const sql = postgres(url, { ...hostOptions(url, finder), max: 1, onnotice: () => {}, connect_timeout: connectTimeout });
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

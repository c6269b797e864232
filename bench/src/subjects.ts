// The systems measured side by side, behind one interface: Spool through its gRPC API (the
// SDK), graphile-worker through its own producer API (WorkerUtils). Each runs its workers in a
// child process on the same Postgres.
import { SpoolClient } from "@spool/sdk";
import { Queue } from "bullmq";
import { PgBoss } from "pg-boss";
import { bullConnection, bullJobOptions } from "./bullmq/settings.js";
import { pgBossOptions, pgBossQueues } from "./pgboss/settings.js";
import { makeWorkerUtils, type WorkerUtils } from "graphile-worker";
import postgres from "postgres";

export interface Subject {
  readonly name: string;
  /** Creates n no-op tasks with the batch API, `inFlight` calls at a time. */
  createBatched(n: number, batchSize: number, inFlight: number): Promise<void>;
  /** Creates n no-op tasks one call each, `inFlight` calls at a time. */
  createSingly(n: number, inFlight: number): Promise<void>;
  /** Creates one task that pings the benchmark with its start time. */
  createPing(port: number, i: number): Promise<void>;
  /** True while some task is running, or due and not started (future-dated ones do not count). */
  busy(): Promise<boolean>;
  /** Removes every task. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

async function inParallel(total: number, inFlight: number, step: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) await step(next++);
    }),
  );
}

/** Spool as a subject; its tasks go to `queue` (default: the default queue). */
export function spoolSubject(address: string, databaseUrl: string, queue?: string): Subject & { client: SpoolClient; sql: postgres.Sql } {
  const client = new SpoolClient(address, { deadlineMs: 120_000 });
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  return {
    name: "spool",
    client,
    sql,
    createBatched: (n, batchSize, inFlight) =>
      inParallel(Math.ceil(n / batchSize), inFlight, async (b) => {
        const size = Math.min(batchSize, n - b * batchSize);
        await client.createTasks(Array.from({ length: size }, () => ({ kind: "bench.noop", queue })));
      }),
    createSingly: (n, inFlight) =>
      inParallel(n, inFlight, async () => {
        await client.createTask("bench.noop", undefined, { queue });
      }),
    createPing: async (port, i) => {
      await client.createTask("bench.ping", { port, i });
    },
    busy: async () => {
      const [row] = await sql<{ busy: boolean }[]>`
        select exists (select 1 from spool.tasks where state = 'running')
            or exists (select 1 from spool.tasks where state = 'pending' and run_at <= now()) as busy`;
      return row!.busy;
    },
    reset: async () => {
      await sql`truncate spool.tasks, spool.task_logs`;
      await sql`vacuum analyze spool.tasks`;
    },
    close: async () => {
      client.close();
      await sql.end();
    },
  };
}

export async function graphileSubject(name: string, databaseUrl: string): Promise<Subject> {
  const utils: WorkerUtils = await makeWorkerUtils({ connectionString: databaseUrl });
  await utils.migrate();
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  return {
    name,
    createBatched: (n, batchSize, inFlight) =>
      inParallel(Math.ceil(n / batchSize), inFlight, async (b) => {
        const size = Math.min(batchSize, n - b * batchSize);
        await utils.addJobs(Array.from({ length: size }, () => ({ identifier: "noop", payload: {} })));
      }),
    createSingly: (n, inFlight) =>
      inParallel(n, inFlight, async () => {
        await utils.addJob("noop", {});
      }),
    createPing: async (port, i) => {
      await utils.addJob("ping", { port, i });
    },
    busy: async () => {
      const [row] = await sql<{ busy: boolean }[]>`
        select exists (select 1 from graphile_worker._private_jobs where run_at <= now() or locked_at is not null) as busy`;
      return row!.busy;
    },
    reset: async () => {
      await sql`delete from graphile_worker._private_jobs`;
      await sql`vacuum analyze graphile_worker._private_jobs`;
    },
    close: async () => {
      await utils.release();
      await sql.end();
    },
  };
}

export async function pgBossSubject(databaseUrl: string): Promise<Subject> {
  const boss = new PgBoss(pgBossOptions(databaseUrl));
  boss.on("error", () => {});
  await boss.start();
  for (const name of pgBossQueues) await boss.createQueue(name, { notify: true });
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  return {
    name: "pg-boss",
    createBatched: (n, batchSize, inFlight) =>
      inParallel(Math.ceil(n / batchSize), inFlight, async (b) => {
        const size = Math.min(batchSize, n - b * batchSize);
        await boss.insert("noop", Array.from({ length: size }, () => ({ data: {} })));
      }),
    createSingly: (n, inFlight) =>
      inParallel(n, inFlight, async () => {
        await boss.send("noop", {});
      }),
    createPing: async (port, i) => {
      await boss.send("ping", { port, i });
    },
    busy: async () => {
      const [row] = await sql<{ busy: boolean }[]>`
        select exists (select 1 from pgboss.job where state in ('created', 'retry', 'active') and start_after <= now()) as busy`;
      return row!.busy;
    },
    reset: async () => {
      await sql`delete from pgboss.job`;
      await sql`vacuum analyze pgboss.job`;
    },
    close: async () => {
      await boss.stop({ graceful: false, close: true });
      await sql.end();
    },
  };
}

export async function bullMqSubject(): Promise<Subject> {
  const queues = { noop: new Queue("noop", { connection: bullConnection() }), ping: new Queue("ping", { connection: bullConnection() }) };
  await Promise.all(Object.values(queues).map((queue) => queue.waitUntilReady()));
  return {
    name: "BullMQ",
    createBatched: (n, batchSize, inFlight) =>
      inParallel(Math.ceil(n / batchSize), inFlight, async (b) => {
        const size = Math.min(batchSize, n - b * batchSize);
        await queues.noop.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {}, opts: bullJobOptions })));
      }),
    createSingly: (n, inFlight) =>
      inParallel(n, inFlight, async () => {
        await queues.noop.add("noop", {}, bullJobOptions);
      }),
    createPing: async (port, i) => {
      await queues.ping.add("ping", { port, i }, bullJobOptions);
    },
    busy: async () => {
      const counts = await Promise.all(Object.values(queues).map((queue) => queue.getJobCounts("active", "waiting", "prioritized")));
      return counts.some((c) => (c.active ?? 0) + (c.waiting ?? 0) + (c.prioritized ?? 0) > 0);
    },
    reset: async () => {
      for (const queue of Object.values(queues)) await queue.obliterate({ force: true });
    },
    close: async () => {
      await Promise.all(Object.values(queues).map((queue) => queue.close()));
    },
  };
}

// `npm run bench:replicas`: throughput with 1, 2 and 3 replicas on one Postgres, what the
// primary does per task (commits, WAL bytes), and whether the lock every NOTIFY takes at
// commit makes anyone wait; then two Postgres clusters with one replica each, the tasks split
// between them as a deployment that routes queues to clusters would (docs/scaling.md).
//
//   npm run bench:replicas
//   npm run bench:replicas -- --tasks 20000
//
// Each replica is the built service in a process of its own; the producers are one SDK client
// per replica, the batches (500 tasks, 4 calls in flight in all) or single calls (64 in
// flight in all) spread evenly over them.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SpoolClient } from "@spool/sdk";
import postgres from "postgres";
import { now } from "./clock.js";
import type { Child } from "./processes.js";
import { startPostgres, type BenchPostgres } from "./postgres.js";
import { freshDatabase, repositoryRoot, startSpool } from "./service.js";

const { values: args } = parseArgs({ options: { tasks: { type: "string", default: "30000" } } });
const tasks = Number(args.tasks);
const log = (message: string) => console.error(`[replicas] ${message}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Cluster {
  server: BenchPostgres;
  url: string;
  sql: postgres.Sql;
}

interface Run {
  mode: "batched" | "single";
  replicas: number;
  clusters: number;
  tasksPerSec: number;
  /** Per task, summed over the clusters. */
  commitsPerTask: number;
  walBytesPerTask: number;
  /** Share of 20 ms samples in which a backend waited for the NOTIFY queue's lock. */
  notifyLockWaitShare: number;
}

async function cluster(name: string): Promise<Cluster> {
  const server = await startPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  const url = server.urlOf(name);
  await freshDatabase(admin, url);
  await admin.end();
  return { server, url, sql: postgres(url, { max: 2, onnotice: () => {} }) };
}

async function counters(c: Cluster) {
  const [row] = await c.sql<{ lsn: string; commits: string }[]>`
    select pg_current_wal_lsn()::text as lsn,
      (select xact_commit from pg_stat_database where datname = current_database())::text as commits`;
  return { lsn: row!.lsn, commits: Number(row!.commits) };
}

async function walBytes(c: Cluster, from: string, to: string): Promise<number> {
  const [row] = await c.sql<{ bytes: string }[]>`select pg_wal_lsn_diff(${to}::pg_lsn, ${from}::pg_lsn)::text as bytes`;
  return Number(row!.bytes);
}

async function busy(c: Cluster): Promise<boolean> {
  const [row] = await c.sql<{ busy: boolean }[]>`
    select exists (select 1 from spool.tasks where state = 'running')
        or exists (select 1 from spool.tasks where state = 'pending' and run_at <= now()) as busy`;
  return row!.busy;
}

/** Samples pg_locks every 20 ms for a backend waiting on the NOTIFY queue's lock (a lock on database 0, class pg_database). */
function watchNotifyLock(c: Cluster) {
  let samples = 0;
  let waited = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const [row] = await c.sql<{ waiting: boolean }[]>`
        select exists (select 1 from pg_locks where locktype = 'object' and classid = 'pg_database'::regclass
          and objid = 0 and not granted) as waiting`;
      samples++;
      if (row!.waiting) waited++;
      await pause(20);
    }
  })();
  return async () => {
    stopped = true;
    await done;
    return samples === 0 ? 0 : waited / samples;
  };
}

async function inParallel(count: number, inFlight: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await call(next++);
  }));
}

/** `tasks` no-op tasks through `clients` (one per replica), until every cluster has drained them. */
async function measure(mode: "batched" | "single", clusters: Cluster[], clients: SpoolClient[]): Promise<Run> {
  for (const c of clusters) {
    await c.sql`truncate spool.tasks, spool.task_logs`;
    await c.sql`vacuum analyze spool.tasks`;
  }
  const before = await Promise.all(clusters.map(counters));
  const locks = clusters.map(watchNotifyLock);
  const start = now();
  if (mode === "batched") {
    await inParallel(Math.ceil(tasks / 500), 4, async (b) => {
      const size = Math.min(500, tasks - b * 500);
      await clients[b % clients.length]!.createTasks(Array.from({ length: size }, () => ({ kind: "bench.noop" })));
    });
  } else {
    await inParallel(tasks, 64, async (i) => {
      await clients[i % clients.length]!.createTask("bench.noop");
    });
  }
  for (const c of clusters) while (await busy(c)) await pause(5);
  const seconds = (now() - start) / 1000;
  const waits = await Promise.all(locks.map((stop) => stop()));
  const after = await Promise.all(clusters.map(counters));
  let commits = 0;
  let wal = 0;
  for (const [i, c] of clusters.entries()) {
    commits += after[i]!.commits - before[i]!.commits;
    wal += await walBytes(c, before[i]!.lsn, after[i]!.lsn);
  }
  return {
    mode,
    replicas: clients.length,
    clusters: clusters.length,
    tasksPerSec: Math.round(tasks / seconds),
    commitsPerTask: Math.round((commits / tasks) * 100) / 100,
    walBytesPerTask: Math.round(wal / tasks),
    notifyLockWaitShare: Math.round(Math.max(...waits) * 1000) / 1000,
  };
}

async function withReplicas<T>(urls: string[], body: (clients: SpoolClient[]) => Promise<T>): Promise<T> {
  const services: Child[] = [];
  const clients: SpoolClient[] = [];
  try {
    for (const url of urls) {
      const { child, match } = await startSpool(url);
      services.push(child);
      clients.push(new SpoolClient(`127.0.0.1:${match[1]}`, { deadlineMs: 120_000 }));
    }
    return await body(clients);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(services.map((s) => s.stop()));
  }
}

async function main() {
  const runs: Run[] = [];
  const one = await cluster("spool_replicas");
  try {
    for (const replicas of [1, 2, 3]) {
      await withReplicas(Array.from({ length: replicas }, () => one.url), async (clients) => {
        for (const mode of ["batched", "single"] as const) {
          const run = await measure(mode, [one], clients);
          log(JSON.stringify(run));
          runs.push(run);
        }
      });
    }
  } finally {
    await one.sql.end();
    await one.server.stop();
  }
  // Two clusters, a replica on each: the tasks split between them, as queues routed to clusters.
  if (process.env.DATABASE_URL) log("DATABASE_URL is set: the two 'clusters' are two databases of that one server");
  const a = await cluster("spool_shard_a");
  const b = await cluster("spool_shard_b");
  try {
    await withReplicas([a.url, b.url], async (clients) => {
      for (const mode of ["batched", "single"] as const) {
        const run = await measure(mode, [a, b], clients);
        log(JSON.stringify(run));
        runs.push(run);
      }
    });
  } finally {
    for (const c of [a, b]) {
      await c.sql.end();
      await c.server.stop();
    }
  }
  console.log("| mode | clusters | replicas | tasks/s | commits/task | WAL bytes/task | NOTIFY lock waited |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of runs) {
    console.log(`| ${r.mode} | ${r.clusters} | ${r.replicas} | ${r.tasksPerSec} | ${r.commitsPerTask} | ${r.walBytesPerTask} | ${(r.notifyLockWaitShare * 100).toFixed(1)}% |`);
  }
  const out = join(repositoryRoot, "bench", "results", `replicas-${new Date().toISOString().slice(0, 10)}.json`);
  await mkdir(join(repositoryRoot, "bench", "results"), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), tasks, runs }, null, 2)}\n`);
  log(`figures written to ${out}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

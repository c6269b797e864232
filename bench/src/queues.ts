// `npm run bench:queues`: the claim over many limited queues (issue 15: "1,000 queues with
// limits: claim latency stays within 2x of one queue"). For 1 and for 1,000 queues, each
// limited to 10 with one due task, times the scheduler's claim of 10 as a replica makes it
// once a limited queue has work (the Claimer, locking the limited queues first), on a
// connection set up as the service's claim connection. The claimed tasks are given back
// after each claim, so every claim finds the same table.
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import { Claimer } from "../../service/dist/scheduler/claimer.js";
import { unclaimTasks } from "../../service/dist/store/claim.js";
import { connect, migrateDatabase } from "../../service/dist/store/database.js";
import { renewLease } from "../../service/dist/store/leases.js";
import { now } from "./clock.js";
import { startPostgres } from "./postgres.js";
import { freshDatabase, repositoryRoot } from "./service.js";
import { distribution, type Distribution } from "./stats.js";

const samples = 200;
const log = (message: string) => console.error(`[queues] ${message}`);

async function claimLatency(url: string, queues: number): Promise<Distribution> {
  const database = connect(url, { max: 8, applicationName: "bench queues" });
  try {
    const { sql } = database;
    await sql`truncate spool.tasks, spool.task_logs`;
    await sql`delete from spool.queues`;
    await sql`insert into spool.queues (tenant, name, concurrency_limit) select 'default', 'q' || i, 10 from generate_series(1, ${queues}) i`;
    await sql`
      insert into spool.tasks (id, kind, queue, max_attempts, timeout_ms, created_at, run_at)
      select gen_random_uuid(), 'bench.unclaimed', 'q' || i, 3, 60000, now(), now() from generate_series(1, ${queues}) i`;
    await sql`vacuum analyze spool.tasks`;
    const owner = randomUUID();
    await renewLease(sql, { id: owner, name: "bench:queues" }, 3_600_000);
    const claimer = new Claimer({ sql: database.claims, owner, queues: undefined, agingMs: 60_000, notices: { due() {}, tasks() {}, logs() {} } });
    const times: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      claimer.queuesChanged(); // a claim that locks the limited queues, as one with their work
      const t0 = now();
      const claim = await claimer.claim(10, ["bench.unclaimed"]);
      if (i >= 10) times.push(now() - t0);
      if (claim.tasks.length !== Math.min(10, queues)) throw new Error(`claimed ${claim.tasks.length}`);
      await unclaimTasks(sql, owner, claim.tasks);
    }
    return distribution(times);
  } finally {
    await database.close();
  }
}

async function main() {
  const server = await startPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  const url = server.urlOf("spool_queues");
  try {
    await freshDatabase(admin, url);
    await migrateDatabase(url);
    const one = await claimLatency(url, 1);
    log(`1 limited queue: ${JSON.stringify(one)}`);
    const many = await claimLatency(url, 1000);
    log(`1,000 limited queues: ${JSON.stringify(many)}`);
    const results = { date: new Date().toISOString(), one, thousand: many, ratioP50: Math.round((many.p50 / one.p50) * 10) / 10 };
    console.log(JSON.stringify(results, null, 2));
    const out = join(repositoryRoot, "bench", "results", `queues-${results.date.slice(0, 10)}.json`);
    await mkdir(join(repositoryRoot, "bench", "results"), { recursive: true });
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`figures written to ${out}`);
  } finally {
    await admin.end();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

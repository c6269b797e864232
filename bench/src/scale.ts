// `npm run bench:scale`: Spool on a big table (issue 15, "at 10M finished tasks"). Measures on
// an empty table, fills spool.tasks with finished tasks (generate_series, as fillTable does for
// scenario 6), and measures again:
//   - a claim of 10 due tasks: the scheduler's claim statement on a connection set up as the
//     service's claim connection (database.ts), timed alone, since an idle replica starts a
//     lone task without claiming it (start on create);
//   - GetTask, and ListTasks' first page (50) unfiltered, by state and by kind, through the SDK;
//   - a lone task's pickup as a caller sees it (CreateTask to the handler's start);
// then the cost of the retention cleaner: batch creates and drain of 20,000 tasks on the full
// table while nothing expires, and again while the cleaner deletes the expired rows.
//
//   npm run bench:scale                      10,000,000 rows
//   npm run bench:scale -- --rows 1000000
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SpoolClient } from "@spool/sdk";
import postgres from "postgres";
import { claimTasks, unclaimTasks } from "../../service/dist/store/claim.js";
import { connect } from "../../service/dist/store/database.js";
import { renewLease } from "../../service/dist/store/leases.js";
import { now } from "./clock.js";
import { listenForPings } from "./pings.js";
import { startPostgres } from "./postgres.js";
import * as scenario from "./scenarios.js";
import { freshDatabase, repositoryRoot, startSpool } from "./service.js";
import { distribution, type Distribution } from "./stats.js";
import { spoolSubject } from "./subjects.js";

const { values: args } = parseArgs({ options: { rows: { type: "string", default: "10000000" }, samples: { type: "string", default: "300" } } });
const rows = Number(args.rows);
const samples = Number(args.samples);
const drainTasks = 20_000;
const log = (message: string) => console.error(`[scale] ${message}`);

async function timed(count: number, call: () => Promise<unknown>): Promise<Distribution> {
  for (let i = 0; i < 10; i++) await call(); // warm: connections, prepared statements
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    await call();
    times.push(now() - t0);
  }
  return distribution(times);
}

interface Figures {
  claim10: Distribution;
  getTask: Distribution;
  listFirstPage: Distribution;
  listByState: Distribution;
  listByKind: Distribution;
  pickup: Distribution;
}

async function measure(url: string, client: SpoolClient, sql: postgres.Sql, address: string): Promise<Figures> {
  // The claim: 10 due tasks of a kind the service has no handler for (it never takes them),
  // claimed by an owner of our own on the claim connection's settings, then given back.
  const database = connect(url, { max: 6, applicationName: "bench scale" });
  const owner = randomUUID();
  await renewLease(database.sql, { id: owner, name: "bench:scale" }, 3_600_000);
  await sql`
    insert into spool.tasks (id, kind, queue, max_attempts, timeout_ms, created_at, run_at)
    select gen_random_uuid(), 'bench.unclaimed', 'scale', 3, 60000, now(), now() from generate_series(1, 10)`;
  const claim10 = await timed(samples, async () => {
    const claim = await claimTasks(database.claims, { limit: 10, owner, kinds: ["bench.unclaimed"] });
    if (claim.tasks.length !== 10) throw new Error(`claimed ${claim.tasks.length} of 10`);
    await unclaimTasks(database.sql, owner, claim.tasks);
  });
  await sql`delete from spool.tasks where kind = 'bench.unclaimed'`;
  await database.close();

  const task = await client.createTask("bench.noop");
  await client.waitForTask(task.id);
  const getTask = await timed(samples, () => client.getTask(task.id));
  const listFirstPage = await timed(samples, () => client.listTasksPage({ pageSize: 50 }));
  const listByState = await timed(samples, () => client.listTasksPage({ pageSize: 50, states: ["succeeded"] }));
  const listByKind = await timed(samples, () => client.listTasksPage({ pageSize: 50, kinds: ["bench.noop"] }));
  const pings = await listenForPings();
  try {
    const subject = spoolSubject(address, url);
    const pickup = (await scenario.pickup(subject, pings, samples, { keep: true })).beforeCreate;
    await subject.close();
    return { claim10, getTask, listFirstPage, listByState, listByKind, pickup };
  } finally {
    pings.close();
  }
}

/** Batch creates (500 a call, 4 calls in flight) and drain of `n` tasks on a full table: tasks/s. */
async function drain(address: string, url: string, n: number): Promise<number> {
  const subject = spoolSubject(address, url);
  try {
    const start = now();
    await subject.createBatched(n, 500, 4);
    while (await subject.busy()) await new Promise((resolve) => setTimeout(resolve, 5));
    return Math.round((n / (now() - start)) * 1000);
  } finally {
    await subject.close();
  }
}

async function main() {
  const server = await startPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  const url = server.urlOf("spool_scale");
  await freshDatabase(admin, url);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const keep = { SPOOL_RETENTION_MS: "0" };
  let service = await startSpool(url, keep);
  let address = `127.0.0.1:${service.match[1]}`;
  let client = new SpoolClient(address);
  try {
    // A page of ListTasks holds 50 tasks on the full table: so that it holds as many on the
    // "empty" one, that starts with 100 tasks (else the comparison was of 1 row against 50).
    const first = await client.createTasks(Array.from({ length: 100 }, () => ({ kind: "bench.noop" })));
    for (const task of first) await client.waitForTask(task.id);
    log("measuring on an empty table (100 tasks)");
    const empty = await measure(url, client, sql, address);
    log(JSON.stringify(empty));

    log(`filling spool.tasks with ${rows} finished tasks`);
    const fillStart = now();
    await scenario.fillTable(sql, rows, 0);
    const filledAt = new Date();
    const fillSec = Math.round((now() - fillStart) / 1000);
    const [size] = await sql<{ tasks: string; indexes: string }[]>`
      select pg_size_pretty(pg_table_size('spool.tasks')) as tasks, pg_size_pretty(pg_indexes_size('spool.tasks')) as indexes`;
    log(`filled in ${fillSec} s: table ${size!.tasks}, indexes ${size!.indexes}`);
    log("measuring on the full table");
    const full = await measure(url, client, sql, address);
    log(JSON.stringify(full));

    log(`batch creates and drain of ${drainTasks} tasks, nothing expiring`);
    const keptPerSec = await drain(address, url, drainTasks);
    // Again with a retention of one hour: the filled rows span the last rows * 10 ms, so most
    // have expired, and the cleaner deletes them while the tasks run.
    client.close();
    await service.child.stop();
    service = await startSpool(url, { SPOOL_RETENTION_MS: String(3_600_000) });
    address = `127.0.0.1:${service.match[1]}`;
    client = new SpoolClient(address);
    // The filled rows left (those created before the fill ended).
    const count = async () => Number((await sql<{ n: string }[]>`select count(*) as n from spool.tasks where created_at < ${filledAt}`)[0]!.n);
    const before = await count();
    const deadline = Date.now() + 120_000;
    while ((await count()) === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1000));
    log("the cleaner is deleting; batch creates and drain again");
    const atStart = await count();
    const sweepingPerSec = await drain(address, url, drainTasks);
    const deletedDuring = atStart - (await count());

    const ratio = (a: Distribution, b: Distribution) => Math.round((b.p50 / a.p50) * 100) / 100;
    const results = {
      date: new Date().toISOString(),
      rows,
      fillSec,
      size: size!,
      empty,
      full,
      ratiosP50: {
        claim10: ratio(empty.claim10, full.claim10),
        getTask: ratio(empty.getTask, full.getTask),
        listFirstPage: ratio(empty.listFirstPage, full.listFirstPage),
        listByState: ratio(empty.listByState, full.listByState),
        listByKind: ratio(empty.listByKind, full.listByKind),
        pickup: ratio(empty.pickup, full.pickup),
      },
      retention: { keptPerSec, sweepingPerSec, cost: Math.round((1 - sweepingPerSec / keptPerSec) * 1000) / 10, deletedDuring },
    };
    console.log(JSON.stringify(results, null, 2));
    const out = join(repositoryRoot, "bench", "results", `scale-${results.date.slice(0, 10)}.json`);
    await mkdir(join(repositoryRoot, "bench", "results"), { recursive: true });
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`figures written to ${out}`);
  } finally {
    client.close();
    await service.child.stop();
    await sql.end();
    await admin.end();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

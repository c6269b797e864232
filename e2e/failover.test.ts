// Postgres failover under load: the built service runs on an HA pair (a primary and a
// synchronous streaming standby, e2e/support/pg-cluster.ts) through a two-host DATABASE_URL
// with target_session_attrs=read-write. Callers create short tasks continuously while the
// primary's machine "crashes" (every process of it SIGKILLed). Then either the standby is
// promoted, as an HA manager would, or the primary comes back (a restart, no failover).
// Either way:
// - no acknowledged task is lost: every task whose CreateTask answered OK is there
//   afterwards (synchronous replication: a commit is acknowledged only once the standby has
//   it, so the promoted standby has every acknowledged task);
// - every task ends SUCCEEDED: those created before, during and after, and the ones whose
//   CreateTask failed but whose commit made it (created in doubt) too;
// - while there is no primary, callers get UNAVAILABLE (never another error) and the health
//   service says NOT_SERVING;
// - the service finds the primary by itself, and its connections end up there and not on a
//   standby; the time until GetTask, CreateTask and the health service work again is
//   measured and printed.
import { SpoolClient, SpoolError, type Task } from "@spool/sdk";
import postgres from "postgres";
import { afterEach, expect, it, onTestFailed } from "vitest";
import { startPgCluster, type PgCluster, type PgNode } from "./support/pg-cluster.js";
import { bufCurl, killAll, startService, type ServiceProcess } from "./support/service.js";

let cluster: PgCluster | undefined;
const clients: SpoolClient[] = [];
/** Stops the loops a test started (callers, pollers), should it end before stopping them. */
const loops: (() => Promise<void>)[] = [];
afterEach(async () => {
  const stopped = Promise.all(loops.splice(0).map((stop) => stop())); // each sets its flag at once
  await killAll(); // calls in flight fail at once
  await stopped;
  for (const client of clients.splice(0)) client.close();
  await cluster?.destroy();
  cluster = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value; fails after timeoutMs naming what it waited for. */
async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}

async function health(service: ServiceProcess): Promise<string> {
  const result = await bufCurl(service, ["-d", "{}", `http://${service.address}/grpc.health.v1.Health/Check`]);
  return result.code === 0 ? (JSON.parse(result.stdout) as { status: string }).status : `error: ${result.stderr}`;
}

/** Calls `probe` every `everyMs` until stopped, recording each answer's time. */
function poller(probe: () => Promise<boolean>, everyMs: number) {
  const answers: { at: number; ok: boolean }[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const ok = await probe().catch(() => false);
      answers.push({ at: Date.now(), ok });
      await sleep(everyMs);
    }
  })();
  const stop = async () => {
    stopped = true;
    await done;
  };
  loops.push(stop);
  return {
    firstOkAfter: (at: number) => answers.find((a) => a.at >= at && a.ok)?.at,
    failedAfter: (at: number) => (answers.some((a) => a.at >= at && !a.ok) ? true : undefined),
    stop,
  };
}

/**
 * Four callers creating tasks (four demo.echo, then a 0.2 s demo.sleep) as fast as they are
 * answered, without retrying (no idempotency key): each answer is counted as it came.
 */
function startLoad(client: SpoolClient) {
  const acknowledged = new Map<string, { kind: string; input: unknown; at: number }>();
  const failures: { at: number; error: unknown }[] = [];
  let stopping = false;
  const creator = async (n: number) => {
    for (let i = 0; !stopping; i++) {
      const [kind, input] = i % 5 === 4 ? ["demo.sleep", { seconds: 0.2 }] : ["demo.echo", { creator: n, i }];
      try {
        const task = await client.createTask(kind, input);
        acknowledged.set(task.id, { kind, input, at: Date.now() });
        await sleep(10);
      } catch (error) {
        failures.push({ at: Date.now(), error });
        await sleep(25);
      }
    }
  };
  const creators = Promise.all([0, 1, 2, 3].map(creator));
  const stop = async () => {
    stopping = true;
    await creators;
  };
  loops.push(stop);
  return {
    acknowledged,
    failures,
    firstOkAfter: (at: number) => Math.min(...[...acknowledged.values()].map((a) => a.at).filter((t) => t >= at)),
    stop,
  };
}
type Load = ReturnType<typeof startLoad>;

/**
 * Waits for every task to end, then checks: no acknowledged task lost, all SUCCEEDED with
 * their own results, and only UNAVAILABLE among the failed creates. Returns the tasks.
 */
async function checkOutcome(client: SpoolClient, load: Load): Promise<Map<string, Task>> {
  await waitFor("every task to end", 30_000, async () => {
    const open = await client.listTasksPage({ states: ["pending", "running"], pageSize: 1 }).catch(() => undefined);
    return open?.tasks.length === 0 ? true : undefined;
  });
  const tasks = new Map<string, Task>();
  for await (const task of client.listTasks({ pageSize: 1000, view: "full" })) tasks.set(task.id, task);
  expect([...load.acknowledged.keys()].filter((id) => !tasks.has(id)), "acknowledged tasks lost").toEqual([]);
  expect(countBy([...tasks.values()], (t) => t.state)).toEqual({ succeeded: tasks.size });
  for (const [id, { kind, input }] of load.acknowledged) {
    expect(tasks.get(id)!.result).toEqual(kind === "demo.echo" ? input : { slept: 0.2 });
  }
  const codes = countBy(load.failures, (f) => (f.error instanceof SpoolError ? f.error.code : String(f.error)));
  expect(Object.keys(codes)).toEqual(["unavailable"]);
  return tasks;
}

/**
 * The server as the replica left it: in recovery or not, its tasks, and the replica's
 * sessions there (not counting the short ones in which it asks a host whether it is the primary).
 */
async function serverState(node: PgNode) {
  const sql = postgres(node.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ recovery: boolean; tasks: number; sessions: number }[]>`
      select pg_is_in_recovery() as recovery,
             (select count(*)::int from spool.tasks) as tasks,
             (select count(*)::int from pg_stat_activity
               where application_name like 'spool %' and application_name not like '% probe') as sessions`;
    return row!;
  } finally {
    await sql.end();
  }
}

/** Starts the replica on the cluster's two hosts, with load, and waits for 150 acknowledged tasks. */
async function replicaUnderLoad(pg: PgCluster) {
  const service = await startService({
    DATABASE_URL: pg.url({ target_session_attrs: "read-write" }),
    SPOOL_WORKERS: "4",
    SPOOL_LEASE_RENEW_MS: "250",
    SPOOL_LEASE_TTL_MS: "5000",
    SPOOL_POLL_INTERVAL_MS: "500",
  });
  // What the replica logged, should the test fail: its view of the failover.
  onTestFailed(() => console.log(`the replica's last log lines:\n${service.output().split("\n").slice(-60).join("\n")}`));
  // No retries, so that each answer is seen as it came; the default 30 s deadline.
  const client = new SpoolClient(service.address, { retries: 0 });
  clients.push(client);
  const load = startLoad(client);
  await waitFor("150 tasks created before the failure", 30_000, () => (load.acknowledged.size >= 150 ? true : undefined));
  const someId = load.acknowledged.keys().next().value!;
  const probes = {
    getTask: poller(async () => (await client.getTask(someId)).id === someId, 20),
    health: poller(async () => (await health(service)) === "SERVING", 50),
  };
  return { service, client, load, probes, someId };
}

/**
 * Kills the primary and waits until callers see it: an UNAVAILABLE answer and NOT_SERVING.
 * Then, with no primary anywhere, a read and a write must answer UNAVAILABLE, not hang
 * until their deadline nor be served by the standby. Returns when it killed it and
 * how long those two calls took.
 */
async function crashPrimary(pg: PgCluster, { client, load, probes, someId }: Awaited<ReturnType<typeof replicaUnderLoad>>) {
  const killedAt = Date.now();
  await pg.killPrimary();
  await waitFor("a CreateTask answered UNAVAILABLE", 15_000, () => (load.failures.some((f) => f.at >= killedAt) ? true : undefined));
  await waitFor("health NOT_SERVING", 15_000, () => probes.health.failedAfter(killedAt));
  const askedAt = Date.now();
  const [read, write] = await Promise.all([
    client.getTask(someId).then(() => "served", (error: unknown) => error),
    client.createTask("demo.echo", "while there is no primary").then(() => "served", (error: unknown) => error),
  ]);
  const answeredInMs = Date.now() - askedAt;
  expect(read).toMatchObject({ code: "unavailable" });
  expect(write).toMatchObject({ code: "unavailable" });
  return { killedAt, answeredInMs };
}

/** Sessions ever opened on the server (pg_stat_database.sessions of its postgres database). */
async function sessionsOpened(node: PgNode): Promise<number> {
  const sql = postgres(node.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`select sessions::int as n from pg_stat_database where datname = 'postgres'`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

it("loses no acknowledged task and serves again by itself when the primary fails and the standby is promoted", { timeout: 90_000 }, async () => {
  const pg = (cluster = await startPgCluster({ synchronous: true }));
  await pg.waitForReplication();
  const replica = await replicaUnderLoad(pg);
  const { client, load, probes } = replica;
  const beforeKill = load.acknowledged.size;

  // Until the standby is promoted there is no primary at all.
  const standbySessions = await sessionsOpened(pg.standby);
  const { killedAt, answeredInMs } = await crashPrimary(pg, replica);
  const standbySessionsMeanwhile = (await sessionsOpened(pg.standby)) - standbySessions - 1; // not ours
  const promoteAt = Date.now();
  await pg.promoteStandby();
  const promotedAt = Date.now();
  await waitFor("GetTask answers again", 30_000, () => probes.getTask.firstOkAfter(promoteAt));
  await waitFor("health SERVING again", 30_000, () => probes.health.firstOkAfter(promoteAt));
  const createdAtPromote = load.acknowledged.size;
  await waitFor("100 tasks created after the promotion", 30_000, () => (load.acknowledged.size >= createdAtPromote + 100 ? true : undefined));
  await load.stop();
  await Promise.all([probes.getTask.stop(), probes.health.stop()]);

  const tasks = await checkOutcome(client, load);
  // Everything is on the promoted standby, and the replica's connections went there by itself.
  const promoted = await serverState(pg.standby);
  expect(promoted).toMatchObject({ recovery: false, tasks: tasks.size });
  expect(promoted.sessions).toBeGreaterThan(0);

  const failureTimes = load.failures.map((f) => f.at);
  console.table({
    "tasks acknowledged (CreateTask OK)": load.acknowledged.size,
    "  of which before the primary was killed": beforeKill,
    "tasks created in doubt (UNAVAILABLE, yet committed)": tasks.size - load.acknowledged.size,
    "acknowledged tasks lost": 0,
    "CreateTask answered UNAVAILABLE": load.failures.length,
    "UNAVAILABLE from first to last (ms)": Math.max(...failureTimes) - Math.min(...failureTimes),
    "kill to promote request (ms, the test waits for NOT_SERVING)": promoteAt - killedAt,
    "GetTask + CreateTask with no primary: UNAVAILABLE in (ms)": answeredInMs,
    "sessions the replica opened on the standby meanwhile": standbySessionsMeanwhile,
    "pg_ctl promote -w (ms)": promotedAt - promoteAt,
    "GetTask OK again (ms after promote request)": probes.getTask.firstOkAfter(promoteAt)! - promoteAt,
    "CreateTask OK again (ms after promote request)": load.firstOkAfter(promoteAt) - promoteAt,
    "health SERVING again (ms after promote request)": probes.health.firstOkAfter(promoteAt)! - promoteAt,
    "tasks SUCCEEDED": tasks.size,
  });
});

it("goes back to the primary when it restarts without a failover, not to the standby", { timeout: 90_000 }, async () => {
  const pg = (cluster = await startPgCluster({ synchronous: true }));
  await pg.waitForReplication();
  const replica = await replicaUnderLoad(pg);
  const { client, load, probes } = replica;

  // While the primary is down the standby is the only server up; it must not be settled on.
  const { answeredInMs } = await crashPrimary(pg, replica);
  const restartAt = Date.now();
  await pg.restartPrimary();
  await waitFor("health SERVING again", 30_000, () => probes.health.firstOkAfter(restartAt));
  const createdAtRestart = load.acknowledged.size;
  await waitFor("100 tasks created after the restart", 30_000, () => (load.acknowledged.size >= createdAtRestart + 100 ? true : undefined));
  await load.stop();
  await Promise.all([probes.getTask.stop(), probes.health.stop()]);

  const tasks = await checkOutcome(client, load);
  expect(await serverState(pg.primary)).toMatchObject({ recovery: false, tasks: tasks.size });
  // The standby has them too once it has replayed them (synchronous commit waits for its flush only).
  await waitFor("the standby to replay every task", 10_000, async () => ((await serverState(pg.standby)).tasks === tasks.size ? true : undefined));
  expect(await serverState(pg.standby)).toMatchObject({ recovery: true, sessions: 0 });
  console.table({
    "tasks acknowledged (CreateTask OK)": load.acknowledged.size,
    "CreateTask answered UNAVAILABLE": load.failures.length,
    "GetTask + CreateTask with no primary: UNAVAILABLE in (ms)": answeredInMs,
    "CreateTask OK again (ms after restart request)": load.firstOkAfter(restartAt) - restartAt,
    "health SERVING again (ms after restart request)": probes.health.firstOkAfter(restartAt)! - restartAt,
    "tasks SUCCEEDED": tasks.size,
  });
});

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

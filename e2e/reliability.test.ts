// Failures of whole replicas and of Postgres, with the built service as child processes:
// SIGKILL, a pause (SIGSTOP) longer than the lease, and a database that goes away and comes
// back. Leases are short here (renewed every 200 ms, expiring after 1.5 s) so that the tests
// are quick; the guarantees do not depend on the figures.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, SpoolError } from "@spool/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { startDisposablePostgres, type DisposablePostgres } from "../service/src/test-support/disposable-postgres.js";
import { eventually } from "../service/src/test-support/spool.js";
import type { Execution } from "./fixtures/chaos/work.js";
import { bufCurl, killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished, until } from "./support/tasks.js";

const database = useTestDatabase();
const chaosTasks = fileURLToPath(new URL("./fixtures/chaos", import.meta.url));
const leaseTtlMs = 1500;
const replicaEnv = (url: string) => ({
  DATABASE_URL: url,
  SPOOL_WORKERS: "2",
  SPOOL_TASKS: chaosTasks,
  SPOOL_LEASE_RENEW_MS: "200",
  SPOOL_LEASE_TTL_MS: String(leaseTtlMs),
  SPOOL_POLL_INTERVAL_MS: "500",
  SPOOL_CANCEL_GRACE_MS: "500",
});

let dir: string;
const clients: SpoolClient[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-reliability-"));
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await killAll();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function replica(url = database.url): Promise<{ service: ServiceProcess; client: SpoolClient }> {
  const service = await startService(replicaEnv(url));
  const client = new SpoolClient(service.address);
  clients.push(client);
  return { service, client };
}

/** Replica A runs a chaos.work task (it was alone when the task was claimed); B stands by. */
async function runningOnOneOfTwo(input: { ms: number; retryMs: number; record: string }) {
  const a = await replica();
  const task = await a.client.createTask("chaos.work", input, { maxAttempts: 3 });
  await until(a.client, task.id, (t) => t.state === "running");
  return { a, b: await replica(), task };
}

const executions = (file: string): Execution[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Execution);

async function health(service: ServiceProcess): Promise<string> {
  const result = await bufCurl(service, ["-d", "{}", `http://${service.address}/grpc.health.v1.Health/Check`]);
  return result.code === 0 ? (JSON.parse(result.stdout) as { status: string }).status : `error: ${result.stderr}`;
}

describe("a replica that dies", () => {
  it("has its task run again by another replica once its lease expires (SIGKILL)", async () => {
    const record = join(dir, "sigkill.jsonl");
    const { a, b, task } = await runningOnOneOfTwo({ ms: 60_000, retryMs: 50, record });

    const killedAt = Date.now();
    await a.service.kill("SIGKILL");
    const done = await finished(b.client, task.id);
    const recoveryMs = done.startedAt!.getTime() - killedAt;
    console.log(`recovery after SIGKILL: attempt 2 started ${recoveryMs} ms after the kill (lease ttl ${leaseTtlMs} ms, renewed every 200 ms)`);

    expect(done).toMatchObject({ state: "succeeded", attempt: 2, result: { attempt: 2, pid: b.service.child.pid } });
    expect(done.failures).toHaveLength(1);
    expect(done.failures[0]).toMatchObject({ attempt: 1, type: "LeaseExpired" });
    expect(done.failures[0]!.message).toContain(`:${a.service.child.pid} stopped renewing its lease`);
    expect(executions(record).map((e) => [e.attempt, e.pid])).toEqual([
      [1, a.service.child.pid],
      [2, b.service.child.pid],
    ]);
  });

  it("cannot overwrite the newer attempt when it wakes up after a pause longer than its lease (SIGSTOP)", async () => {
    const record = join(dir, "sigstop.jsonl");
    // A's attempt outlasts everything below, however slowly B starts on a loaded machine (with
    // a 2 s attempt, A sometimes finished before B was up, and there was nothing to take over).
    const { a, b, task } = await runningOnOneOfTwo({ ms: 60_000, retryMs: 50, record });

    a.service.child.kill("SIGSTOP");
    const done = await finished(b.client, task.id);
    expect(done).toMatchObject({ state: "succeeded", attempt: 2, result: { attempt: 2, pid: b.service.child.pid } });
    a.service.child.kill("SIGCONT");

    // A finds its lease taken and stops, or finishes and has its outcome refused: either way
    // the task keeps the result of attempt 2.
    await eventually(
      async () => (/lease had expired and was taken|attempt that lost its claim was ignored/.test(a.service.output()) ? true : undefined),
      10_000,
      "the paused replica to notice it lost its lease",
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await b.client.getTask(task.id)).toMatchObject({ state: "succeeded", attempt: 2, result: { pid: b.service.child.pid } });
    expect(await a.client.getTask(task.id)).toMatchObject({ state: "succeeded", attempt: 2 }); // A still serves
    expect(executions(record).map((e) => e.attempt)).toEqual([1, 2]);
  });
});

describe("a Postgres outage", () => {
  let pg: DisposablePostgres;
  beforeAll(async () => {
    pg = await startDisposablePostgres();
  });
  afterAll(() => pg?.destroy());

  it("answers UNAVAILABLE and NOT_SERVING while Postgres is down, then carries on by itself, losing nothing", async () => {
    const { service, client } = await replica(pg.url);
    const running = await client.createTask("chaos.work", { ms: 3000 }, { maxAttempts: 1 });
    await until(client, running.id, (t) => t.state === "running");
    const accepted = await client.createTask("chaos.work", { ms: 10 }, { runAt: new Date(Date.now() + 2000) });

    await pg.stop();
    const refused = await client.createTask("demo.echo", "while down").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(SpoolError);
    expect(refused).toMatchObject({ code: "unavailable" });
    await expect(client.getTask(running.id)).rejects.toMatchObject({ code: "unavailable" });
    await eventually(async () => ((await health(service)) === "NOT_SERVING" ? true : undefined), 10_000, "NOT_SERVING");
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the running attempt ends meanwhile

    await pg.start();
    await eventually(async () => ((await health(service)) === "SERVING" ? true : undefined), 20_000, "SERVING again");
    // The attempt that ended during the outage is stored once it can be, as attempt 1.
    expect(await finished(client, running.id)).toMatchObject({ state: "succeeded", attempt: 1, failures: [] });
    expect(await finished(client, accepted.id)).toMatchObject({ state: "succeeded" });
    const after = await client.createTask("demo.echo", "after");
    expect(await finished(client, after.id)).toMatchObject({ state: "succeeded", result: "after" });
    expect(service.child.exitCode).toBe(null);
  });
});

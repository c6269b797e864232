// The chaos test: three replicas of the built service share one Postgres and run 2,000 tasks
// of random length while, for about a minute, random replicas are SIGKILLed and restarted
// and Postgres itself is restarted once. At the end every task must be terminal, none
// missing, none RUNNING, and every execution beyond one per task must be explained by a lost
// lease (the attempt it ran is recorded as LeaseExpired). Each execution is recorded by the
// handler in a file outside the database, so executions that a killed replica never got to
// store are counted too.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, type Task } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDisposablePostgres, type DisposablePostgres } from "../service/src/test-support/disposable-postgres.js";
import type { Execution } from "./fixtures/chaos/work.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const taskCount = 2000;
const chaosMs = 60_000;
const leaseTtlMs = 1500;
const env = (url: string) => ({
  DATABASE_URL: url,
  SPOOL_WORKERS: "3",
  SPOOL_TASKS: fileURLToPath(new URL("./fixtures/chaos", import.meta.url)),
  SPOOL_LEASE_RENEW_MS: "250",
  SPOOL_LEASE_TTL_MS: String(leaseTtlMs),
  SPOOL_POLL_INTERVAL_MS: "500",
  SPOOL_LOG_LEVEL: "info",
});

let pg: DisposablePostgres;
let dir: string;
beforeAll(async () => {
  pg = await startDisposablePostgres();
  dir = await mkdtemp(join(tmpdir(), "spool-chaos-"));
});
afterAll(async () => {
  await killAll();
  await pg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));

it("loses no task and leaves none stuck while replicas are killed and Postgres restarts", { timeout: 300_000 }, async () => {
  const record = join(dir, "executions.jsonl");
  const replicas: ServiceProcess[] = await Promise.all([0, 1, 2].map(() => startService(env(pg.url))));
  const killedAt = new Map<number, number>(); // pid -> epoch ms of its SIGKILL

  // Create the tasks through one replica, in batches.
  const creator = new SpoolClient(replicas[0]!.address);
  const ids: string[] = [];
  for (let i = 0; i < taskCount; i += 500) {
    const batch = Array.from({ length: Math.min(500, taskCount - i) }, () => ({
      kind: "chaos.work",
      input: { ms: random(0, 600), record },
      maxAttempts: 25,
    }));
    ids.push(...(await creator.createTasks(batch)).map((t) => t.id));
  }
  creator.close();

  // Chaos: kill a random replica every 2-5 s and restart it 0.2-1.5 s later; restart Postgres
  // once, halfway through. Stop early if every task has ended.
  const db = postgres(pg.url, { max: 1, onnotice: () => {}, backoff: () => 0.2 });
  const unfinished = async () => {
    try {
      const [row] = await db<{ n: number }[]>`select count(*)::int as n from spool.tasks where finished_at is null`;
      return row!.n;
    } catch {
      return Number.NaN; // Postgres is restarting
    }
  };
  let kills = 0;
  let pgRestarts = 0;
  const started = Date.now();
  while (Date.now() - started < chaosMs && (await unfinished()) !== 0) {
    await sleep(random(2000, 5000));
    if (pgRestarts === 0 && Date.now() - started > chaosMs / 2) {
      await pg.stop();
      await sleep(2000);
      await pg.start();
      pgRestarts++;
      continue;
    }
    const victim = random(0, replicas.length);
    const pid = replicas[victim]!.child.pid!;
    killedAt.set(pid, Date.now());
    await replicas[victim]!.kill("SIGKILL");
    kills++;
    await sleep(random(200, 1500));
    replicas[victim] = await startService(env(pg.url));
  }

  // Every task ends.
  const deadline = Date.now() + 120_000;
  while ((await unfinished()) !== 0) {
    if (Date.now() > deadline) throw new Error(`${await unfinished()} tasks did not finish within 2 minutes after the chaos`);
    await sleep(250);
  }

  const client = new SpoolClient(replicas[0]!.address);
  const tasks = new Map<string, Task>();
  for await (const task of client.listTasks({ pageSize: 1000, view: "full" })) tasks.set(task.id, task);
  client.close();
  await db.end();

  // None missing, none RUNNING or PENDING: all of them SUCCEEDED (25 attempts are plenty).
  expect(tasks.size).toBe(taskCount);
  expect(ids.every((id) => tasks.has(id))).toBe(true);
  const states = countBy([...tasks.values()], (t) => t.state);
  expect(states).toEqual({ succeeded: taskCount });

  // Every execution beyond the one that succeeded ran an attempt that lost its lease, and no
  // attempt ran twice.
  const executions = readFileSync(record, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Execution);
  const seen = new Set<string>();
  let longestRecoveryMs = 0;
  const byTask = new Map<string, Execution[]>();
  for (const run of executions) byTask.set(run.id, [...(byTask.get(run.id) ?? []), run]);
  for (const [id, runs] of byTask) {
    const task = tasks.get(id)!;
    for (const run of runs) {
      const key = `${id}/${run.attempt}`;
      expect(seen.has(key), `attempt ${key} ran twice`).toBe(false);
      seen.add(key);
      if (run.attempt === task.attempt) {
        expect(task.result).toEqual(run); // the result is the final attempt's own
        continue;
      }
      const failure = task.failures.find((f) => f.attempt === run.attempt);
      expect(failure?.type, `task ${id} attempt ${run.attempt} ran but did not lose its lease`).toBe("LeaseExpired");
      const kill = killedAt.get(run.pid);
      const next = runs.filter((r) => r.attempt > run.attempt).sort((a, b) => a.attempt - b.attempt)[0];
      // Recovery: from the kill that lost the attempt until the task ran again.
      if (kill !== undefined && next) longestRecoveryMs = Math.max(longestRecoveryMs, next.at - kill);
    }
  }
  expect(byTask.size).toBe(taskCount);

  const retries = [...tasks.values()].reduce((n, t) => n + t.attempt - 1, 0);
  const lostAttempts = [...tasks.values()].reduce((n, t) => n + t.failures.filter((f) => f.type === "LeaseExpired").length, 0);
  const table = {
    tasks: taskCount,
    "replica kills (SIGKILL)": kills,
    "postgres restarts": pgRestarts,
    "chaos duration (s)": Math.round((Date.now() - started) / 1000),
    "retries (attempts beyond the first)": retries,
    "attempts lost with a lease": lostAttempts,
    "duplicate executions": executions.length - taskCount,
    "longest recovery after a kill (ms)": longestRecoveryMs,
  };
  console.table(table);
  expect(kills).toBeGreaterThan(0);
});

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

// Starting and stopping a replica: the drain hands tasks back, nothing leaks, and a broken
// handler module stops the start with a message that names it.
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./test-support/database.js";
import { startDisposablePostgres } from "./test-support/disposable-postgres.js";
import { eventually, fixturesDir, startTestSpool } from "./test-support/spool.js";
import { liveWorkerThreads } from "./workers/pool.js";

const database = useTestDatabase();
let sql: postgres.Sql;
beforeAll(() => {
  sql = postgres(database.url, { max: 1 });
});
afterAll(() => sql.end());

/** Handles that would keep a process alive: sockets, servers and timers. */
function openHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|Timeout|Immediate|Pipe/.test(r))
    .sort();
}

/** Handles open now that were not open in `before` (counted per type). */
function addedHandles(before: string[]): string[] {
  const left = [...before];
  return openHandles().filter((handle) => {
    const i = left.indexOf(handle);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

describe("stopping", () => {
  it("interrupts running tasks and hands them back without using up an attempt; none stays RUNNING", async () => {
    const { client, stop } = await startTestSpool(database.url, { workers: 2, cancelGraceMs: 300 });
    const once = await client.createTask("demo.sleep", { seconds: 60 }, { maxAttempts: 1 });
    const retriable = await client.createTask("demo.spin", { ms: 60_000 }, { maxAttempts: 3 });
    await eventually(async () => ((await client.listTasksPage({ states: ["running"] })).tasks.length === 2 ? true : undefined));
    await eventually(async () => ((await client.getTask(once.id)).progress ? true : undefined), 10_000, "a first line"); // logged "slept 1 of 60 s"
    await stop();
    const rows = await sql<{ id: string; state: string; attempt: number; type: string; failures: { attempt: number; type: string }[] }[]>`
      select id, state, attempt, error->>'type' as type, failures from spool.tasks where id in (${once.id}, ${retriable.id})`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    // A deploy is not the task's fault: a max_attempts = 1 task is not DROPPED by it. The
    // interrupted attempt stays in the history.
    for (const id of [once.id, retriable.id]) {
      expect(byId[id]).toMatchObject({ state: "pending", attempt: 0, type: "Shutdown" });
      expect(byId[id]!.failures).toMatchObject([{ attempt: 1, type: "Shutdown" }]);
    }

    // Both run again on the next replica, as attempt 1, their logs continuing where they were.
    const next = await startTestSpool(database.url, { workers: 2 });
    try {
      await next.client.cancelTask(retriable.id, "enough spinning"); // it would spin for a minute
      const [cancelled, rerun] = await Promise.all([
        eventually(async () => {
          const t = await next.client.getTask(retriable.id);
          return t.state === "cancelled" ? t : undefined;
        }),
        eventually(async () => {
          const t = await next.client.getTask(once.id);
          return t.state === "running" ? t : undefined;
        }),
      ]);
      expect(cancelled.error?.message).toBe("enough spinning");
      expect(rerun.attempt).toBe(1);
      const lines = [];
      for await (const line of next.client.streamLogs(once.id, { follow: true, signal: AbortSignal.timeout(5000) })) {
        lines.push(line);
        if (lines.length >= 3) break;
      }
      // The interrupted run's line, then the new run's: numbered on, none lost to a clash.
      expect(lines.map((l) => [l.seq, l.attempt, l.message])).toEqual([
        [1, 1, "slept 1 of 60 s"],
        [2, 1, "slept 1 of 60 s"],
        [3, 1, "slept 2 of 60 s"],
      ]);
      await next.client.cancelTask(once.id);
    } finally {
      await next.stop();
    }
  });

  it("stops within its bound while Postgres is down, and the tasks it could not hand back are taken back later", async () => {
    const pg = await startDisposablePostgres();
    try {
      const first = await startTestSpool(pg.url, { workers: 1, cancelGraceMs: 200, leaseRenewMs: 200, leaseTtlMs: 1000 });
      const task = await first.client.createTask("demo.sleep", { seconds: 60 });
      await eventually(async () => ((await first.client.getTask(task.id)).state === "running" ? true : undefined));
      await pg.stop();
      await first.stop(); // hung forever before: the writer retried while Postgres was down
      await pg.start();
      const second = await startTestSpool(pg.url, { workers: 1, leaseRenewMs: 200, leaseTtlMs: 1000 });
      try {
        const back = await eventually(async () => {
          const t = await second.client.getTask(task.id);
          return t.attempt === 2 || t.state !== "running" ? t : undefined;
        }, 20_000, "the task to be taken back");
        expect(back.failures.map((f) => f.type)).toEqual(["LeaseExpired"]);
        await second.client.cancelTask(task.id);
      } finally {
        await second.stop();
      }
    } finally {
      await pg.destroy();
    }
  });

  it("runs after a restart a task created before it", async () => {
    const first = await startTestSpool(database.url);
    const task = await first.client.createTask("demo.echo", "after restart", { runAt: new Date(Date.now() + 1500) });
    await first.stop();
    const second = await startTestSpool(database.url);
    try {
      const done = await eventually(async () => {
        const t = await second.client.getTask(task.id);
        return t.state === "succeeded" ? t : undefined;
      });
      expect(done.result).toBe("after restart");
    } finally {
      await second.stop();
    }
  });

  it("leaves no thread, socket, server or timer behind", async () => {
    const before = openHandles();
    const { client, stop } = await startTestSpool(database.url, { workers: 3 });
    await client.createTask("demo.sleep", { seconds: 30 });
    await eventually(async () => ((await client.listTasksPage({ states: ["running"] })).tasks.length === 1 ? true : undefined));
    expect(liveWorkerThreads()).toBe(3);
    await stop();
    await eventually(async () => (liveWorkerThreads() === 0 ? true : undefined), 5000, "threads to exit");
    await eventually(async () => (addedHandles(before).length === 0 ? true : undefined), 5000, "handles to close");
    expect(addedHandles(before)).toEqual([]);
  });
});

describe("starting", () => {
  it("refuses to start when a handler module fails to load, naming it", async () => {
    const broken = join(fixturesDir, "broken-module.ts");
    await expect(startTestSpool(database.url, { taskModules: [broken] })).rejects.toThrow(
      /^handler module \S*broken-module\.ts could not be loaded: its top level threw Error: this module is broken on purpose \(at \S*broken-module\.ts:\d+:\d+\)/,
    );
    await eventually(async () => (liveWorkerThreads() === 0 ? true : undefined), 5000, "threads to exit");
  });

  it("refuses a module that exports no task", async () => {
    await expect(startTestSpool(database.url, { taskModules: [join(fixturesDir, "..", "factories.ts")] })).rejects.toThrow(
      /exports no task: export what defineTask returns/,
    );
  });
});

// Starting and stopping a replica: the drain hands tasks back, nothing leaks, and a broken
// handler module stops the start with a message that names it.
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./test-support/database.js";
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
  it("interrupts running tasks: PENDING if attempts remain, else DROPPED; none stays RUNNING", async () => {
    const { client, stop } = await startTestSpool(database.url, { workers: 2, cancelGraceMs: 300 });
    const once = await client.createTask("demo.sleep", { seconds: 60 }, { maxAttempts: 1 });
    const retriable = await client.createTask("demo.spin", { ms: 60_000 }, { maxAttempts: 3 });
    await eventually(async () => ((await client.listTasksPage({ states: ["running"] })).tasks.length === 2 ? true : undefined));
    await stop();
    const rows = await sql<{ id: string; state: string; attempt: number; type: string }[]>`
      select id, state, attempt, error->>'type' as type from spool.tasks where id in (${once.id}, ${retriable.id})`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[once.id]).toMatchObject({ state: "dropped", attempt: 1, type: "Shutdown" });
    expect(byId[retriable.id]).toMatchObject({ state: "pending", attempt: 1, type: "Shutdown" });

    // A task handed back runs on the next replica, and the DROPPED one stays as it is.
    const next = await startTestSpool(database.url, { workers: 1 });
    try {
      await next.client.cancelTask(retriable.id, "enough spinning"); // it would spin for a minute
      const [cancelled, dropped] = await Promise.all([
        eventually(async () => {
          const t = await next.client.getTask(retriable.id);
          return t.state === "cancelled" ? t : undefined;
        }),
        next.client.getTask(once.id),
      ]);
      expect(cancelled.error?.message).toBe("enough spinning");
      expect(dropped.state).toBe("dropped");
    } finally {
      await next.stop();
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
      /failed to load the handler modules: this module is broken on purpose/,
    );
    await eventually(async () => (liveWorkerThreads() === 0 ? true : undefined), 5000, "threads to exit");
  });

  it("refuses a module that exports no task", async () => {
    await expect(startTestSpool(database.url, { taskModules: [join(fixturesDir, "..", "factories.ts")] })).rejects.toThrow(
      /exports no task: export what defineTask returns/,
    );
  });
});

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { claimTasks, nextDueTime, unclaimTasks } from "./claim.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { readLogs } from "./logs.js";
import { decodeNotice, listen } from "./notify.js";
import { recordAttempts, type AttemptFinish, type NewLogLine } from "./record-attempts.js";
import { getTask } from "./read-tasks.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs`);

const finishAttempts = (owner: string, finishes: AttemptFinish[]) => recordAttempts(database.sql, owner, [], finishes);
const insertLogs = (owner: string, lines: NewLogLine[]) => recordAttempts(database.sql, owner, lines, []);

describe("claimTasks", () => {
  it("hands each task to exactly one of many concurrent claimers", async () => {
    await insertTasks(database.sql, Array.from({ length: 300 }, () => newTask()));
    const owners = Array.from({ length: 6 }, () => randomUUID());
    const claimed: string[] = [];
    await Promise.all(
      owners.map(async (owner) => {
        for (;;) {
          const batch = await claimTasks(database.sql, 7, owner);
          if (batch.length === 0) return;
          claimed.push(...batch.map((t) => t.id));
        }
      }),
    );
    expect(claimed).toHaveLength(300);
    expect(new Set(claimed).size).toBe(300);
  });

  it("takes higher priority first, then the oldest run_at", async () => {
    const past = new Date(Date.now() - 60_000);
    const [a, b, c, d] = await insertTasks(database.sql, [
      newTask({ input: "a" }),
      newTask({ input: "b", priority: 5 }),
      newTask({ input: "c", runAt: past }),
      newTask({ input: "d", priority: -1 }),
    ]);
    const order: unknown[] = [];
    for (let i = 0; i < 4; i++) order.push(...(await claimTasks(database.sql, 1, randomUUID())).map((t) => t.input));
    expect(order).toEqual(["b", "c", "a", "d"]);
    expect([a, b, c, d].every((x) => x?.created)).toBe(true);
  });

  it("does not take a task before its run_at, and says when the next one is due", async () => {
    const runAt = new Date(Date.now() + 60_000);
    await insertTasks(database.sql, [newTask({ runAt })]);
    expect(await claimTasks(database.sql, 10, randomUUID())).toEqual([]);
    expect(await nextDueTime(database.sql)).toBe(runAt.getTime());
  });

  it("gives back an unstarted claim without spending its attempt", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask()]);
    const owner = randomUUID();
    const [claim] = await claimTasks(database.sql, 1, owner);
    expect(claim?.attempt).toBe(1);
    await unclaimTasks(database.sql, owner, [{ id: claim!.id, attempt: 1 }]);
    const task = await getTask(database.db, inserted!.task.id);
    expect(task).toMatchObject({ state: "pending", attempt: 0, startedAt: null });
  });
});

describe("fencing", () => {
  it("ignores the outcome and the log lines of an attempt that lost its claim", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask({ maxAttempts: 3 })]);
    const id = inserted!.task.id;
    const first = randomUUID();
    await claimTasks(database.sql, 1, first);
    // The first attempt is interrupted (as after a lost lease) and a second replica takes over.
    await finishAttempts(first, [{ id, attempt: 1, outcome: "interrupted" }]);
    const second = randomUUID();
    const [claim] = await claimTasks(database.sql, 1, second);
    expect(claim).toMatchObject({ id, attempt: 2 });

    // Late writes of attempt 1 change nothing...
    expect(await finishAttempts(first, [{ id, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify("stale") }])).toEqual([]);
    await insertLogs(first, [{ taskId: id, attempt: 1, seq: 1, level: "info", message: "stale", time: Date.now() }]);
    // ...nor can another owner write for attempt 2.
    expect(await finishAttempts(first, [{ id, attempt: 2, outcome: "succeeded", resultJson: JSON.stringify("stale") }])).toEqual([]);

    await insertLogs(second, [{ taskId: id, attempt: 2, seq: 1, level: "info", message: "fresh", time: Date.now() }]);
    const [done] = await finishAttempts(second, [{ id, attempt: 2, outcome: "succeeded", resultJson: JSON.stringify("fresh") }]);
    expect(done).toMatchObject({ id, state: "succeeded" });
    expect(await getTask(database.db, id)).toMatchObject({ state: "succeeded", result: "fresh", attempt: 2 });
    expect((await readLogs(database.sql, id, 0, 10)).map((l) => l.message)).toEqual(["fresh"]);
  });

  it("ends a task whose cancel was requested CANCELLED, whatever its failure", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask({ maxAttempts: 5 })]);
    const id = inserted!.task.id;
    const owner = randomUUID();
    await claimTasks(database.sql, 1, owner);
    await database.sql`update spool.tasks set cancel_requested = true, cancel_reason = 'stop' where id = ${id}`;
    await finishAttempts(owner, [{ id, attempt: 1, outcome: "failed", error: { type: "Error", message: "boom" } }]);
    expect(await getTask(database.db, id)).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "stop" } });
  });

  it("drops an interrupted task with no attempt left, and requeues one that has some", async () => {
    const [one, three] = await insertTasks(database.sql, [newTask({ maxAttempts: 1 }), newTask({ maxAttempts: 3 })]);
    const owner = randomUUID();
    await claimTasks(database.sql, 2, owner);
    const shutdown = { type: "Shutdown", message: "stopping" };
    const finished = await finishAttempts(owner, [
      { id: one!.task.id, attempt: 1, outcome: "interrupted", error: shutdown },
      { id: three!.task.id, attempt: 1, outcome: "interrupted", error: shutdown },
    ]);
    expect(Object.fromEntries(finished.map((f) => [f.id, f.state]))).toEqual({ [one!.task.id]: "dropped", [three!.task.id]: "pending" });
  });
});

describe("recordAttempts", () => {
  it("stores lines and outcomes in one statement and sends their wake-ups with them", async () => {
    const [retried, ended] = await insertTasks(database.sql, [newTask({ maxAttempts: 2 }), newTask({ maxAttempts: 1 })]);
    const owner = randomUUID();
    await claimTasks(database.sql, 2, owner);
    const notices: unknown[] = [];
    const listener = await listen(database.sql, (notice) => notices.push(notice), () => {});
    try {
      const time = Date.now();
      const finished = await recordAttempts(
        database.sql,
        owner,
        [
          { taskId: retried!.task.id, attempt: 1, seq: 1, level: "warn", message: "about to fail", time },
          { taskId: ended!.task.id, attempt: 1, seq: 1, level: "info", message: "done", time },
        ],
        [
          { id: retried!.task.id, attempt: 1, outcome: "failed", error: { type: "Error", message: "boom" } },
          { id: ended!.task.id, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify({ ok: true }) },
        ],
      );
      expect(Object.fromEntries(finished.map((f) => [f.id, f.state]))).toEqual({
        [retried!.task.id]: "pending",
        [ended!.task.id]: "succeeded",
      });
      const retry = finished.find((f) => f.id === retried!.task.id)!;
      expect(retry.runAt).toBeGreaterThan(time + 500); // backoff of the first retry: 1 s +-25%
      await new Promise((resolve) => setTimeout(resolve, 100));
      const ids = (type: string) => notices.flatMap((n) => ((n as { type: string }).type === type ? (n as { ids: string[] }).ids : [])).sort();
      expect(ids("logs")).toEqual([retried!.task.id, ended!.task.id].sort());
      expect(ids("tasks")).toEqual([retried!.task.id, ended!.task.id].sort());
      expect(notices).toContainEqual({ type: "wake", at: Math.round(retry.runAt) });
      expect(decodeNotice("x:nonsense")).toBeUndefined();
    } finally {
      await listener.unlisten();
    }
  });

  it("still sends the wake-up for lines when no outcome is recorded", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask()]);
    const owner = randomUUID();
    await claimTasks(database.sql, 1, owner);
    const notices: unknown[] = [];
    const listener = await listen(database.sql, (notice) => notices.push(notice), () => {});
    try {
      await insertLogs(owner, [{ taskId: inserted!.task.id, attempt: 1, seq: 1, level: "info", message: "x", time: Date.now() }]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(notices).toEqual([{ type: "logs", ids: [inserted!.task.id] }]);
    } finally {
      await listener.unlisten();
    }
  });
});

describe("schema invariants", () => {
  it("refuses a terminal task without finished_at, and a running one without an owner", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask()]);
    const id = inserted!.task.id;
    await expect(database.sql`update spool.tasks set state = 'succeeded' where id = ${id}`).rejects.toThrow(/tasks_finished_iff_terminal/);
    await expect(database.sql`update spool.tasks set state = 'running', started_at = now() where id = ${id}`).rejects.toThrow(/tasks_owner_iff_running/);
  });
});

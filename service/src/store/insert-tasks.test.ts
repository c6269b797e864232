import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { randomUUID } from "node:crypto";
import { earliestDue, insertTasks } from "./insert-tasks.js";
import { renewLease } from "./leases.js";
import { changeQueue } from "./queues.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 4 });
});
afterAll(() => database.close());

describe("insertTasks", () => {
  it("stores one task per schedule tick: a tick already taken returns its task, created false", async () => {
    const tick = new Date("2026-03-29T01:00:00.000Z");
    const [first] = await insertTasks(database.sql, [newTask({ schedule: "nightly", scheduledFor: tick, input: 1 })]);
    expect(first).toMatchObject({ created: true, task: { schedule: "nightly", scheduledFor: tick } });

    const [again, next, otherTenant, otherSchedule] = await insertTasks(database.sql, [
      newTask({ schedule: "nightly", scheduledFor: tick, input: 2 }),
      newTask({ schedule: "nightly", scheduledFor: new Date(tick.getTime() + 1), input: 3 }),
      newTask({ schedule: "nightly", scheduledFor: tick, tenant: "acme", input: 4 }),
      newTask({ schedule: "hourly", scheduledFor: tick, input: 5 }),
    ]);
    expect(again).toMatchObject({ created: false, task: { id: first!.task.id, input: 1, scheduledFor: tick } });
    expect([next, otherTenant, otherSchedule].map((r) => r!.created)).toEqual([true, true, true]);

    // Within one batch, the first of two tasks for the same tick wins.
    const twin = new Date(tick.getTime() + 2);
    const [a, b] = await insertTasks(database.sql, [
      newTask({ schedule: "nightly", scheduledFor: twin, input: "a" }),
      newTask({ schedule: "nightly", scheduledFor: twin, input: "b" }),
    ]);
    expect(a!.created).toBe(true);
    expect(b).toMatchObject({ created: false, task: { id: a!.task.id, input: "a" } });

    const stored = await database.sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where schedule = 'nightly' and tenant = 'default'`;
    expect(stored[0]!.n).toBe(3);
  });

  it("still returns the holder of a taken idempotency key, and a task without a tick is never a tick conflict", async () => {
    const [held] = await insertTasks(database.sql, [newTask({ idempotencyKey: "k1", input: "held" })]);
    const [reused, plain1, plain2] = await insertTasks(database.sql, [
      newTask({ idempotencyKey: "k1", input: "second" }),
      newTask({ schedule: "nightly", input: "a retry keeps its schedule, without a tick" }),
      newTask({ schedule: "nightly", input: "another" }),
    ]);
    expect(reused).toMatchObject({ created: false, task: { id: held!.task.id, input: "held" } });
    expect([plain1!.created, plain2!.created]).toEqual([true, true]);
  });

  describe("start on insert", () => {
    const owner = randomUUID();
    beforeAll(async () => {
      await renewLease(database.sql, { id: owner, name: "test:start" }, 60_000);
      await changeQueue(database.sql, "default", "limited", { concurrencyLimit: 5 });
      await changeQueue(database.sql, "default", "paused", { paused: true });
    });

    it("stores flagged tasks as claimed by the owner, as a claim would", async () => {
      const [started, plain] = await insertTasks(database.sql, [newTask({ input: "a" }), newTask({ input: "b" })], { owner, rows: [true, false] });
      expect(started!.task).toMatchObject({ state: "running", attempt: 1 });
      expect(started!.task.startedAt).toBeInstanceOf(Date);
      expect(plain!.task).toMatchObject({ state: "pending", attempt: 0, startedAt: null });
      const rows = await database.sql<{ id: string; state: string; owner: string | null; attempt: number; started: boolean }[]>`
        select id, state, owner, attempt, started_at is not null as started from spool.tasks where id in ${database.sql([started!.task.id, plain!.task.id])}`;
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(started!.task.id)).toMatchObject({ state: "running", owner, attempt: 1, started: true });
      expect(byId.get(plain!.task.id)).toMatchObject({ state: "pending", owner: null, attempt: 0, started: false });
      // Only the pending one is announced by its caller (earliestDue).
      expect(earliestDue([started!, plain!])).toBe(plain!.task.runAt.getTime());
      expect(earliestDue([started!])).toBeUndefined();
    });

    it("stores a flagged task PENDING where a claim could not take it at once", async () => {
      const later = new Date(Date.now() + 60_000);
      const inserted = await insertTasks(
        database.sql,
        [
          newTask({ queue: "limited" }),
          newTask({ queue: "paused" }),
          newTask({ runAt: later }),
          newTask({ idempotencyKey: "start-key" }),
        ],
        { owner, rows: [true, true, true, true] },
      );
      expect(inserted.map((i) => i.task.state)).toEqual(["pending", "pending", "pending", "running"]);
      // A taken key returns its holder, which did not start again.
      const [again] = await insertTasks(database.sql, [newTask({ idempotencyKey: "start-key" })], { owner, rows: [true] });
      expect(again).toMatchObject({ created: false, task: { id: inserted[3]!.task.id } });
      // Without a live lease nothing starts.
      const stranger = randomUUID();
      const [orphan] = await insertTasks(database.sql, [newTask()], { owner: stranger, rows: [true] });
      expect(orphan!.task.state).toBe("pending");
    });
  });
});

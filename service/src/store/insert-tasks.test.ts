import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";

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
});

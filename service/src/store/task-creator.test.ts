import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { collectedNotices } from "../test-support/notices.js";
import { TaskCreator } from "./task-creator.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 4 });
});
afterAll(() => database.close());

describe("TaskCreator", () => {
  it("shares one statement between concurrent creates, yet a row Postgres refuses fails only its own call", async () => {
    const notices = collectedNotices();
    const creator = new TaskCreator(database.sql, notices);
    // A priority int4 cannot hold (validation refuses it before it gets here; this is the net
    // behind validation).
    const results = await Promise.allSettled([
      creator.create([newTask({ input: "first" })]),
      creator.create([newTask({ input: "refused", priority: 2 ** 40 })]),
      creator.create([newTask({ input: "third" }), newTask({ input: "fourth" })]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const stored = await database.sql<{ input: string }[]>`select input from spool.tasks order by id`;
    expect(stored.map((row) => row.input)).toEqual(["first", "third", "fourth"]);
    await creator.drained();
    // Each insert that stored tasks announced when they come due (the refused one did not).
    expect(notices.sent.every((n) => "due" in n)).toBe(true);
    expect(notices.sent.length).toBeGreaterThanOrEqual(1);
  });

  it("announces the earliest due time of what it stored pending, once committed", async () => {
    const notices = collectedNotices();
    const creator = new TaskCreator(database.sql, notices);
    const later = new Date(Date.now() + 3_600_000);
    const [created] = await creator.create([newTask({ runAt: later }), newTask({ runAt: new Date(later.getTime() + 1000) })]);
    expect(notices.sent).toEqual([{ due: later.getTime() }]);
    // Committed by the time it is announced: a reader on another connection sees the row.
    const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where id = ${created!.task.id}`;
    expect(row!.n).toBe(1);
    // A key already taken stores nothing, and announces nothing.
    notices.sent.length = 0;
    await creator.create([newTask({ idempotencyKey: "once" })]);
    await creator.create([newTask({ idempotencyKey: "once" })]);
    expect(notices.sent).toHaveLength(1);
  });
});

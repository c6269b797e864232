import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { TaskCreator } from "./task-creator.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 4 });
});
afterAll(() => database.close());

describe("TaskCreator", () => {
  it("shares one statement between concurrent creates, yet a row Postgres refuses fails only its own call", async () => {
    const creator = new TaskCreator(database.sql);
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
  });
});

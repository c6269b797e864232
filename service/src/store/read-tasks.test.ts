import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskFilter } from "../domain/task.js";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { listTasks } from "./read-tasks.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url);
});
afterAll(() => database.close());

const noFilter: TaskFilter = { states: [], kinds: [], queue: undefined, labels: {}, createdAfter: undefined, createdBefore: undefined };

describe("listTasks", () => {
  it("pages newest first without gaps or repeats while tasks are being added", async () => {
    const first = await insertTasks(database.sql, Array.from({ length: 25 }, (_, i) => newTask({ input: i })));
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await listTasks(database.db, noFilter, before, 10);
      seen.push(...page.map((t) => t.id));
      if (page.length < 10) break;
      before = page.at(-1)!.id;
      await insertTasks(database.sql, [newTask({ input: "added while paging" })]);
    }
    expect(seen).toEqual(first.map((f) => f.task.id).reverse());
  });

  it("filters by state, kind, queue, labels and creation time", async () => {
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5));
    const [a, b] = await insertTasks(database.sql, [
      newTask({ kind: "k.one", queue: "mail", labels: { team: "x", env: "prod" } }),
      newTask({ kind: "k.two", queue: "mail", labels: { team: "y" } }),
    ]);
    await new Promise((r) => setTimeout(r, 5));
    const after = new Date();
    const ids = async (filter: Partial<TaskFilter>) =>
      (await listTasks(database.db, { ...noFilter, ...filter }, undefined, 100)).map((t) => t.id);
    expect(await ids({ kinds: ["k.one", "k.two"] })).toEqual([b!.task.id, a!.task.id]);
    expect(await ids({ queue: "mail", labels: { team: "x" } })).toEqual([a!.task.id]);
    expect(await ids({ labels: { team: "x", env: "dev" } })).toEqual([]);
    expect(await ids({ states: ["running"], kinds: ["k.one"] })).toEqual([]);
    expect(await ids({ states: ["pending"], kinds: ["k.one"] })).toEqual([a!.task.id]);
    expect(await ids({ createdAfter: before, createdBefore: after })).toEqual([b!.task.id, a!.task.id]);
    expect(await ids({ createdAfter: after })).toEqual([]);
    expect(await ids({ createdBefore: before, kinds: ["k.one"] })).toEqual([]);
  });
});

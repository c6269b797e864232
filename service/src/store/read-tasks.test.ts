import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskFilter } from "../domain/task.js";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { randomUUID } from "node:crypto";
import { claimWithLease } from "../test-support/claim.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { recordAttempts } from "./record-attempts.js";
import { getTask, listTasks } from "./read-tasks.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url);
});
afterAll(() => database.close());

const noFilter: TaskFilter = { states: [], kinds: [], queue: undefined, labels: {}, createdAfter: undefined, createdBefore: undefined, tenant: undefined, createdBy: undefined, schedule: undefined };

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

  it("pages through ended and live tasks together, newest first, each filter applied to both", async () => {
    await database.sql`truncate spool.tasks`;
    const created = await insertTasks(database.sql, Array.from({ length: 30 }, (_, i) => newTask({ kind: i % 3 === 0 ? "k.rare" : "k.common", input: i })));
    // Every other task ends (succeeded or failed); one stays running; the rest pending.
    const owner = randomUUID();
    const claimed = await claimWithLease(database.sql, 30, owner, ["k.rare", "k.common"]);
    const ends = claimed.filter((_, i) => i % 2 === 0);
    await recordAttempts(
      database.sql,
      owner,
      [],
      ends.map((c, i) => ({ id: c.id, attempt: 1, outcome: i % 4 === 0 ? ("failed" as const) : ("succeeded" as const) })),
    );
    const running = claimed.filter((_, i) => i % 2 === 1).slice(0, 1);
    const giveBack = claimed.filter((_, i) => i % 2 === 1).slice(1).map((c) => c.id);
    await database.sql`update spool.tasks set state = 'pending', owner = null where id = any(${giveBack})`;
    expect(running).toHaveLength(1);

    const pageAll = async (filter: Partial<TaskFilter>) => {
      const ids: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await listTasks(database.db, { ...noFilter, ...filter }, before, 4);
        ids.push(...page.map((t) => t.id));
        if (page.length < 4) return ids;
        before = page.at(-1)!.id;
      }
    };
    const newestFirst = created.map((c) => c.task.id).reverse();
    expect(await pageAll({})).toEqual(newestFirst);
    const states = new Map((await database.sql<{ id: string; state: string; kind: string }[]>`select id, state, kind from spool.tasks`).map((r) => [r.id, r]));
    expect(await pageAll({ kinds: ["k.rare"] })).toEqual(newestFirst.filter((id) => states.get(id)!.kind === "k.rare"));
    expect(await pageAll({ states: ["failed", "running"] })).toEqual(newestFirst.filter((id) => ["failed", "running"].includes(states.get(id)!.state)));
    expect(await pageAll({ states: ["pending"], kinds: ["k.common"] })).toEqual(
      newestFirst.filter((id) => states.get(id)!.state === "pending" && states.get(id)!.kind === "k.common"),
    );
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

describe("getTask and listTasks", () => {
  it("read a string input or result that looks like JSON as the string it is", async () => {
    const texts = ["0", "null", "true", "[1]", '"q"', "{}"];
    const created = await insertTasks(database.sql, texts.map((text) => newTask({ kind: "k.jsonish", input: text })));
    const owner = randomUUID();
    const claimed = await claimWithLease(database.sql, texts.length, owner, ["k.jsonish"]);
    const inputOf = new Map(created.map(({ task }) => [task.id, task.input]));
    await recordAttempts(
      database.sql,
      owner,
      [],
      claimed.map((c) => ({ id: c.id, attempt: 1, outcome: "succeeded" as const, resultJson: JSON.stringify(inputOf.get(c.id)) })),
    );
    for (const { task } of created) {
      expect(await getTask(database.db, task.id)).toMatchObject({ input: task.input, result: task.input });
    }
    const page = await listTasks(database.db, { ...noFilter, kinds: ["k.jsonish"] }, undefined, 10, "full");
    expect(page.map((t) => [t.input, t.result])).toEqual(created.map(({ task }) => [task.input, task.input]).reverse());
  });
});

// The demo kinds' input schemas, through a real replica: a bad input is refused at CreateTask
// naming the field (it used to be accepted and fail every attempt), a missing one means every
// default, and a task stored before the schemas (raw input) still runs.
import type { SpoolClient, Task } from "@spool/sdk";
import { SpoolError } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertTasks } from "../store/insert-tasks.js";
import { newTask } from "../test-support/factories.js";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
let spool: TestSpool;
let client: SpoolClient;

beforeAll(async () => {
  spool = await startTestSpool(database.url);
  client = spool.client;
});
afterAll(() => spool.stop());

function finished(id: string): Promise<Task> {
  return eventually(async () => {
    const task = await client.getTask(id);
    return task.finishedAt !== undefined ? task : undefined;
  }, 20_000, `task ${id} to finish`);
}

async function refusal(promise: Promise<unknown>): Promise<SpoolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpoolError);
  expect((error as SpoolError).code).toBe("invalid_argument");
  return error as SpoolError;
}

describe("demo kinds' inputs", () => {
  it("refuses a bad input at CreateTask, naming the field", async () => {
    expect((await refusal(client.createTask("demo.sleep", { seconds: "x" }))).message).toMatch(/^input\.seconds: /);
    expect((await refusal(client.createTask("demo.sleep", { seconds: 1, fail: "yes" }))).message).toMatch(/^input\.fail: /);
    expect((await refusal(client.createTask("demo.sleep", { seconds: 90_000 }))).message).toMatch(/^input\.seconds: /);
    expect((await refusal(client.createTask("demo.spin", { ms: -1 }))).message).toMatch(/^input\.ms: /);
    expect((await refusal(client.createTask("demo.log", { lines: 2.5 }))).message).toMatch(/^input\.lines: /);
    // A misspelt key is not silently ignored.
    expect((await refusal(client.createTask("demo.sleep", { secnds: 5 }))).message).toMatch(/^input: .*secnds/);
    expect((await refusal(client.createTask("demo.sleep", 5))).message).toMatch(/^input: /);
    // Both problems, in a batch, with the task's index.
    const batch = await refusal(client.createTasks([{ kind: "demo.echo", input: 1 }, { kind: "demo.sleep", input: { seconds: "x", fail: 1 } }]));
    expect(batch.message).toMatch(/^tasks\[1\]\.input\.seconds: .*; tasks\[1\]\.input\.fail: /);
    // Nothing was stored.
    expect((await client.listTasksPage({ kinds: ["demo.sleep", "demo.spin", "demo.log"] })).tasks).toEqual([]);
  });

  it("stores a good input parsed: no input means every default", async () => {
    const none = await client.createTask("demo.sleep");
    expect(none.input).toEqual({ seconds: 1, fail: false });
    expect(await finished(none.id)).toMatchObject({ state: "succeeded", result: { slept: 1 } });
    const some = await client.createTask("demo.sleep", { seconds: 0.1, fail: true }, { maxAttempts: 1 });
    expect(some.input).toEqual({ seconds: 0.1, fail: true });
    expect(await finished(some.id)).toMatchObject({ state: "failed", error: { message: "demo.sleep failed after 0.1 s, as asked" } });
    const log = await client.createTask("demo.log", { lines: 3 });
    expect(await finished(log.id)).toMatchObject({ state: "succeeded", result: { lines: 3 } });
    const spin = await client.createTask("demo.spin", null);
    expect(spin.input).toEqual({ ms: 1000 });
    expect(await finished(spin.id)).toMatchObject({ state: "succeeded", result: { spunMs: 1000 } });
  });

  it("still runs a task stored before the schemas, with its raw input", async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // As an older replica stored them: no schema checked or filled them in.
      const [bare, partial] = await insertTasks(sql, [newTask({ kind: "demo.sleep", input: null }), newTask({ kind: "demo.log", input: {} })]);
      expect(await finished(bare!.task.id)).toMatchObject({ state: "succeeded", result: { slept: 1 } });
      expect(await finished(partial!.task.id)).toMatchObject({ state: "succeeded", result: { lines: 10 } });
    } finally {
      await sql.end();
    }
  });
});

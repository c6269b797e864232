// A task's backoff through a real replica: CreateTask's fields over its kind's
// (defineTask({ backoff })) over the defaults; the wait between its attempts follows it; and a
// kind whose backoff is unusable stops the start, naming the kind.
import { join } from "node:path";
import { defaultBackoff } from "@spool/proto";
import { SpoolError, type SpoolClient, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./test-support/database.js";
import { eventually, fixturesDir, startTestSpool, type TestSpool } from "./test-support/spool.js";

const database = useTestDatabase();
let spool: TestSpool;
let client: SpoolClient;

beforeAll(async () => {
  spool = await startTestSpool(database.url, { taskModules: [join(fixturesDir, "backoff.ts")], demoKinds: true });
  client = spool.client;
});
afterAll(() => spool?.stop());

const kindBackoff = { baseMs: 120_000, factor: 3, maxMs: defaultBackoff.maxMs, jitter: 0 };

async function refusal(promise: Promise<unknown>): Promise<SpoolError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SpoolError);
  return error as SpoolError;
}

describe("a task's backoff", () => {
  it("is its kind's when it sets none, and the defaults when neither does", async () => {
    expect((await client.createTask("test.backoff-kind")).backoff).toEqual(kindBackoff);
    expect((await client.createTask("test.backoff-base-only")).backoff).toEqual({ ...defaultBackoff, baseMs: 5000 });
    expect((await client.createTask("demo.echo")).backoff).toEqual(defaultBackoff);
  });

  it("takes the fields CreateTask sets over its kind's, and GetTask reads it back so", async () => {
    const task = await client.createTask("test.backoff-kind", null, { backoff: { factor: 2, maxMs: 600_000 } });
    expect(task.backoff).toEqual({ baseMs: 120_000, factor: 2, maxMs: 600_000, jitter: 0 });
    expect((await client.getTask(task.id)).backoff).toEqual(task.backoff);
    const other = await client.createTask("test.backoff-base-only", null, { backoff: { jitter: 0.1, baseMs: 0 } });
    expect((await client.getTask(other.id)).backoff).toEqual({ ...defaultBackoff, baseMs: 0, jitter: 0.1 });
    // A jitter of 0 from a create is 0, not "unset" (the field has presence on the wire).
    const exact = await client.createTask("demo.echo", null, { backoff: { jitter: 0 } });
    expect((await client.getTask(exact.id)).backoff).toEqual({ ...defaultBackoff, jitter: 0 });
  });

  it("refuses a max below the base, saying when the max is not the request's own", async () => {
    const below = await refusal(client.createTask("test.backoff-kind", null, { backoff: { maxMs: 60_000 } }));
    expect(below.code).toBe("invalid_argument");
    expect(below.message).toBe("backoff.max: 60s is less than base (120s)");
    const inherited = await refusal(client.createTask("test.backoff-base-only", null, { backoff: { baseMs: 7_200_000 } }));
    expect(inherited.message).toBe("backoff.max: 3600s is less than base (7200s) (the kind's or the default max: set max too)");
    const batch = await refusal(client.createTasks([{ kind: "demo.echo" }, { kind: "test.backoff-kind", backoff: { factor: 11 } }]));
    expect(batch.message).toBe("tasks[1].backoff.factor: 11 is out of range 1..10");
  });

  it("is what the task waits by after a failed attempt", async () => {
    const task = await client.createTask("test.backoff-kind", null, { maxAttempts: 2 });
    const retrying = await eventually(async () => {
      const now: Task = await client.getTask(task.id);
      return now.state === "pending" && now.failures.length === 1 ? now : undefined;
    }, 20_000, "the first attempt to fail");
    // run_at = the time the failure was stored + base (jitter 0), both by the database's clock.
    expect(retrying.runAt.getTime() - retrying.failures[0]!.finishedAt.getTime()).toBe(120_000);
  });
});

describe("a kind's backoff", () => {
  it("stops the start when it is unusable, naming the kind and the field", async () => {
    await expect(startTestSpool(database.url, { taskModules: [join(fixturesDir, "bad-backoff.ts")] })).rejects.toThrow(
      'kind "test.bad-backoff": its backoff (defineTask) is unusable: factor: 50 is out of range 1..10',
    );
  });
});

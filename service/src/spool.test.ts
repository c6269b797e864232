// A real replica (gRPC on loopback, worker threads, Postgres) driven through the SDK.
import { join } from "node:path";
import type { SpoolClient, Task, TaskState } from "@spool/sdk";
import { SpoolError } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./test-support/database.js";
import { eventually, fixturesDir, startTestSpool, type TestSpool } from "./test-support/spool.js";
import { liveWorkerThreads } from "./workers/pool.js";

const database = useTestDatabase();
let spool: TestSpool;
let client: SpoolClient;

beforeAll(async () => {
  spool = await startTestSpool(database.url, { taskModules: [join(fixturesDir, "failures.ts")], workers: 3 });
  client = spool.client;
});
afterAll(() => spool.stop());

function settled(id: string, states: TaskState[] = ["succeeded", "failed", "cancelled", "dropped"]): Promise<Task> {
  return eventually(async () => {
    const task = await client.getTask(id);
    return states.includes(task.state) ? task : undefined;
  }, 20_000, `task ${id} to reach ${states.join("/")}`);
}

async function rejection(promise: Promise<unknown>): Promise<SpoolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpoolError);
  return error as SpoolError;
}

describe("running tasks", () => {
  it("runs a task and stores its result", async () => {
    const created = await client.createTask("demo.echo", { hello: ["world", 1, true, null] }, { labels: { team: "a" } });
    // Pending, or already running when a thread was idle (start on create, below).
    expect([["pending", 0], ["running", 1]]).toContainEqual([created.state, created.attempt]);
    const done = await settled(created.id);
    expect(done).toMatchObject({
      state: "succeeded",
      result: { hello: ["world", 1, true, null] },
      attempt: 1,
      error: undefined,
      labels: { team: "a" },
    });
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(done.createdAt.getTime() - 5);
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
  });

  it("starts a task as it stores it when a thread is idle, and runs it once", async () => {
    // An idle replica that knows of no due task stores the task RUNNING, claimed by itself. A
    // claim in flight at that instant (the poll) makes it PENDING instead: try a few times.
    let started: Task | undefined;
    for (let i = 0; i < 20 && !started; i++) {
      const created = await client.createTask("demo.echo", { try: i });
      await settled(created.id);
      if (created.state === "running") started = created;
    }
    expect(started).toMatchObject({ state: "running", attempt: 1, startedAt: expect.any(Date) });
    const done = await client.getTask(started!.id);
    expect(done).toMatchObject({ state: "succeeded", attempt: 1, failures: [] });
  });

  it("returns from CreateTask exactly the task GetTask then reads", async () => {
    const runAt = new Date(Date.now() + 60_000);
    const options = { queue: "mail", priority: 7, runAt, maxAttempts: 5, timeoutMs: 90_000, idempotencyKey: "same-as-stored", labels: { a: "1" } };
    const created = await client.createTask("demo.echo", { nested: [1, { x: null }] }, options);
    expect(await client.getTask(created.id)).toEqual(created);
    const [plain] = await client.createTasks([{ kind: "demo.echo", runAt }]);
    expect(await client.getTask(plain!.id)).toEqual(plain);
    await Promise.all([client.cancelTask(created.id), client.cancelTask(plain!.id)]);
  });

  it("stores a thrown error with its type and stack", async () => {
    const task = await settled((await client.createTask("test.throw", null, { maxAttempts: 1 })).id);
    expect(task.state).toBe("failed");
    expect(task.error).toMatchObject({ type: "TypeError", message: "bad input shape" });
    expect(task.error?.stack).toContain("failures.ts");
  });

  it("retries a failing task with backoff until an attempt succeeds", async () => {
    const task = await settled((await client.createTask("test.flaky", { succeedOn: 2 }, { maxAttempts: 3 })).id);
    expect(task).toMatchObject({ state: "succeeded", attempt: 2, result: { attempt: 2 } });
    expect(task.failures).toEqual([{ attempt: 1, type: "Error", message: "attempt 1 fails", finishedAt: expect.any(Date) }]);
    expect(task.failures[0]!.finishedAt.getTime()).toBeLessThanOrEqual(task.startedAt!.getTime());
    const lines = [];
    for await (const line of client.streamLogs(task.id)) lines.push(line);
    expect(lines.map((l) => [l.seq, l.attempt, l.message])).toEqual([
      [1, 1, "attempt 1"],
      [2, 2, "attempt 2"],
    ]);
  });

  it("fails a task once its attempts are used up", async () => {
    const task = await settled((await client.createTask("test.flaky", { succeedOn: 5 }, { maxAttempts: 2 })).id);
    expect(task).toMatchObject({ state: "failed", attempt: 2, error: { message: "attempt 2 fails" } });
    expect(task.failures.map((f) => [f.attempt, f.message])).toEqual([
      [1, "attempt 1 fails"],
      [2, "attempt 2 fails"],
    ]);
  });

  it("fails a task whose result is not JSON, too large or too deep; stores one with a NUL, replaced", async () => {
    const bad = await settled((await client.createTask("test.bad-result", null, { maxAttempts: 1 })).id);
    expect(bad.error).toMatchObject({ type: "TypeError" });
    expect(bad.error?.message).toContain("not JSON-serializable");
    const nul = await settled((await client.createTask("test.nul-result", null, { maxAttempts: 1 })).id);
    expect(nul).toMatchObject({ state: "succeeded", result: "a\uFFFDb" });
    const large = await settled((await client.createTask("test.big-result", { mb: 2 }, { maxAttempts: 1 })).id);
    expect(large.error).toMatchObject({ type: "ResultTooLarge", message: expect.stringMatching(/^the handler's result is \d+ bytes as JSON; at most 1048576$/) });
    const deep = await settled((await client.createTask("test.big-result", { depth: 40 }, { maxAttempts: 1 })).id);
    expect(deep.error).toMatchObject({ type: "ResultTooDeep" });
    const fine = await settled((await client.createTask("test.big-result", { depth: 32 }, { maxAttempts: 1 })).id);
    expect(fine.state).toBe("succeeded");
  });

  it("ends a task whose error holds a NUL (it once stayed RUNNING forever), replacing the character", async () => {
    const task = await settled((await client.createTask("test.nul-error", null, { maxAttempts: 1 })).id);
    expect(task).toMatchObject({ state: "failed", error: { type: "RangeError", message: "bad\uFFFDbyte" } });
    expect(task.failures[0]).toMatchObject({ type: "RangeError", message: "bad\uFFFDbyte" });
  });

  it("stores every string a handler hands back, with NUL and unpaired surrogates replaced", async () => {
    const task = await settled((await client.createTask("test.unstorable-text")).id);
    expect(task).toMatchObject({
      state: "succeeded",
      result: { "key\uFFFD": ["value\uFFFD", "lone \uFFFD", "pair 😀"] },
      progress: { fraction: 0.5, message: "progress\uFFFD" },
    });
    const lines = [];
    for await (const line of client.streamLogs(task.id)) lines.push(line.message);
    expect(lines).toEqual(["log\uFFFDline", "console \uFFFD line"]);
  });

  it("cuts an error's message and stack to their ceilings", async () => {
    const task = await settled((await client.createTask("test.huge-error", null, { maxAttempts: 1 })).id);
    expect(task.error?.message).toMatch(/^m{8192}\.\.\. \[991808 characters cut\]$/);
    expect(task.error?.stack).toMatch(/^s{16384}\.\.\. \[983616 characters cut\]$/);
  });

  it("captures console.* inside a task as log lines with levels", async () => {
    const task = await settled((await client.createTask("test.console")).id);
    const lines = [];
    for await (const line of client.streamLogs(task.id)) lines.push([line.level, line.message]);
    expect(lines).toEqual([
      ["info", "to stdout { a: 1 }"],
      ["info", "info line"],
      ["warn", "warn line"],
      ["error", "error line"],
      ["debug", "debug line"],
    ]);
  });

  it("never runs a task before its run_at", async () => {
    const runAt = new Date(Date.now() + 1500);
    const created = await client.createTask("demo.echo", 1, { runAt });
    const done = await settled(created.id);
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
  });

  it("runs higher priorities first", async () => {
    // Occupy every thread, queue tasks of mixed priorities, then free the threads.
    // The blockers run until cancelled, not for a fixed time: on a slow machine they once
    // ended before the last of the three tasks was created.
    const blockers = await Promise.all([1, 2, 3].map(() => client.createTask("demo.sleep", { seconds: 600 })));
    await eventually(async () => ((await client.listTasksPage({ states: ["running"] })).tasks.length === 3 ? true : undefined));
    // One call, so that every claim sees all three: created one by one, a replica's local
    // queue could take "low" while "mid" was not yet created, and run it first (prefetch).
    const [low, high, mid] = await client.createTasks([
      { kind: "demo.echo", input: "low", priority: -5 },
      { kind: "demo.echo", input: "high", priority: 10 },
      { kind: "demo.echo", input: "mid" },
    ]);
    // Free one thread only: the three then run one after another on it, in the order the
    // scheduler picks them. (Freeing all three at once started them together on three
    // threads, and which thread reported its start first was a race on a loaded machine.)
    await client.cancelTask(blockers[0]!.id);
    const [l, h, m] = await Promise.all([settled(low!.id), settled(high!.id), settled(mid!.id)]);
    await Promise.all(blockers.map((b) => client.cancelTask(b.id)));
    await Promise.all(blockers.map((b) => settled(b.id)));
    expect(h.startedAt!.getTime()).toBeLessThanOrEqual(m.startedAt!.getTime());
    expect(m.startedAt!.getTime()).toBeLessThanOrEqual(l.startedAt!.getTime());
  });
});

describe("worker thread failures", () => {
  it.each([
    ["test.exit", "WorkerCrashed", /exited with code 7/],
    ["test.oom", "WorkerCrashed", /memory/i],
    // Thrown from a timer of the running task: that task fails with the error it threw.
    ["test.throw-late", "Error", /thrown from a timer/],
  ])("%s fails only its own task, and the pool keeps serving", async (kind, type, message) => {
    const task = await settled((await client.createTask(kind, null, { maxAttempts: 1 })).id);
    expect(task.state).toBe("failed");
    expect(task.error?.type).toBe(type);
    expect(task.error?.message).toMatch(message);
    const after = await settled((await client.createTask("demo.echo", "still here")).id);
    expect(after).toMatchObject({ state: "succeeded", result: "still here" });
  });

  it("times out a task that ignores its signal, terminating its thread", async () => {
    const task = await settled((await client.createTask("test.hang", null, { maxAttempts: 1, timeoutMs: 1000 })).id);
    expect(task.state).toBe("failed");
    expect(task.error?.type).toBe("Timeout");
    expect(task.error?.message).toMatch(/timed out after 1000 ms; thread terminated/);
  });

  it("retries a timed-out attempt while attempts remain, keeping each timeout in the history", async () => {
    const task = await settled((await client.createTask("test.hang", null, { maxAttempts: 2, timeoutMs: 1000 })).id);
    expect(task).toMatchObject({ state: "failed", attempt: 2, error: { type: "Timeout" } });
    expect(task.failures.map((f) => [f.attempt, f.type])).toEqual([
      [1, "Timeout"],
      [2, "Timeout"],
    ]);
  });
});

describe("cancelling", () => {
  it("reaches a running task whose cancel notice was missed, at the next lease renewal", async () => {
    const task = await client.createTask("demo.sleep", { seconds: 120 });
    await settled(task.id, ["running"]);
    // As CancelTask does, but without the `c:` notice (lost in a reconnect, say).
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await sql`update spool.tasks set cancel_requested = true, cancel_reason = 'notice lost' where id = ${task.id}`;
    } finally {
      await sql.end();
    }
    const done = await settled(task.id);
    expect(done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "notice lost" } });
  });

  it("cancels a pending task at once", async () => {
    const task = await client.createTask("demo.echo", 1, { runAt: new Date(Date.now() + 60_000) });
    const cancelled = await client.cancelTask(task.id, "not needed");
    expect(cancelled).toMatchObject({ state: "cancelled", cancelRequested: true, error: { type: "Cancelled", message: "not needed" } });
    expect(cancelled.finishedAt).toBeInstanceOf(Date);
  });

  it("cancels a running co-operative task through its AbortSignal", async () => {
    const task = await client.createTask("demo.sleep", { seconds: 60 });
    await settled(task.id, ["running"]);
    const requested = await client.cancelTask(task.id, "changed my mind");
    expect(requested).toMatchObject({ state: "running", cancelRequested: true });
    const done = await settled(task.id);
    expect(done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "changed my mind" } });
  });

  it("cancels a CPU loop by terminating its thread", async () => {
    const task = await client.createTask("demo.spin", { ms: 120_000 });
    await settled(task.id, ["running"]);
    await client.cancelTask(task.id);
    const done = await settled(task.id);
    expect(done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "cancelled by request" } });
    expect(await settled((await client.createTask("demo.echo", 2)).id)).toMatchObject({ state: "succeeded" });
  });

  it("returns a finished task unchanged", async () => {
    const task = await settled((await client.createTask("demo.echo", 3)).id);
    const again = await client.cancelTask(task.id, "too late");
    expect(again).toEqual(task);
  });
});

describe("validation", () => {
  it.each([
    [() => client.createTask("no.such.kind"), "invalid_argument", /^kind: unknown kind "no.such.kind"; registered kinds: .*demo.echo/],
    [() => client.createTask(""), "invalid_argument", /^kind: is required/],
    [() => client.createTask("demo.echo", 1, { queue: "bad queue!" }), "invalid_argument", /^queue: /],
    [() => client.createTask("demo.echo", 1, { priority: 5000 }), "invalid_argument", /^priority: 5000 is out of range/],
    [() => client.createTask("demo.echo", 1, { maxAttempts: 101 }), "invalid_argument", /^max_attempts: /],
    [() => client.createTask("demo.echo", 1, { timeoutMs: 10 }), "invalid_argument", /^timeout: /],
    [() => client.createTask("demo.echo", 1, { labels: { "bad key": "v" } }), "invalid_argument", /^labels\["bad key"\]: /],
    [() => client.createTask("demo.echo", "x".repeat(1024 * 1024 + 10)), "invalid_argument", /^input: is \d+ bytes/],
    [() => client.createTask("demo.echo", { a: ["x\u0000y"] }), "invalid_argument", /^input\.a\[0\]: holds a NUL character/],
    [() => client.createTask("demo.echo", 1, { labels: { k: "a\u0000" } }), "invalid_argument", /^labels\["k"\]: must not contain a NUL/],
    [() => client.getTask("not-a-uuid"), "invalid_argument", /^id: "not-a-uuid" is not a task id/],
    [() => client.getTask(""), "invalid_argument", /^id: is required/],
    [() => client.getTask("01a20392-cd00-7774-b068-0f78454a8d14"), "not_found", /^task 01a20392-cd00-7774-b068-0f78454a8d14 not found/],
    [() => client.cancelTask("01a20392-cd00-7774-b068-0f78454a8d14"), "not_found", /not found/],
    [() => client.listTasksPage({ pageSize: 5000 }), "invalid_argument", /^page_size: /],
    [() => client.listTasksPage({ pageToken: "garbage" }), "invalid_argument", /^page_token: /],
  ])("rejects bad input with a status naming the field (%#)", async (call, code, message) => {
    const error = await rejection(call());
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it("rejects a log stream for an unknown task", async () => {
    const error = await rejection((async () => {
      for await (const _ of client.streamLogs("01a20392-cd00-7774-b068-0f78454a8d14")) void _;
    })());
    expect(error.code).toBe("not_found");
  });
});

describe("CreateTasks", () => {
  it("creates many tasks in one call, in order, and runs them", async () => {
    const tasks = await client.createTasks(Array.from({ length: 50 }, (_, i) => ({ kind: "demo.echo", input: i, labels: { batch: "b1" } })));
    expect(tasks.map((t) => t.input)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const done = await Promise.all(tasks.map((t) => settled(t.id)));
    expect(done.map((t) => t.result)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("creates nothing when one task is bad, naming it by its index", async () => {
    const error = await rejection(
      client.createTasks([
        { kind: "demo.echo", input: 1, labels: { batch: "bad" } },
        { kind: "demo.echo", input: 2, labels: { batch: "bad" } },
        { kind: "no.such.kind", labels: { batch: "bad" } },
      ]),
    );
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(/^tasks\[2\]\.kind: unknown kind "no.such.kind"/);
    expect((await client.listTasksPage({ labels: { batch: "bad" } })).tasks).toEqual([]);
  });

  it("refuses an empty call and one over the limit", async () => {
    expect((await rejection(client.createTasks([]))).message).toMatch(/^tasks: holds 0 tasks; 1 to 1000 per call/);
    // Under the 4 MiB request limit, but the reply, which carries every task back, would not be.
    const heavy = Array.from({ length: 1000 }, () => ({ kind: "demo.echo", input: "x".repeat(4100) }));
    expect((await rejection(client.createTasks(heavy))).message).toMatch(/^tasks: inputs total \d+ bytes as JSON; at most 3145728 per call/);
    const tooMany = Array.from({ length: 1001 }, () => ({ kind: "demo.echo" }));
    expect((await rejection(client.createTasks(tooMany))).message).toMatch(/^tasks: holds 1001 tasks/);
  });
});

describe("text Postgres cannot store", () => {
  it("accepts a literal backslash-u0000 in the input, which is not a NUL", async () => {
    const task = await settled((await client.createTask("demo.echo", { text: "\\u0000" })).id);
    expect(task.result).toEqual({ text: "\\u0000" });
  });

  it("never lets one refused input fail the other creates of its batch", async () => {
    const results = await Promise.allSettled([
      client.createTask("demo.echo", "fine 1"),
      client.createTask("demo.echo", "bad\u0000"),
      client.createTask("demo.echo", "fine 2"),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });
});

describe("idempotency", () => {
  it("returns the first task for a repeated key, and refuses the key for another kind", async () => {
    const first = await client.createTask("demo.echo", 1, { idempotencyKey: "order-42" });
    const [second, third] = await Promise.all([
      client.createTask("demo.echo", 2, { idempotencyKey: "order-42" }),
      client.createTask("demo.echo", 3, { idempotencyKey: "order-42" }),
    ]);
    expect(second.id).toBe(first.id);
    expect(third.id).toBe(first.id);
    const error = await rejection(client.createTask("demo.sleep", { seconds: 1 }, { idempotencyKey: "order-42" }));
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toMatch(/^idempotency_key: "order-42" already names task/);
  });
});

describe("resources", () => {
  it("keeps exactly one live thread per worker, replacing the dead ones", async () => {
    await eventually(async () => (liveWorkerThreads() === 3 ? true : undefined), 10_000, "3 live threads");
  });
});

describe("a claim whose reply was lost", () => {
  it("is given back at a lease renewal, and the task runs", async () => {
    const task = await client.createTask("demo.echo", "found again", { runAt: new Date(Date.now() + 3600_000) });
    // As if this replica's claim had committed and the primary then failed before answering.
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await sql`update spool.tasks set state = 'running', attempt = 1, owner = ${spool.spool.replicaId},
        started_at = now() - interval '1 minute', run_at = now() where id = ${task.id}`;
    } finally {
      await sql.end();
    }
    const done = await settled(task.id);
    expect(done).toMatchObject({ state: "succeeded", result: "found again", attempt: 1 });
  });
});

describe("a rolling deploy", () => {
  it("leaves a kind to the replicas that have its handler", async () => {
    const old = await startTestSpool(database.url, { workers: 2 }); // demo.* only
    try {
      const tasks = await client.createTasks(Array.from({ length: 30 }, () => ({ kind: "test.flaky", input: { succeedOn: 1 } })));
      const done = await Promise.all(tasks.map((t) => settled(t.id)));
      expect(done.every((t) => t.state === "succeeded" && t.attempt === 1 && t.failures.length === 0)).toBe(true);
    } finally {
      await old.stop();
    }
  });
});

describe("connections", () => {
  it("opens at most SPOOL_DB_POOL_SIZE connections, LISTEN and the lease included", async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // Enough concurrent calls of every sort to open every connection the pools allow.
      await Promise.all([
        client.createTasks(Array.from({ length: 200 }, (_, i) => ({ kind: "demo.echo", input: i }))),
        ...Array.from({ length: 40 }, () => client.createTask("demo.echo", 1).then((t) => client.getTask(t.id))),
        ...Array.from({ length: 20 }, () => client.listTasksPage({ pageSize: 100 })),
      ]);
      const [row] = await sql<{ count: number }[]>`
        select count(*)::int as count from pg_stat_activity where application_name = ${`spool ${spool.spool.replicaId}`}`;
      expect(row!.count).toBeGreaterThan(3);
      expect(row!.count).toBeLessThanOrEqual(10); // testConfig's dbPoolSize
    } finally {
      await sql.end();
    }
  });
});

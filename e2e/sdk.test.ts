// The SDK against the built service: typed runs, watching, waiting, paging and retries.
import { fileURLToPath } from "node:url";
import { defineTask, SpoolClient, SpoolError, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../service/src/store/embedded.js";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { greet } from "./fixtures/tasks/greet.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const database = useTestDatabase();
const env = () => ({
  DATABASE_URL: database.url,
  SPOOL_WORKERS: "3",
  SPOOL_TASKS: fileURLToPath(new URL("./fixtures/tasks", import.meta.url)),
});
let service: ServiceProcess;
let client: SpoolClient;

beforeAll(async () => {
  service = await startService(env());
  client = new SpoolClient(service.address);
});
afterAll(async () => {
  client?.close();
  await killAll();
});

/** The built-in demo.sleep, typed for the client (only its kind is used on this side). */
const demoSleep = defineTask<{ seconds: number; fail?: boolean }, null>({ kind: "demo.sleep", run: () => null });

describe("client.run", () => {
  it("creates a task of a definition's kind and resolves with its typed result", async () => {
    const result: { greeting: string } = await client.run(greet, { name: "Ada" });
    expect(result).toEqual({ greeting: "hello, Ada" });
  });

  it("rejects with a task_failed SpoolError that carries the ended task", async () => {
    const error = await client.run(demoSleep, { seconds: 0.1, fail: true }, { maxAttempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolError);
    expect(error).toMatchObject({ code: "task_failed", task: { state: "failed", error: { message: "demo.sleep failed after 0.1 s, as asked" } } });
    expect((error as SpoolError).message).toMatch(/ended FAILED: Error: demo.sleep failed/);
  });

  it("checks the input against the definition at compile time", () => {
    // Never called: tsc -p e2e fails if the SDK stops rejecting this.
    const _wrongInput = () =>
      // @ts-expect-error name must be a string
      client.run(greet, { name: 42 });
    expect(typeof _wrongInput).toBe("function");
  });
});

describe("input schemas", () => {
  it("refuses an input its kind's schema rejects, naming the field path, and stores a good one as parsed", async () => {
    await expect(client.createTask("example.welcome", { email: "not an address" })).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^input\.email: /),
    });
    await expect(
      client.createTasks([
        { kind: "demo.echo", input: 1 },
        { kind: "example.welcome", input: { email: "a@example.com", tags: ["ok", ""] } },
      ]),
    ).rejects.toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^tasks\[1\]\.input\.tags\[1\]: /) });

    const task = await client.createTask("example.welcome", { email: "a@example.com" });
    expect(task.input).toEqual({ email: "a@example.com", plan: "free", tags: [] });
    expect(await client.waitForTask(task.id)).toMatchObject({ state: "succeeded", result: { email: "a@example.com", plan: "free" } });
  });
});

describe("watching and waiting", () => {
  it("watches a task through its states and progress, ending with it terminal", async () => {
    const task = await client.createTask("demo.sleep", { seconds: 2 });
    const seen: Task[] = [];
    for await (const version of client.watchTask(task.id)) seen.push(version);
    const states = seen.map((t) => t.state);
    expect(states[0]).toMatch(/pending|running/);
    expect(states).toContain("running");
    expect(states.at(-1)).toBe("succeeded");
    const fractions = seen.flatMap((t) => (t.progress ? [t.progress.fraction] : []));
    expect(fractions).toContain(0.5);
    expect(fractions.at(-1)).toBe(1);
    expect(seen.at(-1)!.progress).toMatchObject({ fraction: 1, message: "slept 2 of 2 s", attempt: 1 });
  });

  it("waits for the end without polling, and gives up at its timeout or signal", async () => {
    const quick = await client.createTask("demo.echo", "done");
    expect(await client.waitForTask(quick.id)).toMatchObject({ state: "succeeded", result: "done" });

    const slow = await client.createTask("demo.sleep", { seconds: 30 });
    await expect(client.waitForTask(slow.id, { timeoutMs: 300 })).rejects.toMatchObject({ code: "deadline_exceeded" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(client.waitForTask(slow.id, { signal: controller.signal })).rejects.toMatchObject({ code: "cancelled" });
    await client.cancelTask(slow.id);
    expect(await client.waitForTask(slow.id)).toMatchObject({ state: "cancelled" });
  });

  it("answers NOT_FOUND for an unknown task, and INVALID_ARGUMENT for a malformed id", async () => {
    await expect(client.waitForTask("01a20392-cd00-7774-b068-0f78454a8d14")).rejects.toMatchObject({ code: "not_found" });
    await expect(client.waitForTask("nope")).rejects.toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^id: /) });
  });
});

describe("streamLogs", () => {
  it("resumes by itself after the replica serving it dies, with no gap and no duplicate", async () => {
    const task = await client.createTask("demo.sleep", { seconds: 5 });
    for await (const version of client.watchTask(task.id)) if (version.state === "running") break;
    // A second replica on a port of its own serves the stream; the task runs on the first.
    const port = await freePort();
    let serving = await startService({ ...env(), SPOOL_PORT: String(port) });
    const follower = new SpoolClient(`127.0.0.1:${port}`);
    const seqs: number[] = [];
    for await (const line of follower.streamLogs(task.id, { follow: true })) {
      seqs.push(line.seq);
      if (line.seq === 2) {
        await serving.kill("SIGKILL");
        serving = await startService({ ...env(), SPOOL_PORT: String(port) });
      }
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    follower.close();
  });
});

describe("connections", () => {
  it("gives each client a connection of its own: one client's followed streams never hold up another's calls", async () => {
    // A connection carries at most SPOOL_MAX_CONCURRENT_STREAMS (100) calls at once. grpc-js
    // shares one connection between clients made alike unless told not to, and then a
    // process that followed 100 tasks through one client could not create a task through
    // another: the call waited for a slot until its deadline.
    const follower = new SpoolClient(service.address);
    const other = new SpoolClient(service.address, { deadlineMs: 10_000 });
    const stop = new AbortController();
    try {
      const later = new Date(Date.now() + 3_600_000);
      const pending = await other.createTasks(Array.from({ length: 100 }, () => ({ kind: "demo.echo", runAt: later })));
      const streams = pending.map((task) =>
        (async () => {
          for await (const _ of follower.streamLogs(task.id, { follow: true, signal: stop.signal })) void _;
        })().catch(() => undefined),
      );
      // Every slot of the follower's connection is taken once its calls are open.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const task = await other.createTask("demo.echo", "through another client");
      expect((await other.waitForTask(task.id)).state).toBe("succeeded");
      stop.abort();
      await Promise.all(streams);
      for (const t of pending) await other.cancelTask(t.id);
    } finally {
      stop.abort();
      follower.close();
      other.close();
    }
  });
});

describe("listTasks", () => {
  it("walks every page as an async iterable", async () => {
    const batch = `b${Date.now()}`;
    const created = await client.createTasks(Array.from({ length: 7 }, (_, i) => ({ kind: "demo.echo", input: i, labels: { batch } })));
    const listed: string[] = [];
    for await (const task of client.listTasks({ labels: { batch }, pageSize: 2 })) listed.push(task.id);
    expect(listed).toEqual(created.map((t) => t.id).reverse()); // newest first
  });
});

describe("retries", () => {
  it("retries idempotent calls after UNAVAILABLE until the service is up, and never a create without a key", async () => {
    const port = await freePort();
    const early = new SpoolClient(`127.0.0.1:${port}`, { retries: 10 });
    const get = early.getTask("01a20392-cd00-7774-b068-0f78454a8d14").catch((e: unknown) => e);
    const keyed = early.createTask("demo.echo", "keyed", { idempotencyKey: `k${Date.now()}` });
    const unkeyed = early.createTask("demo.echo", "unkeyed").catch((e: unknown) => e);
    expect(await unkeyed).toMatchObject({ code: "unavailable" }); // it may have reached a server: not retried
    await startService({ ...env(), SPOOL_PORT: String(port) });
    // They reached the service: NOT_FOUND is its own answer, and the keyed task exists.
    expect(await get).toMatchObject({ code: "not_found" });
    expect(await early.waitForTask((await keyed).id)).toMatchObject({ state: "succeeded", result: "keyed" });
    early.close();
  });
});

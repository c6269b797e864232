// A bad task only hurts itself: what one run leaves behind in its thread, and what one run
// logs, never reaches another run. One worker thread, so consecutive tasks share it.
import { join } from "node:path";
import type { Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, fixturesDir, startTestSpool, type TestSpool } from "../test-support/spool.js";
import { liveWorkerThreads } from "./pool.js";

const database = useTestDatabase();
let spool: TestSpool;
const budgetBytes = 256 * 1024;

beforeAll(async () => {
  spool = await startTestSpool(database.url, {
    taskModules: [join(fixturesDir, "failures.ts")],
    workers: 1,
    logBytesPerAttempt: budgetBytes,
  });
});
afterAll(() => spool.stop());

const wait = (id: string): Promise<Task> => spool.client.waitForTask(id, { timeoutMs: 60_000 });

async function logOf(id: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of spool.client.streamLogs(id)) lines.push(line.message);
  return lines;
}

describe("leftovers of a finished run", () => {
  it("never log into the next task, and their throw does not crash it", async () => {
    const leaky = await spool.client.createTask("test.leaky", { logAfterMs: 100, throwAfterMs: 300 });
    expect(await wait(leaky.id)).toMatchObject({ state: "succeeded", result: "returned" });
    // Runs on the same (only) thread while the leftover timers fire.
    const next = await spool.client.createTask("test.paced", { lines: 10, everyMs: 60 });
    expect(await wait(next.id)).toMatchObject({ state: "succeeded", attempt: 1 });
    expect(await logOf(next.id)).toEqual(Array.from({ length: 10 }, (_, i) => `paced ${i + 1}`));
    expect(await logOf(leaky.id)).toEqual([]);
    // The tainted thread was replaced once free; the pool still has its one thread.
    await eventually(async () => (liveWorkerThreads() === 1 ? true : undefined), 10_000, "one live thread");
    const after = await spool.client.createTask("demo.echo", "fine");
    expect(await wait(after.id)).toMatchObject({ state: "succeeded", result: "fine" });
  });
});

describe("log budget", () => {
  it("stores an attempt's lines up to its byte budget, then one marker saying what was dropped", async () => {
    const task = await spool.client.createTask("test.chatty", { lines: 2000, size: 1024 });
    expect(await wait(task.id)).toMatchObject({ state: "succeeded" });
    const lines = await logOf(task.id);
    const kept = lines.filter((line) => line.startsWith("ccc"));
    expect(kept.length).toBe(Math.floor(budgetBytes / 1024));
    expect(lines.at(-1)).toMatch(/^1744 log lines \(1\.7 MiB\) dropped: the attempt logged more than its budget of 256 KiB/);
  });

  it("keeps a chatty task from costing a quiet one any line", async () => {
    const fast = await startTestSpool(database.url, {
      taskModules: [join(fixturesDir, "failures.ts")],
      workers: 2,
      logBytesPerAttempt: 1024 * 1024,
    });
    try {
      const [chatty, quiet] = await Promise.all([
        fast.client.createTask("test.chatty", { lines: 2_000_000, size: 10 }),
        fast.client.createTask("test.paced", { lines: 50, everyMs: 20 }),
      ]);
      await Promise.all([fast.client.waitForTask(chatty.id, { timeoutMs: 90_000 }), fast.client.waitForTask(quiet.id, { timeoutMs: 90_000 })]);
      expect(await logOf(quiet.id)).toEqual(Array.from({ length: 50 }, (_, i) => `paced ${i + 1}`));
    } finally {
      await fast.stop();
    }
  });
});

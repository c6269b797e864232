// What a handler can use besides logging, through a real replica: NonRetryableError fails a
// task at once (also from a user's own copy of the SDK), and ctx.sleep is cut short by a
// cancel, leaving nothing behind, and never harms the thread when it loses a race.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SpoolClient, Task } from "@spool/sdk";
import { NonRetryableError } from "@spool/sdk/task";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./test-support/database.js";
import { eventually, fixturesDir, startTestSpool, type TestSpool } from "./test-support/spool.js";

const database = useTestDatabase();
/** Longer than any wait below: a run that ignored its signal would end only by this, and fail the test. */
const cancelGraceMs = 120_000;
let spool: TestSpool;
let client: SpoolClient;
let ownCopyDir: string;

beforeAll(async () => {
  // A user's project with its own copy of @spool/sdk in its node_modules: a second module
  // instance, whose NonRetryableError is another class than the service's.
  ownCopyDir = await mkdtemp(join(tmpdir(), "spool-own-sdk-"));
  const sdkCopy = join(ownCopyDir, "node_modules", "@spool", "sdk");
  await mkdir(join(sdkCopy, "dist"), { recursive: true });
  await copyFile(fileURLToPath(new URL("../../sdk/package.json", import.meta.url)), join(sdkCopy, "package.json"));
  await copyFile(fileURLToPath(new URL("../../sdk/dist/task.js", import.meta.url)), join(sdkCopy, "dist", "task.js"));
  await writeFile(
    join(ownCopyDir, "own-copy.mjs"),
    `import { defineTask, NonRetryableError } from "@spool/sdk/task";
export const OwnNonRetryableError = NonRetryableError;
export const ownCopy = defineTask({
  kind: "test.own-copy-non-retryable",
  run() { throw new NonRetryableError("from the user's own copy of the SDK"); },
});
`,
  );
  spool = await startTestSpool(database.url, {
    taskModules: [join(fixturesDir, "task-context.ts"), join(ownCopyDir, "own-copy.mjs")],
    workers: 1,
    cancelGraceMs,
  });
  client = spool.client;
});
afterAll(async () => {
  await spool?.stop();
  if (ownCopyDir) await rm(ownCopyDir, { recursive: true, force: true });
});

function until(id: string, done: (task: Task) => boolean, what: string): Promise<Task> {
  return eventually(async () => {
    const task = await client.getTask(id);
    return done(task) ? task : undefined;
  }, 20_000, `task ${id}: ${what}`);
}
const finished = (id: string) => until(id, (task) => task.finishedAt !== undefined, "finished");

async function logOf(id: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of client.streamLogs(id)) lines.push(line.message);
  return lines;
}

describe("NonRetryableError", () => {
  it("fails the task after one attempt, with attempts left, under the error's name", async () => {
    const task = await client.createTask("test.non-retryable", null, { maxAttempts: 3 });
    const done = await finished(task.id);
    expect(done).toMatchObject({
      state: "failed",
      attempt: 1,
      maxAttempts: 3,
      error: { type: "NonRetryableError", message: "the card was declined for good" },
    });
    expect(done.failures).toEqual([expect.objectContaining({ attempt: 1, type: "NonRetryableError" })]);
  });

  it("a subclass too, stored under the subclass's name", async () => {
    const done = await finished((await client.createTask("test.non-retryable-subclass", null, { maxAttempts: 5 })).id);
    expect(done).toMatchObject({ state: "failed", attempt: 1, error: { type: "CardDeclined", message: "declined" } });
  });

  it("thrown from a user's own copy of the SDK, which instanceof would not recognise", async () => {
    const own = (await import(join(ownCopyDir, "own-copy.mjs"))) as { OwnNonRetryableError: typeof NonRetryableError };
    expect(own.OwnNonRetryableError).not.toBe(NonRetryableError);
    expect(new own.OwnNonRetryableError("x")).not.toBeInstanceOf(NonRetryableError);
    const done = await finished((await client.createTask("test.own-copy-non-retryable", null, { maxAttempts: 3 })).id);
    expect(done).toMatchObject({ state: "failed", attempt: 1, error: { type: "NonRetryableError", message: "from the user's own copy of the SDK" } });
  });
});

describe("ctx.sleep", () => {
  it("is cut short by CancelTask, rejecting with the signal's reason and leaving no timer or listener", async () => {
    const task = await client.createTask("test.sleep-cancel", null, { maxAttempts: 3 });
    await until(task.id, (t) => t.state === "running", "running");
    // Wait for it to be asleep (its first line), then cancel.
    await eventually(async () => ((await logOf(task.id)).includes("sleeping") ? true : undefined), 20_000, "asleep");
    await client.cancelTask(task.id, "not needed");
    const done = await finished(task.id);
    // Ended by the signal, well within the grace period: its thread was not terminated.
    expect(done.state).toBe("cancelled");
    expect(done.failures.at(-1)?.message ?? "").not.toMatch(/terminated/);
    const report = (await logOf(task.id)).find((line) => line.startsWith("{"));
    expect(report, "the handler's report").toBeDefined();
    const seen = JSON.parse(report!) as Record<string, unknown> & Record<"before" | "during" | "after", { timers: number; listeners: number }>;
    expect(seen.during).toEqual({ timers: seen.before.timers + 1, listeners: seen.before.listeners + 1 });
    expect(seen.after).toEqual(seen.before);
    expect(seen).toMatchObject({ reason: "AbortError", isSignalReason: true });
  });

  it("a sleep left pending when the run ends does not harm its thread", async () => {
    const abandoned = await finished((await client.createTask("test.sleep-abandoned")).id);
    expect(abandoned).toMatchObject({ state: "succeeded" });
    // The run's end aborted the pending sleep. Had that rejected it, nobody handling it, the
    // unhandled rejection would have had the thread replaced: the one worker would now be
    // another thread.
    const next = await finished((await client.createTask("test.thread-id")).id);
    expect(next).toMatchObject({ state: "succeeded", result: { threadId: (abandoned.result as { threadId: number }).threadId } });
  });
});

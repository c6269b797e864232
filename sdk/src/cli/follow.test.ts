// followTask with a scripted client: what `spool watch` and `spool create --wait` print for
// a given sequence of task versions and log lines, in a pipe (plain lines).
import { describe, expect, it } from "vitest";
import type { LogEntry, Task } from "../types.js";
import { followTask, type FollowClient } from "./follow.js";
import { Output } from "./format.js";
import { taskFixture } from "../test-support/task-fixture.js";

const base: Task = taskFixture();
const startedAt = new Date("2026-03-01T12:00:01Z");
const finishedAt = new Date("2026-03-01T12:00:05Z");
const progress = (fraction: number, message: string, attempt = 1) => ({ fraction, message, attempt, updatedAt: startedAt });
const running = (fraction: number, message: string): Task => ({ ...base, state: "running", attempt: 1, startedAt, progress: progress(fraction, message) });
const entry = (seq: number, message: string, attempt = 1): LogEntry => ({ seq, time: startedAt, level: "info", message, attempt });

function capture() {
  const written: string[] = [];
  return { out: new Output({ isTTY: false, write: (text: string) => written.push(text) }, false), lines: () => written.join("").split("\n").slice(0, -1) };
}

/** A client whose watch yields these versions and whose log yields these lines, once `logsWait` resolves. */
function scripted(versions: Task[], entries: LogEntry[] = [], logsWait: Promise<void> = Promise.resolve()): FollowClient {
  return {
    async *watchTask() {
      yield* versions;
    },
    async *streamLogs() {
      await logsWait;
      yield* entries;
    },
  } as unknown as FollowClient;
}

describe("followTask", () => {
  it("prints state lines with the service's times, the progress bar, and ends on a full bar when it succeeded", async () => {
    const { out, lines } = capture();
    const succeeded: Task = { ...running(0.6, "60 of 100 rows"), state: "succeeded", finishedAt };
    const task = await followTask(scripted([base, running(0.3, "30 of 100 rows"), running(0.6, "60 of 100 rows"), succeeded]), base.id, out, { logs: false });
    expect(task).toBe(succeeded);
    expect(lines()).toEqual([
      "2026-03-01T12:00:00.000Z PENDING attempt 0 of 3",
      "2026-03-01T12:00:01.000Z RUNNING attempt 1 of 3",
      "██████░░░░░░░░░░░░░░  30% 30 of 100 rows",
      "████████████░░░░░░░░  60% 60 of 100 rows",
      "████████████████████ 100% 60 of 100 rows",
      "2026-03-01T12:00:05.000Z SUCCEEDED attempt 1 of 3",
    ]);
  });

  it("leaves the bar where it stopped when the task failed, and starts a retry's bar from its own report", async () => {
    const { out, lines } = capture();
    const failedAt = new Date("2026-03-01T12:00:02Z");
    const failures = [{ attempt: 1, type: "Error", message: "boom", finishedAt: failedAt }];
    const retrying: Task = { ...running(0.5, "half"), state: "pending", failures };
    const second: Task = { ...running(0.5, "half"), attempt: 2, startedAt: new Date("2026-03-01T12:00:03Z"), failures };
    const failed: Task = { ...second, state: "failed", finishedAt, error: { type: "Error", message: "boom again" } };
    await followTask(scripted([running(0.5, "half"), retrying, second, failed]), base.id, out, { logs: false });
    expect(lines()).toEqual([
      "2026-03-01T12:00:01.000Z RUNNING attempt 1 of 3",
      "██████████░░░░░░░░░░  50% half",
      "2026-03-01T12:00:02.000Z PENDING attempt 1 of 3 (retry after Error: boom)",
      "2026-03-01T12:00:03.000Z RUNNING attempt 2 of 3", // attempt 1's report is not attempt 2's bar
      "2026-03-01T12:00:05.000Z FAILED attempt 2 of 3",
    ]);
  });

  it("prints the log lines, all before the final state line even when they come after the task ended", async () => {
    const { out, lines } = capture();
    let watchEnded!: () => void;
    const ended = new Promise<void>((resolve) => (watchEnded = resolve));
    const client = scripted([], [entry(1, "first"), entry(2, "second")], ended);
    const succeeded: Task = { ...running(1, "done"), state: "succeeded", finishedAt };
    (client as unknown as { watchTask: () => AsyncGenerator<Task> }).watchTask = async function* () {
      try {
        yield running(1, "done");
        yield succeeded;
      } finally {
        watchEnded(); // followTask has the final task: only now do the log lines come
      }
    };
    await followTask(client, base.id, out, { logs: true });
    expect(lines().map((line) => line.replace(/^\s+(\d) \S+ INFO\s+/, "$1 "))).toEqual([
      "2026-03-01T12:00:01.000Z RUNNING attempt 1 of 3",
      "████████████████████ 100% done",
      "1 first",
      "2 second",
      "2026-03-01T12:00:05.000Z SUCCEEDED attempt 1 of 3",
    ]);
  });

  it("holds an attempt's log lines until its state line is shown, though the log stream is ahead", async () => {
    const { out, lines } = capture();
    let firstShown!: () => void;
    const shown = new Promise<void>((resolve) => (firstShown = resolve));
    const second: Task = { ...running(0, ""), attempt: 2, progress: undefined, startedAt: new Date("2026-03-01T12:00:03Z") };
    const failed: Task = { ...second, state: "failed", finishedAt };
    const client = {
      async *watchTask() {
        await shown; // the log stream has sent attempt 1's and 2's lines by now
        yield running(0.5, "half");
        yield { ...running(0.5, "half"), state: "pending", attempt: 1 };
        yield second;
        yield failed;
      },
      async *streamLogs() {
        yield entry(1, "one");
        yield entry(2, "two", 2);
        firstShown();
      },
    } as unknown as FollowClient;
    await followTask(client, base.id, out, { logs: true });
    expect(lines().filter((line) => !line.startsWith("█")).map((line) => line.replace(/^\s+(\d) \S+ INFO\s+/, "$1 ").replace(/ \(.*/, ""))).toEqual([
      "2026-03-01T12:00:01.000Z RUNNING attempt 1 of 3",
      "1 one",
      "2026-03-01T12:00:00.000Z PENDING attempt 1 of 3",
      "2026-03-01T12:00:03.000Z RUNNING attempt 2 of 3",
      "2 two",
      "2026-03-01T12:00:05.000Z FAILED attempt 2 of 3",
    ]);
  });

  it("stops watching and throws when the log stream fails", async () => {
    const { out } = capture();
    let watchStopped = false;
    const client = {
      async *watchTask(_id: string, options: { signal: AbortSignal }) {
        yield running(0.1, "started");
        await new Promise((resolve) => options.signal.addEventListener("abort", resolve, { once: true }));
        watchStopped = true;
      },
      // eslint-disable-next-line require-yield
      async *streamLogs() {
        throw new Error("log stream broke");
      },
    } as unknown as FollowClient;
    await expect(followTask(client, base.id, out, { logs: true })).rejects.toThrow("log stream broke");
    await expect.poll(() => watchStopped).toBe(true);
  });
});

// The `spool` command's rendering, without a service: a fake output stream records what a
// terminal (isTTY) or a pipe would get.
import { describe, expect, it } from "vitest";
import type { Task } from "../types.js";
import { cut, labelsText, Output, stateTime, taskDuration } from "./format.js";
import { taskFixture } from "../test-support/task-fixture.js";

const task = taskFixture;

/** An Output writing into a string, as a terminal (tty) or a pipe; no colour either way. */
function capture(tty: boolean) {
  const written: string[] = [];
  const out = new Output({ isTTY: tty, write: (text: string) => written.push(text) }, false);
  return { out, text: () => written.join("") };
}

const progress = (fraction: number, message: string, attempt = 1) => ({ fraction, message, attempt, updatedAt: new Date("2026-03-01T12:00:01Z") });

describe("cut", () => {
  it("keeps short text, and cuts long text to the width with an ellipsis", () => {
    expect(cut("short", 10)).toBe("short");
    expect(cut("exactly10!", 10)).toBe("exactly10!");
    expect(cut("a bit longer than ten", 10)).toBe("a bit lon…");
  });

  it("puts text on one line and never splits a character", () => {
    expect(cut("line one\n  line two\ttab", 100)).toBe("line one line two tab");
    expect(cut("😀😀😀😀", 3)).toBe("😀😀…");
  });
});

describe("labelsText", () => {
  it("prints k=v pairs sorted by key", () => {
    expect(labelsText({ team: "cli", env: "prod" })).toBe("env=prod,team=cli");
    expect(labelsText({})).toBe("");
  });
});

describe("taskDuration", () => {
  const startedAt = new Date("2026-03-01T12:00:10Z");
  it("is finished minus started for a task that ended", () => {
    expect(taskDuration(task({ state: "failed", startedAt, finishedAt: new Date("2026-03-01T12:00:11.200Z") }))).toBe(1200);
  });

  it("is now minus started while it runs", () => {
    expect(taskDuration(task({ state: "running", startedAt }), startedAt.getTime() + 184_000)).toBe(184_000);
  });

  it("is undefined for a task that never ran, or waits to retry", () => {
    expect(taskDuration(task())).toBeUndefined();
    expect(taskDuration(task({ state: "pending", attempt: 1, startedAt }))).toBeUndefined();
  });
});

describe("stateTime", () => {
  const createdAt = new Date("2026-03-01T12:00:00Z");
  const startedAt = new Date("2026-03-01T12:00:01Z");
  const failedAt = new Date("2026-03-01T12:00:02Z");
  const finishedAt = new Date("2026-03-01T12:00:09Z");
  const failures = [{ attempt: 1, type: "Error", message: "boom", finishedAt: failedAt }];

  it("is the service's time of the task's current state", () => {
    expect(stateTime(task({ createdAt }))).toBe(createdAt);
    expect(stateTime(task({ createdAt, state: "running", attempt: 1, startedAt }))).toBe(startedAt);
    expect(stateTime(task({ createdAt, state: "pending", attempt: 1, startedAt, failures }))).toBe(failedAt);
    expect(stateTime(task({ createdAt, state: "succeeded", attempt: 2, startedAt, failures, finishedAt }))).toBe(finishedAt);
  });
});

describe("Output", () => {
  it("prints a state line with the service's time, and why a retry waits", () => {
    const { out, text } = capture(false);
    const failedAt = new Date("2026-03-01T12:00:02Z");
    out.stateLine(task({ state: "running", attempt: 1, startedAt: new Date("2026-03-01T12:00:01Z") }));
    out.stateLine(task({ state: "pending", attempt: 1, failures: [{ attempt: 1, type: "TypeError", message: "x is undefined", finishedAt: failedAt }] }));
    expect(text()).toBe(
      "2026-03-01T12:00:01.000Z RUNNING attempt 1 of 3\n" + "2026-03-01T12:00:02.000Z PENDING attempt 1 of 3 (retry after TypeError: x is undefined)\n",
    );
  });

  it("prints the outcome: state, attempt, and the error if any", () => {
    const { out, text } = capture(false);
    out.outcome(task({ state: "succeeded", attempt: 1 }));
    out.outcome(task({ state: "failed", attempt: 3, error: { type: "Error", message: "it broke" } }));
    expect(text()).toBe("SUCCEEDED (attempt 1 of 3)\nFAILED (attempt 3 of 3) Error: it broke\n");
  });

  it("marks an attempt", () => {
    const { out, text } = capture(false);
    out.attemptHeader(2);
    expect(text()).toBe("── attempt 2 ──\n");
  });

  it("in a pipe prints each progress change as a line, never the same twice in a row", () => {
    const { out, text } = capture(false);
    out.progress(progress(0.5, "half"));
    out.progress(progress(0.5, "half"));
    out.line("a log line");
    out.progress(progress(0.5, "half"), 1);
    out.endStatus();
    out.endStatus();
    out.line("after");
    expect(text().split("\n")).toEqual([
      "██████████░░░░░░░░░░  50% half",
      "a log line",
      "████████████████████ 100% half",
      "after",
      "",
    ]);
  });

  it("on a terminal rewrites the bar in place and prints lines above it", () => {
    const { out, text } = capture(true);
    out.progress(progress(0.25, "a quarter"));
    out.progress(progress(0.5, "half"));
    out.line("a log line");
    out.endStatus();
    out.line("done");
    expect(text()).toBe(
      `\r\x1b[2K█████░░░░░░░░░░░░░░░  25% a quarter` +
        `\r\x1b[2K██████████░░░░░░░░░░  50% half` +
        `\r\x1b[2Ka log line\n██████████░░░░░░░░░░  50% half` +
        "\n" +
        "done\n",
    );
  });

  it("lists tasks with duration, labels and a cut error", () => {
    const { out, text } = capture(false);
    const startedAt = new Date("2026-03-01T12:00:01Z");
    out.taskTable([
      task({
        state: "failed",
        attempt: 3,
        labels: { team: "cli", env: "prod" },
        startedAt,
        finishedAt: new Date(startedAt.getTime() + 1234),
        error: { type: "Error", message: `${"x".repeat(100)}` },
      }),
      task({ id: "01a20392-cd00-7774-b068-0f78454a8d15", state: "running", attempt: 1, startedAt, progress: progress(0.5, "half") }),
    ], startedAt.getTime() + 184_000);
    const [header, failed, running] = text().trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+KIND\s+STATE\s+ATTEMPT\s+QUEUE\s+CREATED\s+DURATION\s+PROGRESS\s+LABELS\s+ERROR$/);
    expect(failed).toMatch(/FAILED\s+3\/3\s+default\s+\S+\s+1\.2s\s+env=prod,team=cli\s+Error: x{52}…$/);
    expect(running).toMatch(/RUNNING\s+1\/3\s+default\s+\S+\s+3m4s\s+50% half$/);
  });
});

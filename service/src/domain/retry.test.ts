// Which tasks RetryTask takes, and what the new task copies from the old one.
import { defaultBackoff } from "@spool/proto";
import { describe, expect, it } from "vitest";
import { SpoolError } from "../errors.js";
import { retryOf } from "./retry.js";
import { taskStates, type Task, type TaskState } from "./task.js";

const old: Task = {
  id: "01890000-0000-7000-8000-000000000001",
  kind: "email.send",
  queue: "mail",
  state: "failed",
  priority: 7,
  input: { to: "ada@example.com" },
  result: null,
  error: { type: "Error", message: "smtp down" },
  failures: [{ attempt: 2, type: "Error", message: "smtp down", at: "2026-01-01T00:00:00Z" }],
  progress: null,
  attempt: 2,
  maxAttempts: 2,
  timeoutMs: 60_000,
  idempotencyKey: "send-1",
  labels: { team: "growth" },
  cancelRequested: false,
  tenant: "acme",
  createdBy: "alice",
  schedule: "nightly",
  scheduledFor: new Date("2026-01-01T00:00:00Z"),
  concurrencyKey: "customer-9",
  retryOf: null,
  traceId: null,
  backoff: { ...defaultBackoff, baseMs: 5000 },
  createdAt: new Date("2026-01-01T00:00:00Z"),
  runAt: new Date("2026-01-01T00:00:00Z"),
  startedAt: new Date("2026-01-01T00:00:01Z"),
  finishedAt: new Date("2026-01-01T00:00:02Z"),
};
const kinds = new Set(["email.send"]);

describe("retryOf", () => {
  it("copies what the task is, not what happened to it, nor its idempotency key or tick", () => {
    expect(retryOf(old, "olga", kinds)).toEqual({
      kind: "email.send",
      input: { to: "ada@example.com" },
      queue: "mail",
      priority: 7,
      runAt: undefined,
      maxAttempts: 2,
      timeoutMs: 60_000,
      idempotencyKey: undefined,
      labels: { team: "growth" },
      concurrencyKey: "customer-9",
      backoff: { ...defaultBackoff, baseMs: 5000 },
      schedule: "nightly",
      retryOf: old.id,
      tenant: "acme",
      createdBy: "olga",
    });
  });

  it("takes FAILED, CANCELLED and DROPPED tasks; refuses the others, naming the state and why", () => {
    const outcomes = Object.fromEntries(
      taskStates.map((state: TaskState) => {
        try {
          return [state, retryOf({ ...old, state }, "alice", kinds).retryOf];
        } catch (error) {
          expect(error).toBeInstanceOf(SpoolError);
          expect((error as SpoolError).code).toBe("failed_precondition");
          return [state, (error as SpoolError).message];
        }
      }),
    );
    const refusal = (state: string, why: string) =>
      `task ${old.id} is ${state}: only a FAILED, CANCELLED or DROPPED task can be retried (${why})`;
    expect(outcomes).toEqual({
      pending: refusal("PENDING", "it has not ended: cancel it first, or wait"),
      running: refusal("RUNNING", "it has not ended: cancel it first, or wait"),
      succeeded: refusal("SUCCEEDED", "it succeeded: create a new task to run it again"),
      failed: old.id,
      cancelled: old.id,
      dropped: old.id,
    });
  });

  it("refuses a task whose kind no loaded module defines", () => {
    expect(() => retryOf(old, "alice", new Set(["other.kind"]))).toThrow(
      `task ${old.id} is of kind "email.send", which no handler module loaded here defines`,
    );
  });
});

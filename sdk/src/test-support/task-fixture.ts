// A Task as the SDK returns it, for the CLI's rendering tests: pending, never run, with the
// given fields changed. Test support: not compiled into the package (sdk/tsconfig.json).
import { defaultBackoff } from "@spool/proto";
import type { Task } from "../types.js";

export function taskFixture(overrides: Partial<Task> = {}): Task {
  return {
    id: "01a20392-cd00-7774-b068-0f78454a8d14",
    kind: "demo.sleep",
    state: "pending",
    input: null,
    result: undefined,
    error: undefined,
    failures: [],
    progress: undefined,
    attempt: 0,
    maxAttempts: 3,
    queue: "default",
    priority: 0,
    labels: {},
    cancelRequested: false,
    timeoutMs: 900_000,
    idempotencyKey: undefined,
    tenant: "default",
    createdBy: "anonymous",
    schedule: undefined,
    scheduledFor: undefined,
    concurrencyKey: undefined,
    retryOf: undefined,
    traceId: undefined,
    backoff: { ...defaultBackoff },
    createdAt: new Date("2026-03-01T12:00:00Z"),
    runAt: new Date("2026-03-01T12:00:00Z"),
    startedAt: undefined,
    finishedAt: undefined,
    ...overrides,
  };
}

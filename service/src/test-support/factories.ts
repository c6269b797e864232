// Fixture factories with overridable defaults.
import { defaultBackoff } from "@spool/proto";
import { taskDefaults, type NewTask } from "../domain/task.js";

export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    kind: "demo.echo",
    input: null,
    queue: taskDefaults.queue,
    priority: 0,
    runAt: undefined,
    maxAttempts: taskDefaults.maxAttempts,
    timeoutMs: taskDefaults.timeoutMs,
    idempotencyKey: undefined,
    labels: {},
    concurrencyKey: undefined,
    backoff: { ...defaultBackoff },
    tenant: "default",
    createdBy: "anonymous",
    ...overrides,
  };
}

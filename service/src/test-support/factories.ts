// Fixture factories with overridable defaults.
import { defaultBackoff } from "@spool/proto";
import type { ScheduleSpec } from "../domain/schedule.js";
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

/** A schedule spec: every second (interval), a demo.echo task with the defaults. */
export function scheduleSpec(overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  const { runAt: _runAt, idempotencyKey: _key, tenant: _tenant, createdBy: _createdBy, ...task } = newTask();
  return { cron: undefined, intervalMs: 1000, timeZone: "UTC", task, catchUp: "skip", catchUpLimit: 0, ...overrides };
}

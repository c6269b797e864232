// Schedules as protobuf (the task mapping is in convert.ts).
import { backoffToPb, CatchUp as PbCatchUp, durationFromMs, timestampFromDate as ts, type Schedule as PbSchedule, type TaskTemplate } from "@spool/proto";
import type { CatchUp, Schedule } from "../domain/schedule.js";
import type { TaskFields } from "../domain/task.js";

const catchUpToPb: Record<CatchUp, PbCatchUp> = {
  skip: PbCatchUp.CATCH_UP_SKIP,
  once: PbCatchUp.CATCH_UP_ONCE,
  all: PbCatchUp.CATCH_UP_ALL,
};

export function scheduleToPb(schedule: Schedule): PbSchedule {
  return {
    name: schedule.name,
    cron: schedule.cron ?? "",
    interval: schedule.intervalMs === undefined ? undefined : durationFromMs(schedule.intervalMs),
    timeZone: schedule.timeZone,
    task: templateToPb(schedule.task),
    catchUp: catchUpToPb[schedule.catchUp],
    catchUpLimit: schedule.catchUpLimit,
    paused: schedule.paused,
    nextRunAt: schedule.nextRunAt ? ts(schedule.nextRunAt) : undefined,
    lastRunAt: schedule.lastRunAt ? ts(schedule.lastRunAt) : undefined,
    tenant: schedule.tenant,
    createdBy: schedule.createdBy,
    createdAt: ts(schedule.createdAt),
    updatedAt: ts(schedule.updatedAt),
  };
}

function templateToPb(task: TaskFields): TaskTemplate {
  return {
    kind: task.kind,
    input: task.input ?? undefined,
    queue: task.queue,
    priority: task.priority,
    maxAttempts: task.maxAttempts,
    timeout: durationFromMs(task.timeoutMs),
    labels: task.labels,
    concurrencyKey: task.concurrencyKey ?? "",
    backoff: backoffToPb(task.backoff),
  };
}

// Domain values to protobuf messages and back, for the few types that differ.
import { LogLevel, TaskState, type LogEntry, type Task as PbTask } from "@spool/proto";
import type { LogLine, Task, TaskState as DomainState } from "../domain/task.js";

const stateToPb: Record<DomainState, TaskState> = {
  pending: TaskState.TASK_STATE_PENDING,
  running: TaskState.TASK_STATE_RUNNING,
  succeeded: TaskState.TASK_STATE_SUCCEEDED,
  failed: TaskState.TASK_STATE_FAILED,
  cancelled: TaskState.TASK_STATE_CANCELLED,
  dropped: TaskState.TASK_STATE_DROPPED,
};

export const stateFromPb = new Map<number, DomainState>(
  Object.entries(stateToPb).map(([domain, pb]) => [pb, domain as DomainState]),
);

const levelToPb = {
  debug: LogLevel.LOG_LEVEL_DEBUG,
  info: LogLevel.LOG_LEVEL_INFO,
  warn: LogLevel.LOG_LEVEL_WARN,
  error: LogLevel.LOG_LEVEL_ERROR,
} as const;

export function durationFromMs(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function taskToPb(task: Task): PbTask {
  return {
    id: task.id,
    kind: task.kind,
    state: stateToPb[task.state],
    input: task.input ?? undefined,
    result: task.result ?? undefined,
    error: task.error
      ? { message: task.error.message, type: task.error.type, stack: task.error.stack ?? "" }
      : undefined,
    failures: task.failures.map((f) => ({ attempt: f.attempt, type: f.type, message: f.message, finishedAt: new Date(f.at) })),
    progress: task.progress
      ? { fraction: task.progress.fraction, message: task.progress.message, attempt: task.progress.attempt, updatedAt: new Date(task.progress.at) }
      : undefined,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    queue: task.queue,
    priority: task.priority,
    labels: task.labels,
    cancelRequested: task.cancelRequested,
    timeout: durationFromMs(task.timeoutMs),
    idempotencyKey: task.idempotencyKey ?? "",
    createdAt: task.createdAt,
    runAt: task.runAt,
    startedAt: task.startedAt ?? undefined,
    finishedAt: task.finishedAt ?? undefined,
  };
}

export function logLineToPb(line: LogLine): LogEntry {
  return { seq: line.seq, time: line.time, level: levelToPb[line.level], message: line.message, attempt: line.attempt };
}

// Domain values to protobuf messages, for the few types that differ. The state, level and
// duration mappings themselves are shared with the SDK (@spool/proto's convert.ts).
import { durationFromMs, levelToPb, stateToPb, timestampFromDate as ts, type LogEntry, type Task as PbTask } from "@spool/proto";
import type { LogLine, Task } from "../domain/task.js";

export function taskToPb(task: Task): PbTask {
  return {
    id: task.id,
    kind: task.kind,
    state: stateToPb(task.state),
    input: task.input ?? undefined,
    result: task.result ?? undefined,
    error: task.error
      ? { message: task.error.message, type: task.error.type, stack: task.error.stack ?? "" }
      : undefined,
    failures: task.failures.map((f) => ({ attempt: f.attempt, type: f.type, message: f.message, finishedAt: ts(new Date(f.at)) })),
    progress: task.progress
      ? { fraction: task.progress.fraction, message: task.progress.message, attempt: task.progress.attempt, updatedAt: ts(new Date(task.progress.at)) }
      : undefined,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    queue: task.queue,
    priority: task.priority,
    labels: task.labels,
    cancelRequested: task.cancelRequested,
    timeout: durationFromMs(task.timeoutMs),
    idempotencyKey: task.idempotencyKey ?? "",
    createdAt: ts(task.createdAt),
    runAt: ts(task.runAt),
    startedAt: task.startedAt ? ts(task.startedAt) : undefined,
    finishedAt: task.finishedAt ? ts(task.finishedAt) : undefined,
  };
}

export function logLineToPb(line: LogLine): LogEntry {
  return { seq: BigInt(line.seq), time: ts(line.time), level: levelToPb(line.level), message: line.message, attempt: line.attempt };
}

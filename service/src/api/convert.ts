// Domain values to protobuf messages, for the few types that differ. The state, level and
// duration mappings themselves are shared with the SDK (@spool/proto's convert.ts).
import { backoffToPb, durationFromMs, levelToPb, stateToPb, timestampFromDate as ts, type LogEntry, type Task as PbTask } from "@spool/proto";
import { failureTypes, type LogLine, type Task, type TaskError } from "../domain/task.js";

/**
 * A task as protobuf. Without `serverDetails` (callers below the operator role, see
 * auth/access.ts) what describes the server is left out: the stack, which names its files,
 * and the replica (host and pid) named by a lease failure.
 */
export function taskToPb(task: Task, serverDetails = true): PbTask {
  const message = (type: string, text: string) => (serverDetails || type !== failureTypes.leaseExpired ? text : leaseExpiredForSubmitters);
  return {
    id: task.id,
    kind: task.kind,
    state: stateToPb(task.state),
    input: task.input ?? undefined,
    result: task.result ?? undefined,
    error: task.error ? errorToPb(task.error, serverDetails) : undefined,
    failures: task.failures.map((f) => ({ attempt: f.attempt, type: f.type, message: message(f.type, f.message), finishedAt: ts(new Date(f.at)) })),
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
    tenant: task.tenant,
    createdBy: task.createdBy,
    schedule: task.schedule ?? "",
    scheduledFor: task.scheduledFor ? ts(task.scheduledFor) : undefined,
    concurrencyKey: task.concurrencyKey ?? "",
    retryOf: task.retryOf ?? "",
    traceId: task.traceId ?? "",
    backoff: backoffToPb(task.backoff),
  };
}

const leaseExpiredForSubmitters = "the replica running the attempt stopped renewing its lease";

function errorToPb(error: TaskError, serverDetails: boolean) {
  if (serverDetails) return { message: error.message, type: error.type, stack: error.stack ?? "" };
  const message = error.type === failureTypes.leaseExpired ? leaseExpiredForSubmitters : error.message;
  return { message, type: error.type, stack: "" };
}

export function logLineToPb(line: LogLine): LogEntry {
  return {
    seq: BigInt(line.seq),
    time: ts(line.time),
    level: levelToPb(line.level),
    message: line.message,
    attempt: line.attempt,
    traceId: line.traceId ?? "",
    spanId: line.spanId ?? "",
  };
}

// The service's messages as the SDK's own types, and back: shared by SpoolClient and its
// sub-clients (schedules.ts).
import {
  backoffFromPb,
  dateFromTimestamp,
  defaultBackoff,
  durationFromMs,
  msFromDuration,
  stateFromPb,
  type PbBackoff,
  type Task as PbTask,
  type Timestamp,
} from "@spool/proto";
import { SpoolError } from "./errors.js";
import type { Backoff, Task } from "./types.js";

export function taskFromPb(task: PbTask | undefined): Task {
  if (!task) throw new SpoolError("internal", "response carries no task", 13);
  return {
    id: task.id,
    kind: task.kind,
    state: stateFromPb(task.state) ?? "pending",
    input: task.input ?? null,
    result: task.result ?? undefined,
    error: task.error ? { message: task.error.message, type: task.error.type, stack: task.error.stack || undefined } : undefined,
    failures: task.failures.map((f) => ({ attempt: f.attempt, type: f.type, message: f.message, finishedAt: dateOf(f.finishedAt) })),
    progress: task.progress
      ? { fraction: task.progress.fraction, message: task.progress.message, attempt: task.progress.attempt, updatedAt: dateOf(task.progress.updatedAt) }
      : undefined,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    queue: task.queue,
    priority: task.priority,
    labels: task.labels,
    cancelRequested: task.cancelRequested,
    timeoutMs: task.timeout ? msFromDuration(task.timeout) : 0,
    idempotencyKey: task.idempotencyKey || undefined,
    tenant: task.tenant,
    createdBy: task.createdBy,
    schedule: task.schedule || undefined,
    scheduledFor: task.scheduledFor && dateOf(task.scheduledFor),
    concurrencyKey: task.concurrencyKey || undefined,
    retryOf: task.retryOf || undefined,
    traceId: task.traceId || undefined,
    backoff: backoffOf(task.backoff),
    createdAt: dateOf(task.createdAt),
    runAt: dateOf(task.runAt),
    startedAt: task.startedAt && dateOf(task.startedAt),
    finishedAt: task.finishedAt && dateOf(task.finishedAt),
  };
}

/** A backoff as the service resolved it: its fields over the defaults. */
export function backoffOf(backoff: PbBackoff | undefined): Backoff {
  return { ...defaultBackoff, ...backoffFromPb(backoff) };
}

/** The fields of a backoff a caller set, as a Backoff message (unset: the kind's, else the defaults). */
export function backoffSpecToPb(backoff: Partial<Backoff> | undefined): PbBackoff | undefined {
  return (
    backoff && {
      base: backoff.baseMs === undefined ? undefined : durationFromMs(backoff.baseMs),
      factor: backoff.factor ?? 0,
      max: backoff.maxMs === undefined ? undefined : durationFromMs(backoff.maxMs),
      jitter: backoff.jitter,
    }
  );
}

/** A timestamp from the service as a Date (the epoch if it sent none or a malformed one). */
export function dateOf(timestamp: Timestamp | undefined): Date {
  return (timestamp && dateFromTimestamp(timestamp)) ?? new Date(0);
}

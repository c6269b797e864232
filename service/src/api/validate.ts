// Request validation: protobuf requests become domain values, or a SpoolError
// (INVALID_ARGUMENT) whose message names the field and what is wrong with it.
import { createHash } from "node:crypto";
import {
  backoffFromPb,
  backoffLimits,
  msFromDuration,
  resolveBackoff,
  type Backoff,
  type PbBackoff,
  safeNumber,
  stateFromPb,
  taskStateNames,
  TaskState as PbTaskState,
  TaskView as PbTaskView,
  type CreateTaskRequest,
  type Duration,
  type ListTasksRequest,
  type StreamLogsRequest,
  type Timestamp,
  dateFromTimestamp,
} from "@spool/proto";
import { findJsonProblem, hasUnstorableText } from "../domain/json-values.js";
import type { LogStreamRequest } from "../domain/operations.js";
import { queueNamePattern, taskDefaults, type TaskFields, type TaskFilter, type TaskRequest, type TaskState, type TaskView } from "../domain/task.js";
import { scopedFilter } from "../auth/access.js";
import { limits as nameLimits } from "../auth/names.js";
import type { Principal } from "../auth/principal.js";
import { quote, quoteKey, SpoolError } from "../errors.js";
import { isTaskId } from "../domain/task-id.js";

export const limits = {
  inputBytes: 1024 * 1024,
  kindLength: 200,
  idempotencyKeyLength: 200,
  concurrencyKeyLength: 200,
  scheduleNameLength: 200,
  maxBackoffBaseMs: backoffLimits.maxBaseMs,
  maxBackoffMaxMs: backoffLimits.maxMaxMs,
  maxBackoffFactor: backoffLimits.maxFactor,
  labels: 32,
  labelValueLength: 255,
  priority: 1000,
  maxAttempts: 100,
  minTimeoutMs: 1000,
  maxTimeoutMs: 24 * 3600_000,
  reasonLength: 1000,
  tasksPerCall: 1000,
  /** Inputs of one CreateTasks call, together: the reply carries them back, and must fit 4 MiB. */
  inputBytesPerCall: 3 * 1024 * 1024,
  pageSize: 1000,
  defaultPageSize: 50,
  kindsPerFilter: 100,
  pageTokenLength: 200,
} as const;

const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

const invalid = SpoolError.invalidArgument;

/** Postgres stores no NUL character in text or jsonb: refused here, so it never fails a batch. */
export function refuseNul(field: string, text: string): void {
  if (hasUnstorableText(text)) throw invalid(field, "must not contain a NUL character or an unpaired surrogate");
}

/** A timestamp a caller sent, to the millisecond: refused unless a valid protobuf Timestamp. */
export function validTime(field: string, time: Timestamp | undefined): Date | undefined {
  if (time === undefined) return undefined;
  if (time.nanos < 0 || time.nanos > 999_999_999) throw invalid(field, `nanos ${time.nanos} is out of range 0..999999999`);
  const date = dateFromTimestamp(time);
  if (!date) throw invalid(field, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z");
  return date;
}

function validKind(field: string, kind: string, kinds: ReadonlySet<string>): string {
  if (!kind) throw invalid(field, "is required");
  if (!kinds.has(kind)) {
    const known = [...kinds].sort();
    const shown = known.length > 20 ? `${known.slice(0, 20).join(", ")}, ... (${known.length} in all)` : known.join(", ");
    throw invalid(field, `unknown kind ${quote(kind)}; registered kinds: ${shown}`);
  }
  return kind;
}

/** The input as stored: any JSON value within the size and depth limits (json-values.ts). */
function validInput(field: string, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const problem = findJsonProblem(value);
  if (problem) throw invalid(`${field}${problem.path}`, problem.problem);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > limits.inputBytes) throw invalid(field, `is ${bytes} bytes as JSON; at most ${limits.inputBytes}`);
  return value;
}

/** The timeout in whole ms; checked exactly, in nanoseconds (24 h + 1 ns is over the limit). */
/** A request's `tenant` field (empty: the caller's own): no NUL, at most the tenant length. */
export function tenantFieldFrom(tenant: string): string {
  refuseNul("tenant", tenant);
  if (tenant.length > nameLimits.tenantLength) throw invalid("tenant", `is ${tenant.length} characters; at most ${nameLimits.tenantLength}`);
  return tenant;
}

/** A queue's name, as CreateTask and QueueService take it. */
export function validQueueName(field: string, name: string): string {
  if (!queueNamePattern.test(name)) throw invalid(field, `${quote(name)} must be 1 to 64 letters, digits, '.', '_' or '-'`);
  return name;
}

/**
 * A duration in whole ms (sub-ms nanos dropped) from minMs to maxMs; else INVALID_ARGUMENT
 * naming `field` with `range` ("must be from ..."). Negative or malformed durations too.
 */
export function durationMsIn(field: string, duration: Duration, minMs: number, maxMs: number, range: string): number {
  const { seconds, nanos } = duration;
  if (seconds < 0n || nanos < 0 || nanos >= 1e9 || seconds > BigInt(Math.floor(maxMs / 1000))) throw invalid(field, range);
  const ms = msFromDuration(duration);
  if (ms < minMs || ms > maxMs) throw invalid(field, range);
  return ms;
}

function validTimeout(field: string, duration: Duration | undefined): number {
  if (!duration) return taskDefaults.timeoutMs;
  const { seconds, nanos } = duration;
  if (nanos <= -1e9 || nanos >= 1e9 || (seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) {
    throw invalid(field, "is not a valid duration (nanos out of range or of the wrong sign)");
  }
  const totalNanos = seconds * 1_000_000_000n + BigInt(nanos);
  if (totalNanos < BigInt(limits.minTimeoutMs) * 1_000_000n || totalNanos > BigInt(limits.maxTimeoutMs) * 1_000_000n) {
    throw invalid(field, "must be from 1s to 24h");
  }
  return msFromDuration(duration);
}

/** The backoff of a task of this kind that sets none (TaskOperations.kindBackoff). */
export type KindBackoff = (kind: string) => Backoff;

/** The fields a CreateTaskRequest shares with a schedule's TaskTemplate. */
export type TaskFieldsPb = Pick<
  CreateTaskRequest,
  "kind" | "input" | "queue" | "priority" | "maxAttempts" | "timeout" | "labels" | "concurrencyKey" | "backoff"
>;

/**
 * The shared fields of a task, validated with CreateTask's rules and defaults; `prefix` goes
 * before each field name in errors (`schedule.task.` for a schedule's template).
 */
export function taskFieldsFromPb(request: TaskFieldsPb, kinds: ReadonlySet<string>, kindBackoff: KindBackoff, prefix = ""): TaskFields {
  const kind = validKind(`${prefix}kind`, request.kind, kinds);
  const input = validInput(`${prefix}input`, request.input);
  const queue = validQueueName(`${prefix}queue`, request.queue || taskDefaults.queue);
  if (Math.abs(request.priority) > limits.priority) {
    throw invalid(`${prefix}priority`, `${request.priority} is out of range ${-limits.priority}..${limits.priority}`);
  }
  const maxAttempts = request.maxAttempts || taskDefaults.maxAttempts;
  if (maxAttempts < 1 || maxAttempts > limits.maxAttempts) {
    throw invalid(`${prefix}max_attempts`, `${maxAttempts} is out of range 1..${limits.maxAttempts}`);
  }
  const timeoutMs = validTimeout(`${prefix}timeout`, request.timeout);
  refuseNul(`${prefix}concurrency_key`, request.concurrencyKey);
  if (request.concurrencyKey.length > limits.concurrencyKeyLength) {
    throw invalid(`${prefix}concurrency_key`, `is ${request.concurrencyKey.length} characters; at most ${limits.concurrencyKeyLength}`);
  }
  return {
    kind,
    input,
    queue,
    priority: request.priority,
    maxAttempts,
    timeoutMs,
    labels: validLabels(`${prefix}labels`, request.labels),
    concurrencyKey: request.concurrencyKey || undefined,
    backoff: validBackoff(`${prefix}backoff`, request.backoff, kindBackoff(kind)),
  };
}

export function newTaskFromPb(request: CreateTaskRequest, kinds: ReadonlySet<string>, kindBackoff: KindBackoff): TaskRequest {
  const fields = taskFieldsFromPb(request, kinds, kindBackoff);
  const runAt = validTime("run_at", request.runAt);
  refuseNul("idempotency_key", request.idempotencyKey);
  if (request.idempotencyKey.length > limits.idempotencyKeyLength) {
    throw invalid("idempotency_key", `is ${request.idempotencyKey.length} characters; at most ${limits.idempotencyKeyLength}`);
  }
  return { ...fields, runAt, idempotencyKey: request.idempotencyKey || undefined };
}

/**
 * A Backoff message: the fields it sets, each in range, over `under` (the kind's backoff,
 * itself the kind's fields over the defaults). A factor of 0 is unset (below 1 is refused
 * anyway); jitter has presence, so a jitter of 0 is 0.
 */
export function validBackoff(field: string, backoff: PbBackoff | undefined, under: Backoff): Backoff {
  const given = backoff ?? { base: undefined, factor: 0, max: undefined, jitter: undefined };
  const durationMs = (name: string, duration: Duration | undefined, maxMs: number) =>
    duration && durationMsIn(`${field}.${name}`, duration, 0, maxMs, `must be from 0s to ${maxMs / 1000}s`);
  const baseMs = durationMs("base", given.base, limits.maxBackoffBaseMs);
  const maxMs = durationMs("max", given.max, limits.maxBackoffMaxMs);
  if (!Number.isFinite(given.factor) || (given.factor !== 0 && (given.factor < 1 || given.factor > limits.maxBackoffFactor))) {
    throw invalid(`${field}.factor`, `${given.factor} is out of range 1..${limits.maxBackoffFactor}`);
  }
  if (given.jitter !== undefined && (!Number.isFinite(given.jitter) || given.jitter < 0 || given.jitter > 1)) {
    throw invalid(`${field}.jitter`, `${given.jitter} is out of range 0..1`);
  }
  const resolved = resolveBackoff(backoffFromPb(given), under);
  if (resolved.maxMs < resolved.baseMs) {
    const from = maxMs === undefined ? " (the kind's or the default max: set max too)" : "";
    throw invalid(`${field}.max`, `${resolved.maxMs / 1000}s is less than base (${resolved.baseMs / 1000}s)${from}`);
  }
  return resolved;
}

export function newTasksFromPb(requests: CreateTaskRequest[], kinds: ReadonlySet<string>, kindBackoff: KindBackoff): TaskRequest[] {
  if (requests.length === 0 || requests.length > limits.tasksPerCall) {
    throw invalid("tasks", `holds ${requests.length} tasks; 1 to ${limits.tasksPerCall} per call`);
  }
  const tasks = requests.map((request, i) => {
    try {
      return newTaskFromPb(request, kinds, kindBackoff);
    } catch (error) {
      if (error instanceof SpoolError) throw new SpoolError(error.code, `tasks[${i}].${error.message}`);
      throw error;
    }
  });
  const inputBytes = tasks.reduce((sum, task) => sum + (task.input === null ? 0 : Buffer.byteLength(JSON.stringify(task.input))), 0);
  if (inputBytes > limits.inputBytesPerCall) {
    throw invalid("tasks", `inputs total ${inputBytes} bytes as JSON; at most ${limits.inputBytesPerCall} per call (the reply carries them back): split the call`);
  }
  return tasks;
}

function validLabels(field: string, labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > limits.labels) throw invalid(field, `has ${entries.length} labels; at most ${limits.labels}`);
  for (const [key, value] of entries) {
    const at = `${field}[${quoteKey(key)}]`;
    if (!labelKeyPattern.test(key)) {
      throw invalid(at, "key must start with a letter or digit and hold at most 63 letters, digits, '.', '_', '/' or '-'");
    }
    refuseNul(at, value);
    if (value.length > limits.labelValueLength) {
      throw invalid(at, `value is ${value.length} characters; at most ${limits.labelValueLength}`);
    }
  }
  return labels;
}

export function taskIdFrom(field: string, value: string): string {
  if (!value) throw invalid(field, "is required");
  if (!isTaskId(value)) throw invalid(field, `${quote(value)} is not a task id (a UUID)`);
  return value.toLowerCase();
}

export function cancelReasonFrom(reason: string): string {
  refuseNul("reason", reason);
  if (reason.length > limits.reasonLength) {
    throw invalid("reason", `is ${reason.length} characters; at most ${limits.reasonLength}`);
  }
  return reason || "cancelled by request";
}

/** Most lines StreamLogs' `tail` may ask for. */
export const maxLogTail = 100_000;

export function logRequestFrom(request: StreamLogsRequest): LogStreamRequest {
  const afterSeq = safeNumber(request.afterSeq);
  if (afterSeq === undefined || afterSeq < 0) {
    throw invalid("after_seq", `${request.afterSeq} is out of range 0..${Number.MAX_SAFE_INTEGER}`);
  }
  if (!Number.isInteger(request.tail) || request.tail < 0 || request.tail > maxLogTail) {
    throw invalid("tail", `${request.tail} is out of range 0..${maxLogTail}`);
  }
  return { taskId: taskIdFrom("task_id", request.taskId), afterSeq, follow: request.follow, tail: request.tail };
}

export interface ListQuery {
  filter: TaskFilter;
  beforeId: string | undefined;
  limit: number;
  view: TaskView;
  /** Identifies the filter inside page tokens. */
  filterHash: string;
}

/**
 * A ListTasks request as a query, scoped to what `principal` may list (auth/access.ts): the
 * page token binds the scoped filter, so it cannot carry a page over to another scope.
 */
export function listQueryFrom(request: ListTasksRequest, principal: Principal): ListQuery {
  const states = request.states.map((state, i): TaskState => {
    const domain = stateFromPb(state);
    if (!domain) throw invalid(`states[${i}]`, `${PbTaskState[state] ?? state} is not a state to filter on`);
    return domain;
  });
  if (states.length > taskStateNames.length) {
    throw invalid("states", `holds ${states.length} states; there are ${taskStateNames.length}`);
  }
  if (request.queue && !queueNamePattern.test(request.queue)) {
    throw invalid("queue", `${quote(request.queue)} must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  if (request.kinds.length > limits.kindsPerFilter) {
    throw invalid("kinds", `holds ${request.kinds.length} kinds; at most ${limits.kindsPerFilter}`);
  }
  request.kinds.forEach((kind, i) => {
    if (!kind) throw invalid(`kinds[${i}]`, "is empty");
    if (kind.length > limits.kindLength) throw invalid(`kinds[${i}]`, `is ${kind.length} characters; at most ${limits.kindLength}`);
    refuseNul(`kinds[${i}]`, kind);
  });
  const createdAfter = validTime("created_after", request.createdAfter);
  const createdBefore = validTime("created_before", request.createdBefore);
  if (request.pageSize < 0 || request.pageSize > limits.pageSize) {
    throw invalid("page_size", `${request.pageSize} is out of range 1..${limits.pageSize}`);
  }
  tenantFieldFrom(request.tenant);
  refuseNul("schedule", request.schedule);
  if (request.schedule.length > limits.scheduleNameLength) {
    throw invalid("schedule", `is ${request.schedule.length} characters; at most ${limits.scheduleNameLength}`);
  }
  refuseNul("created_by", request.createdBy);
  if (request.createdBy.length > nameLimits.subjectLength) {
    throw invalid("created_by", `is ${request.createdBy.length} characters; at most ${nameLimits.subjectLength}`);
  }
  const filter: TaskFilter = scopedFilter(principal, {
    states,
    kinds: request.kinds,
    queue: request.queue || undefined,
    labels: validLabels("labels", request.labels),
    createdAfter,
    createdBefore,
    tenant: request.tenant || undefined,
    createdBy: request.createdBy || undefined,
    schedule: request.schedule || undefined,
  });
  const view = viewFrom(request.view);
  const filterHash = hashFilter(filter);
  return {
    filter,
    beforeId: request.pageToken ? parsePageToken(request.pageToken, filterHash) : undefined,
    limit: request.pageSize || limits.defaultPageSize,
    view,
    filterHash,
  };
}

function viewFrom(view: PbTaskView): TaskView {
  switch (view) {
    case PbTaskView.TASK_VIEW_UNSPECIFIED:
    case PbTaskView.TASK_VIEW_BASIC:
      return "basic";
    case PbTaskView.TASK_VIEW_FULL:
      return "full";
    default:
      throw invalid("view", `${view} is not a TaskView`);
  }
}

function hashFilter(filter: TaskFilter): string {
  const canonical = JSON.stringify([
    [...filter.states].sort(),
    [...filter.kinds].sort(),
    filter.queue ?? null,
    Object.entries(filter.labels).sort(),
    filter.createdAfter?.getTime() ?? null,
    filter.createdBefore?.getTime() ?? null,
    filter.tenant ?? null,
    filter.createdBy ?? null,
    // Only when set, so that tokens issued before schedules existed stay valid.
    ...(filter.schedule === undefined ? [] : [filter.schedule]),
  ]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 12);
}

export function pageTokenFor(lastId: string, filterHash: string): string {
  return Buffer.from(`${lastId}.${filterHash}`).toString("base64url");
}

function parsePageToken(token: string, filterHash: string): string {
  if (token.length > limits.pageTokenLength) throw invalid("page_token", "is not a token this service issued");
  const [id, hash] = Buffer.from(token, "base64url").toString().split(".");
  if (!id || !isTaskId(id)) throw invalid("page_token", "is not a token this service issued");
  if (hash !== filterHash) throw invalid("page_token", "was issued for other filters; start again without it");
  return id;
}

// Request validation: protobuf requests become domain values, or a SpoolError
// (INVALID_ARGUMENT) whose message names the field and what is wrong with it.
import { createHash } from "node:crypto";
import { TaskState as PbTaskState, type CreateTaskRequest, type ListTasksRequest, type StreamLogsRequest } from "@spool/proto";
import { taskDefaults, type NewTask, type TaskFilter, type TaskState } from "../domain/task.js";
import { SpoolError } from "../errors.js";
import { isTaskId } from "../store/task-id.js";
import { stateFromPb } from "./convert.js";

export const limits = {
  inputBytes: 1024 * 1024,
  idempotencyKeyLength: 200,
  labels: 32,
  labelValueLength: 255,
  priority: 1000,
  maxAttempts: 100,
  minTimeoutMs: 1000,
  maxTimeoutMs: 24 * 3600_000,
  reasonLength: 1000,
  tasksPerCall: 1000,
  pageSize: 1000,
  defaultPageSize: 50,
} as const;

const queuePattern = /^[A-Za-z0-9._-]{1,64}$/;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

const invalid = SpoolError.invalidArgument;

/** Postgres stores no NUL character in text or jsonb: refused here, so it never fails a batch. */
function refuseNul(field: string, text: string): void {
  if (text.includes("\u0000")) throw invalid(field, "must not contain the NUL character (\\u0000)");
}

/** True if a string (value or key) anywhere in the JSON value holds a NUL character. */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(holdsNul);
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).some(([key, item]) => key.includes("\u0000") || holdsNul(item));
  }
  return false;
}

export function newTaskFromPb(request: CreateTaskRequest, kinds: ReadonlySet<string>): NewTask {
  if (!request.kind) throw invalid("kind", "is required");
  if (!kinds.has(request.kind)) {
    throw invalid("kind", `unknown kind "${request.kind}"; registered kinds: ${[...kinds].sort().join(", ")}`);
  }
  const inputJson = request.input === undefined ? "" : JSON.stringify(request.input);
  const inputBytes = Buffer.byteLength(inputJson);
  if (inputBytes > limits.inputBytes) {
    throw invalid("input", `is ${inputBytes} bytes as JSON; at most ${limits.inputBytes}`);
  }
  if (holdsNul(request.input)) throw invalid("input", "must not contain the NUL character (\\u0000)");
  const queue = request.queue || taskDefaults.queue;
  if (!queuePattern.test(queue)) {
    throw invalid("queue", `"${queue}" must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  if (Math.abs(request.priority) > limits.priority) {
    throw invalid("priority", `${request.priority} is out of range ${-limits.priority}..${limits.priority}`);
  }
  const maxAttempts = request.maxAttempts || taskDefaults.maxAttempts;
  if (maxAttempts < 1 || maxAttempts > limits.maxAttempts) {
    throw invalid("max_attempts", `${maxAttempts} is out of range 1..${limits.maxAttempts}`);
  }
  let timeoutMs: number = taskDefaults.timeoutMs;
  if (request.timeout) {
    timeoutMs = request.timeout.seconds * 1000 + Math.trunc(request.timeout.nanos / 1e6);
    if (!(timeoutMs >= limits.minTimeoutMs && timeoutMs <= limits.maxTimeoutMs)) {
      throw invalid("timeout", `must be from 1s to 24h`);
    }
  }
  if (request.runAt && Number.isNaN(request.runAt.getTime())) throw invalid("run_at", "is not a valid timestamp");
  refuseNul("idempotency_key", request.idempotencyKey);
  if (request.idempotencyKey.length > limits.idempotencyKeyLength) {
    throw invalid("idempotency_key", `is ${request.idempotencyKey.length} characters; at most ${limits.idempotencyKeyLength}`);
  }
  return {
    kind: request.kind,
    input: request.input ?? null,
    queue,
    priority: request.priority,
    runAt: request.runAt,
    maxAttempts,
    timeoutMs,
    idempotencyKey: request.idempotencyKey || undefined,
    labels: validLabels("labels", request.labels),
  };
}

/** The tasks of a CreateTasks call; a bad one is named by its index ("tasks[3].kind: ..."). */
export function newTasksFromPb(requests: CreateTaskRequest[], kinds: ReadonlySet<string>): NewTask[] {
  if (requests.length === 0 || requests.length > limits.tasksPerCall) {
    throw invalid("tasks", `holds ${requests.length} tasks; 1 to ${limits.tasksPerCall} per call`);
  }
  return requests.map((request, i) => {
    try {
      return newTaskFromPb(request, kinds);
    } catch (error) {
      if (error instanceof SpoolError) throw new SpoolError(error.code, `tasks[${i}].${error.message}`);
      throw error;
    }
  });
}

function validLabels(field: string, labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > limits.labels) throw invalid(field, `has ${entries.length} labels; at most ${limits.labels}`);
  for (const [key, value] of entries) {
    refuseNul(`${field}["${key}"]`, value);
    if (!labelKeyPattern.test(key)) {
      throw invalid(`${field}["${key}"]`, "key must start with a letter or digit and hold at most 63 letters, digits, '.', '_', '/' or '-'");
    }
    if (value.length > limits.labelValueLength) {
      throw invalid(`${field}["${key}"]`, `value is ${value.length} characters; at most ${limits.labelValueLength}`);
    }
  }
  return labels;
}

export function taskIdFrom(field: string, value: string): string {
  if (!value) throw invalid(field, "is required");
  if (!isTaskId(value)) throw invalid(field, `"${value}" is not a task id (a UUID)`);
  return value.toLowerCase();
}

export function cancelReasonFrom(reason: string): string {
  refuseNul("reason", reason);
  if (reason.length > limits.reasonLength) {
    throw invalid("reason", `is ${reason.length} characters; at most ${limits.reasonLength}`);
  }
  return reason || "cancelled by request";
}

export function logRequestFrom(request: StreamLogsRequest) {
  if (!Number.isSafeInteger(request.afterSeq) || request.afterSeq < 0) {
    throw invalid("after_seq", `${request.afterSeq} must be 0 or more`);
  }
  return { taskId: taskIdFrom("task_id", request.taskId), afterSeq: request.afterSeq, follow: request.follow };
}

export interface ListQuery {
  filter: TaskFilter;
  beforeId: string | undefined;
  limit: number;
  /** Identifies the filter inside page tokens. */
  filterHash: string;
}

export function listQueryFrom(request: ListTasksRequest): ListQuery {
  const states = request.states.map((state, i): TaskState => {
    const domain = stateFromPb.get(state);
    if (!domain) throw invalid(`states[${i}]`, `${PbTaskState[state] ?? state} is not a state to filter on`);
    return domain;
  });
  if (request.queue && !queuePattern.test(request.queue)) {
    throw invalid("queue", `"${request.queue}" must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  request.kinds.forEach((kind, i) => {
    if (!kind) throw invalid(`kinds[${i}]`, "is empty");
    refuseNul(`kinds[${i}]`, kind);
  });
  for (const [field, time] of [
    ["created_after", request.createdAfter],
    ["created_before", request.createdBefore],
  ] as const) {
    if (time && Number.isNaN(time.getTime())) throw invalid(field, "is not a valid timestamp");
  }
  if (request.pageSize < 0 || request.pageSize > limits.pageSize) {
    throw invalid("page_size", `${request.pageSize} is out of range 1..${limits.pageSize}`);
  }
  const filter: TaskFilter = {
    states,
    kinds: request.kinds,
    queue: request.queue || undefined,
    labels: validLabels("labels", request.labels),
    createdAfter: request.createdAfter,
    createdBefore: request.createdBefore,
  };
  const filterHash = hashFilter(filter);
  return {
    filter,
    beforeId: request.pageToken ? parsePageToken(request.pageToken, filterHash) : undefined,
    limit: request.pageSize || limits.defaultPageSize,
    filterHash,
  };
}

function hashFilter(filter: TaskFilter): string {
  const canonical = JSON.stringify([
    [...filter.states].sort(),
    [...filter.kinds].sort(),
    filter.queue ?? null,
    Object.entries(filter.labels).sort(),
    filter.createdAfter?.getTime() ?? null,
    filter.createdBefore?.getTime() ?? null,
  ]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 12);
}

export function pageTokenFor(lastId: string, filterHash: string): string {
  return Buffer.from(`${lastId}.${filterHash}`).toString("base64url");
}

function parsePageToken(token: string, filterHash: string): string {
  const [id, hash] = Buffer.from(token, "base64url").toString().split(".");
  if (!id || !isTaskId(id)) throw invalid("page_token", "is not a token this service issued");
  if (hash !== filterHash) throw invalid("page_token", "was issued for other filters; start again without it");
  return id;
}

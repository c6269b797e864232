// The task as every layer sees it. The store maps rows to it, the API maps it to protobuf,
// the scheduler moves it between states.
import type { Backoff } from "@spool/proto";

export type { Backoff };

export const taskStates = ["pending", "running", "succeeded", "failed", "cancelled", "dropped"] as const;
export type TaskState = (typeof taskStates)[number];

export const terminalStates: ReadonlySet<TaskState> = new Set(["succeeded", "failed", "cancelled", "dropped"]);

export const isTerminal = (state: TaskState): boolean => terminalStates.has(state);

/** Why an attempt or a task did not succeed. */
export interface TaskError {
  message: string;
  /** The thrown error's name, or one of Spool's own failure types below. */
  type: string;
  stack?: string | undefined;
}

/** Failure types Spool itself assigns, besides the names of thrown errors. */
export const failureTypes = {
  cancelled: "Cancelled",
  timeout: "Timeout",
  crashed: "WorkerCrashed",
  shutdown: "Shutdown",
  /** The replica running the attempt stopped renewing its lease (killed, paused, cut off). */
  leaseExpired: "LeaseExpired",
} as const;

/** A handler's report of how far it got (ctx.progress). */
export interface TaskProgress {
  /** 0..1 */
  fraction: number;
  message: string;
  attempt: number;
  /** When it was reported (ISO 8601, as the database wrote it). */
  at: string;
}

/** An attempt that ended without success. */
export interface AttemptFailure {
  attempt: number;
  type: string;
  message: string;
  /** When the attempt ended (ISO 8601, as the database wrote it). */
  at: string;
}

export interface Task {
  id: string;
  kind: string;
  queue: string;
  state: TaskState;
  priority: number;
  input: unknown;
  result: unknown;
  error: TaskError | null;
  /** Every attempt that ended without success, oldest first. */
  failures: AttemptFailure[];
  /** The last progress report, if any. */
  progress: TaskProgress | null;
  attempt: number;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  labels: Record<string, string>;
  cancelRequested: boolean;
  /** The creator's tenant; only that tenant's callers (and admins) see the task. */
  tenant: string;
  /** The subject that created it. */
  createdBy: string;
  /** The schedule whose tick created it (a retry keeps it), and that tick. */
  schedule: string | null;
  scheduledFor: Date | null;
  /** Counted per key against its queue's key_concurrency_limit. */
  concurrencyKey: string | null;
  /** The task this one retries. */
  retryOf: string | null;
  /** The trace its creation and runs belong to (tracing on), from its traceparent. */
  traceId: string | null;
  /** Backoff between its attempts, resolved at creation. */
  backoff: Backoff;
  createdAt: Date;
  runAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** What access to a task and its log is decided by, with its state. */
export type TaskAccess = Pick<Task, "state" | "tenant" | "createdBy">;

/** A validated CreateTask request. */
export interface NewTask {
  kind: string;
  input: unknown;
  queue: string;
  priority: number;
  runAt: Date | undefined;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | undefined;
  labels: Record<string, string>;
  concurrencyKey: string | undefined;
  /** Resolved: the request's, else the kind's, else defaultBackoff. */
  backoff: Backoff;
  /** Set for the tasks of a schedule (schedules/) and for retries (RetryTask). */
  schedule?: string;
  scheduledFor?: Date;
  retryOf?: string;
  /** W3C trace context of the call that created it: its runs' spans continue that trace. */
  traceparent?: string;
  /** The creator's tenant and subject (from the caller's identity, not the request). */
  tenant: string;
  createdBy: string;
}

/** What a CreateTask request itself says: a NewTask before the caller's identity is added. */
export type TaskRequest = Omit<NewTask, "tenant" | "createdBy">;

/** The fields of a task that do not depend on the moment: what a schedule's template holds. */
export type TaskFields = Pick<
  NewTask,
  "kind" | "input" | "queue" | "priority" | "maxAttempts" | "timeoutMs" | "labels" | "concurrencyKey" | "backoff"
>;


/** A queue's name: 1 to 64 letters, digits, '.', '_' or '-'. */
export const queueNamePattern = /^[A-Za-z0-9._-]{1,64}$/;

export const taskDefaults = {
  queue: "default",
  maxAttempts: 3,
  timeoutMs: 15 * 60_000,
} as const;

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One stored log line. */
export interface LogLine {
  seq: number;
  attempt: number;
  level: LogLevel;
  message: string;
  time: Date;
  /** The span it was logged in (tracing on); null otherwise. */
  traceId: string | null;
  spanId: string | null;
}

/** How much of each task a list reads: "basic" leaves out input, result, failures and error.stack. */
export type TaskView = "basic" | "full";

/** ListTasks filters; they combine with AND, each list matches any of its values. */
export interface TaskFilter {
  states: TaskState[];
  kinds: string[];
  queue: string | undefined;
  labels: Record<string, string>;
  createdAfter: Date | undefined;
  createdBefore: Date | undefined;
  /** Only this tenant's tasks; undefined means every tenant (admins only: api/access.ts). */
  tenant: string | undefined;
  /** Only tasks created by this subject. */
  createdBy: string | undefined;
  /** Only tasks of this schedule. */
  schedule: string | undefined;
}

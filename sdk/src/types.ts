// The SDK's own types: what callers see instead of the generated messages.

import { taskStateNames, type Backoff, type LogLevelName, type TaskStateName } from "@spool/proto";

export type { Backoff };

/** Every task state, in life order (the names are shared with the service: @spool/proto). */
export const taskStates = taskStateNames;
export type TaskState = TaskStateName;

export const terminalStates: ReadonlySet<TaskState> = new Set(["succeeded", "failed", "cancelled", "dropped"]);

export type LogLevel = LogLevelName;

export interface TaskError {
  message: string;
  /** The thrown error's name, or Cancelled, Timeout, WorkerCrashed, Shutdown, LeaseExpired. */
  type: string;
  stack?: string | undefined;
}

/** A handler's report of how far it got (ctx.progress). */
export interface TaskProgress {
  /** From 0 to 1. */
  fraction: number;
  message: string;
  /** The attempt that reported it. */
  attempt: number;
  updatedAt: Date;
}

/** An attempt that ended without success. */
export interface AttemptFailure {
  attempt: number;
  type: string;
  message: string;
  finishedAt: Date;
}

export interface Task<Output = unknown> {
  id: string;
  kind: string;
  state: TaskState;
  input: unknown;
  /** Set once the task succeeded. */
  result: Output | undefined;
  /** Set once it failed, was cancelled or dropped. */
  error: TaskError | undefined;
  /** Every attempt that ended without success, oldest first. */
  failures: AttemptFailure[];
  /** The last progress report of the handler, if any. */
  progress: TaskProgress | undefined;
  attempt: number;
  maxAttempts: number;
  queue: string;
  priority: number;
  labels: Record<string, string>;
  cancelRequested: boolean;
  /** Execution limit of one attempt, in ms. */
  timeoutMs: number;
  idempotencyKey: string | undefined;
  /** The tenant it belongs to (its creator's; "default" when the service runs without auth). */
  tenant: string;
  /** The subject that created it ("anonymous" without auth). */
  createdBy: string;
  /** The schedule whose tick created it (a retry keeps it); undefined for a direct create. */
  schedule: string | undefined;
  /** The tick it stands for; undefined for a direct create and for a retry. */
  scheduledFor: Date | undefined;
  /** Counted per key against the queue's keyConcurrencyLimit. */
  concurrencyKey: string | undefined;
  /** The id of the task this one retries (retryTask). */
  retryOf: string | undefined;
  /** The W3C trace id its creation and runs belong to, when the service traces. */
  traceId: string | undefined;
  /** Backoff between its attempts, as resolved at creation. */
  backoff: Backoff;
  createdAt: Date;
  runAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
}

export interface CreateTaskOptions {
  /** Queue to run in; default "default". */
  queue?: string;
  /** Higher runs first, -1000..1000; default 0. */
  priority?: number;
  /** Never run before this time. */
  runAt?: Date;
  /** Most attempts, 1..100; default 3. */
  maxAttempts?: number;
  /** Execution limit of one attempt, in ms (1 s..24 h); default 15 min. */
  timeoutMs?: number;
  /** A second create with the same key returns the first task instead of a new one. */
  idempotencyKey?: string;
  labels?: Record<string, string>;
  /** Key for the queue's keyConcurrencyLimit, e.g. a customer id; at most 200 characters. */
  concurrencyKey?: string;
  /** Backoff between attempts; unset fields take the kind's, else the defaults (defaultBackoff). */
  backoff?: Partial<Backoff>;
}

/** One task of a createTasks call. */
export interface NewTaskSpec extends CreateTaskOptions {
  kind: string;
  input?: unknown;
}

export interface ListTasksOptions {
  states?: TaskState[];
  kinds?: string[];
  queue?: string;
  labels?: Record<string, string>;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Only this tenant's tasks: default, the caller's own; another needs the admin role (an admin's default is every tenant). */
  tenant?: string;
  /** Only tasks created by this subject. A caller with only the submitter role lists only its own. */
  createdBy?: string;
  /** Only tasks of the schedule of this name. */
  schedule?: string;
  /** Tasks per page, 1..1000; default 50. A page also stops at 3 MiB, so it may hold fewer. */
  pageSize?: number;
  /** nextPageToken of the previous page. */
  pageToken?: string;
  /**
   * "basic" (the default) leaves out each task's input, result, failures and error stack,
   * which keeps pages small; "full" returns every field.
   */
  view?: "basic" | "full";
}

export interface TaskPage {
  tasks: Task[];
  /** Undefined on the last page. */
  nextPageToken: string | undefined;
}

export interface LogEntry {
  seq: number;
  time: Date;
  level: LogLevel;
  message: string;
  attempt: number;
  /** The trace and span it was logged in, when the service traces. */
  traceId?: string;
  spanId?: string;
}

export interface LogOptions {
  /** Only lines after this seq; default 0 (all). */
  afterSeq?: number;
  /** Keep following new lines until the task ends; default false. */
  follow?: boolean;
  /** Start with only the last this many stored lines (0..100000, as `tail -n`); default all. */
  tail?: number;
  /** Stops the iteration. */
  signal?: AbortSignal;
}

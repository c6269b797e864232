// What the API asks of the service: the operations behind the RPCs, free of gRPC and SQL.
// Implemented by the composition root (spool.ts) over the store and the scheduler.
import type { ActivityBucket } from "./activity.js";
import type { Queue, QueueChange, QueuePage } from "./queue.js";
import type { ReplicaRecord } from "./replica-view.js";
import type { Backoff, LogLine, NewTask, Task, TaskAccess, TaskFilter, TaskView } from "./task.js";

export interface LogStreamRequest {
  taskId: string;
  /** Send lines with seq greater than this. */
  afterSeq: number;
  /** Keep sending new lines until the task is terminal. */
  follow: boolean;
  /** Start with only the last this many stored lines after afterSeq; 0: all. */
  tail: number;
}

/** The reader of a server stream. */
export interface Sink<T> {
  /** Resolves when the reader can take more. */
  write(item: T): Promise<void>;
  /** Aborted when the reader goes away. */
  signal: AbortSignal;
}

export type LogSink = Sink<LogLine[]>;
export type TaskSink = Sink<Task>;

export interface TaskOperations {
  /** Kinds that have a handler. */
  readonly kinds: ReadonlySet<string>;
  /** The backoff of a task of this kind that sets none: its definition's, else the defaults. */
  kindBackoff(kind: string): Backoff;
  /**
   * The input to store for a task of this kind: checked against the kind's input schema, if
   * it declares one (rejects with invalid_argument naming `field` and the path).
   */
  checkInput(kind: string, input: unknown, field: string): Promise<unknown>;
  /**
   * Whether `tenant` may create `count` more tasks now: rejects with resource_exhausted (and
   * a retry delay) past its create rate or its cap on pending tasks.
   */
  admit(tenant: string, count: number): Promise<void>;
  /**
   * Stores tasks, all or none; for a known idempotency key, returns the task holding it
   * instead (created: false). Results are in the order of the tasks.
   */
  create(tasks: NewTask[]): Promise<{ task: Task; created: boolean }[]>;
  /** A task was created by RetryTask to run a failed one again (metrics). */
  retried(task: Task): void;
  get(id: string): Promise<Task | undefined>;
  /** Up to `limit` matching tasks with id < beforeId, newest first, read as `view` says. */
  list(filter: TaskFilter, beforeId: string | undefined, limit: number, view: TaskView): Promise<Task[]>;
  /** The task after the cancel took effect (unchanged if it had ended); undefined if none. */
  cancel(id: string, reason: string): Promise<Task | undefined>;
  /**
   * Sends the task's log lines. `admit` sees the first read of the task's state and owner
   * (undefined: no such task) and throws if the caller may not read them.
   */
  streamLogs(request: LogStreamRequest, sink: LogSink, admit: (task: TaskAccess | undefined) => TaskAccess): Promise<void>;
  /**
   * Sends the task, then each change of it until it is terminal. `admit` sees the first read
   * (undefined: no such task) and returns the task if the caller may watch it, else throws.
   */
  watchTask(id: string, sink: TaskSink, admit: (task: Task | undefined) => Task): Promise<void>;
}

export interface QueueOperations {
  /** A page of the queues of `tenant` (every tenant's when undefined), in (tenant, name) order. */
  list(tenant: string | undefined, page: QueuePage): Promise<Queue[]>;
  /**
   * Applies the change (making the queue if it has no task yet) and returns the queue. Once
   * it resolves, no replica starts a task under the old settings.
   */
  change(tenant: string, name: string, change: QueueChange): Promise<Queue>;
  /**
   * Attempts ended per minute, by outcome, in the tenant (one queue of it, when given): the
   * `minutes` whole minutes up to the current one by the database's clock, oldest first,
   * zeros included. Read from the counters, not from the tasks.
   */
  activity(tenant: string, queue: string | undefined, minutes: number): Promise<ActivityBucket[]>;
}

/** What AdminService needs of the rest of the replica. */
export interface AdminOperations {
  /** Every replica with a lease, live or lost, with the view it last published. */
  listWorkers(): Promise<ReplicaRecord[]>;
}

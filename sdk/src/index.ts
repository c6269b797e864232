// @spool/sdk: the typed client of Spool, and defineTask for handler authors.
export { SpoolClient, type SpoolClientOptions, type SpoolTlsOptions, type WaitOptions } from "./client.js";
export type { ActivityBucket, ActivityQuery, Queue, QueueClient, QueuePage, QueueSettingsChange, QueueTarget } from "./queues.js";
export type { Replica, WorkerClient, WorkerThread } from "./workers.js";
export { SpoolError, retryableCodes, type SpoolErrorCode } from "./errors.js";
export {
  ScheduleClient,
  type CatchUp,
  type ListSchedulesOptions,
  type Schedule,
  type ScheduleCallOptions,
  type SchedulePage,
  type ScheduleSpec,
  type TaskTemplate,
  type UpsertOutcome,
} from "./schedules.js";
export { defineTask, isNonRetryable, isTaskDefinition, NonRetryableError } from "./task.js";
export type { InputSchema, TaskContext, TaskDefinition, TaskLogger } from "./task.js";
export { taskStates, terminalStates } from "./types.js";
export { defaultBackoff } from "@spool/proto";
export type {
  Backoff,
  CreateTaskOptions,
  ListTasksOptions,
  LogEntry,
  LogLevel,
  LogOptions,
  NewTaskSpec,
  Task,
  TaskError,
  AttemptFailure,
  TaskPage,
  TaskProgress,
  TaskState,
} from "./types.js";

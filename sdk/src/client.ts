// SpoolClient: a typed client for spool.v1.TaskService over gRPC.
import { credentials as grpcCredentials, Metadata, type CallOptions, type ChannelCredentials } from "@grpc/grpc-js";
import {
  LogLevel as PbLogLevel,
  TaskServiceClient,
  TaskState as PbTaskState,
  type CreateTaskRequest,
  type LogEntry as PbLogEntry,
  type Task as PbTask,
} from "@spool/proto";
import { SpoolError } from "./errors.js";
import type {
  CreateTaskOptions,
  ListTasksOptions,
  LogEntry,
  LogLevel,
  LogOptions,
  NewTaskSpec,
  Task,
  TaskPage,
  TaskState,
} from "./types.js";

export interface SpoolClientOptions {
  /** Channel credentials; default insecure (plaintext), as on a loopback or inside a mesh. */
  credentials?: ChannelCredentials;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Deadline of unary calls, in ms; default 30 s. */
  deadlineMs?: number;
}

const stateFromPb: Record<number, TaskState> = {
  [PbTaskState.TASK_STATE_PENDING]: "pending",
  [PbTaskState.TASK_STATE_RUNNING]: "running",
  [PbTaskState.TASK_STATE_SUCCEEDED]: "succeeded",
  [PbTaskState.TASK_STATE_FAILED]: "failed",
  [PbTaskState.TASK_STATE_CANCELLED]: "cancelled",
  [PbTaskState.TASK_STATE_DROPPED]: "dropped",
};
const stateToPb = Object.fromEntries(Object.entries(stateFromPb).map(([pb, s]) => [s, Number(pb)])) as Record<TaskState, PbTaskState>;
const levelFromPb: Record<number, LogLevel> = {
  [PbLogLevel.LOG_LEVEL_DEBUG]: "debug",
  [PbLogLevel.LOG_LEVEL_INFO]: "info",
  [PbLogLevel.LOG_LEVEL_WARN]: "warn",
  [PbLogLevel.LOG_LEVEL_ERROR]: "error",
};

/** How often a followed log stream reconnects after UNAVAILABLE before giving up. */
const maxLogResumes = 10;

export class SpoolClient {
  readonly #client: TaskServiceClient;
  readonly #metadata: Metadata;
  readonly #deadlineMs: number;

  /** @param address host:port of a Spool replica (or of a load balancer in front of several). */
  constructor(address: string, options: SpoolClientOptions = {}) {
    this.#client = new TaskServiceClient(address, options.credentials ?? grpcCredentials.createInsecure());
    this.#metadata = new Metadata();
    if (options.token) this.#metadata.set("authorization", `Bearer ${options.token}`);
    this.#deadlineMs = options.deadlineMs ?? 30_000;
  }

  async createTask(kind: string, input?: unknown, options: CreateTaskOptions = {}): Promise<Task> {
    return taskFromPb((await this.#unary("createTask", createRequest({ kind, input, ...options }))).task);
  }

  /** Creates up to 1000 tasks in one call: all or none. Results are in the same order. */
  async createTasks(tasks: NewTaskSpec[]): Promise<Task[]> {
    const response = await this.#unary("createTasks", { tasks: tasks.map(createRequest) });
    return response.results.map((result) => taskFromPb(result.task));
  }

  async getTask(id: string): Promise<Task> {
    return taskFromPb((await this.#unary("getTask", { id })).task);
  }

  async listTasks(options: ListTasksOptions = {}): Promise<TaskPage> {
    const response = await this.#unary("listTasks", {
      states: (options.states ?? []).map((s) => stateToPb[s]),
      kinds: options.kinds ?? [],
      queue: options.queue ?? "",
      labels: options.labels ?? {},
      createdAfter: options.createdAfter,
      createdBefore: options.createdBefore,
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
    });
    return { tasks: response.tasks.map(taskFromPb), nextPageToken: response.nextPageToken || undefined };
  }

  async cancelTask(id: string, reason?: string): Promise<Task> {
    return taskFromPb((await this.#unary("cancelTask", { id, reason: reason ?? "" })).task);
  }

  /**
   * The task's log lines, in order. With `follow`, it waits for new lines until the task
   * ends; if the connection drops it reconnects after the last line it yielded, so nothing
   * is skipped or repeated.
   */
  async *logs(taskId: string, options: LogOptions = {}): AsyncGenerator<LogEntry> {
    let afterSeq = options.afterSeq ?? 0;
    let failures = 0;
    for (;;) {
      if (options.signal?.aborted) return;
      const call = this.#client.streamLogs({ taskId, afterSeq, follow: options.follow ?? false }, this.#metadata);
      const cancel = () => call.cancel();
      options.signal?.addEventListener("abort", cancel, { once: true });
      try {
        for await (const message of call as AsyncIterable<{ entries: PbLogEntry[] }>) {
          failures = 0;
          for (const entry of message.entries) {
            afterSeq = entry.seq;
            yield logEntryFromPb(entry);
          }
        }
        return;
      } catch (error) {
        if (options.signal?.aborted) return;
        const spoolError = SpoolError.from(error);
        if (!spoolError.retryable || ++failures > maxLogResumes) throw spoolError;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** failures)));
      } finally {
        options.signal?.removeEventListener("abort", cancel);
        call.cancel();
      }
    }
  }

  close(): void {
    this.#client.close();
  }

  #unary<M extends "createTask" | "createTasks" | "getTask" | "listTasks" | "cancelTask">(
    method: M,
    request: Parameters<TaskServiceClient[M]>[0],
  ): Promise<UnaryResponse<M>> {
    const options: Partial<CallOptions> = { deadline: Date.now() + this.#deadlineMs };
    return new Promise((resolve, reject) => {
      const fn = this.#client[method] as unknown as (
        request: unknown,
        metadata: Metadata,
        options: Partial<CallOptions>,
        callback: (error: unknown, response: UnaryResponse<M>) => void,
      ) => void;
      fn.call(this.#client, request, this.#metadata, options, (error, response) =>
        error ? reject(SpoolError.from(error)) : resolve(response),
      );
    });
  }
}

type UnaryResponse<M extends keyof TaskServiceClient> = TaskServiceClient[M] extends (
  request: never,
  metadata: never,
  options: never,
  callback: (error: never, response: infer R) => void,
) => unknown
  ? R
  : never;

function createRequest(spec: NewTaskSpec): CreateTaskRequest {
  return {
    kind: spec.kind,
    input: spec.input,
    queue: spec.queue ?? "",
    priority: spec.priority ?? 0,
    runAt: spec.runAt,
    maxAttempts: spec.maxAttempts ?? 0,
    timeout: spec.timeoutMs === undefined ? undefined : { seconds: Math.floor(spec.timeoutMs / 1000), nanos: (spec.timeoutMs % 1000) * 1e6 },
    idempotencyKey: spec.idempotencyKey ?? "",
    labels: spec.labels ?? {},
  };
}

function taskFromPb(task: PbTask | undefined): Task {
  if (!task) throw new SpoolError("internal", "response carries no task", 13);
  return {
    id: task.id,
    kind: task.kind,
    state: stateFromPb[task.state] ?? "pending",
    input: task.input ?? null,
    result: task.result ?? undefined,
    error: task.error ? { message: task.error.message, type: task.error.type, stack: task.error.stack || undefined } : undefined,
    failures: task.failures.map((f) => ({ attempt: f.attempt, type: f.type, message: f.message, finishedAt: f.finishedAt ?? new Date(0) })),
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    queue: task.queue,
    priority: task.priority,
    labels: task.labels,
    cancelRequested: task.cancelRequested,
    timeoutMs: task.timeout ? task.timeout.seconds * 1000 + Math.trunc(task.timeout.nanos / 1e6) : 0,
    idempotencyKey: task.idempotencyKey || undefined,
    createdAt: task.createdAt ?? new Date(0),
    runAt: task.runAt ?? new Date(0),
    startedAt: task.startedAt,
    finishedAt: task.finishedAt,
  };
}

function logEntryFromPb(entry: PbLogEntry): LogEntry {
  return {
    seq: entry.seq,
    time: entry.time ?? new Date(0),
    level: levelFromPb[entry.level] ?? "info",
    message: entry.message,
    attempt: entry.attempt,
  };
}

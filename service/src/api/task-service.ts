// The spool.v1.TaskService handlers: authenticate, validate, check access, call the domain,
// convert. Every failure reaches the caller as a gRPC status (api/status.ts); none escapes to
// crash the process. Every call runs as a Principal (auth/): it needs the submitter role at
// least, and sees only the tasks auth/access.ts lets it see; others are NOT_FOUND.
import { once } from "node:events";
import {
  status,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import {
  Task as PbTask,
  type LogEntry,
  type StreamLogsRequest,
  type StreamLogsResponse,
  type TaskServiceServer,
  type WatchTaskRequest,
  type WatchTaskResponse,
} from "@spool/proto";
import type { Logger } from "pino";
import { canSee, seesServerDetails, visible } from "../auth/access.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { Principal } from "../auth/principal.js";
import type { TaskOperations } from "../domain/operations.js";
import { retryOf } from "../domain/retry.js";
import type { LogLine, NewTask, Task, TaskRequest } from "../domain/task.js";
import { quote, SpoolError } from "../errors.js";
import { logLineToPb, taskToPb } from "./convert.js";
import { decodingProblem } from "./decode-guard.js";
import { activeTraceparent, inServerSpan } from "./rpc-span.js";
import type { StreamSlots } from "./stream-slots.js";
import { callerOf, reportError, unaryHandler } from "./unary-handler.js";
import {
  cancelReasonFrom,
  listQueryFrom,
  logRequestFrom,
  newTaskFromPb,
  newTasksFromPb,
  pageTokenFor,
  taskIdFrom,
  type ListQuery,
} from "./validate.js";

/** Most bytes of tasks in one ListTasks reply (clients accept 4 MiB by default). */
const maxReplyBytes = 3 * 1024 * 1024;
/** Rows a FULL page reads at a time: each may carry megabytes of input and result. */
const fullViewChunk = 16;

/** Log entries per StreamLogs message stop growing past this many bytes of text. */
const maxMessageBytes = 1024 * 1024;

export function taskService(
  ops: TaskOperations,
  log: Logger,
  streams: StreamSlots,
  auth: Authenticator,
): TaskServiceServer & Record<string, UntypedHandleCall> {
  /** The caller, if it may call `method` at all (every TaskService call needs submitter). */
  const principalOf = (method: string, call: ServerWritableStream<unknown, unknown>) => callerOf(auth, "submitter", method, call);
  const unary = <Req, Res>(
    method: string,
    handle: (request: Req, principal: Principal, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  ): handleUnaryCall<Req, Res> => unaryHandler(auth, log, "submitter", method, handle);

  /**
   * A new task from a request, as the caller's: its tenant, created by its subject, and the
   * call's trace context (its run continues the trace).
   */
  const owned = async (principal: Principal, request: TaskRequest, field: string): Promise<NewTask> => {
    const traceparent = activeTraceparent();
    return {
      ...request,
      input: await ops.checkInput(request.kind, request.input, field),
      tenant: principal.tenant,
      createdBy: principal.subject,
      ...(traceparent && { traceparent }),
    };
  };

  return {
    createTask: unary("CreateTask", async (request, principal) => {
      const newTask = await owned(principal, newTaskFromPb(request, ops.kinds, ops.kindBackoff), "input");
      await ops.admit(principal.tenant, 1);
      const [result] = await ops.create([newTask]);
      return createdToPb(principal, newTask, result!);
    }),

    createTasks: unary("CreateTasks", async (request, principal) => {
      const newTasks = await Promise.all(
        newTasksFromPb(request.tasks, ops.kinds, ops.kindBackoff).map((task, i) => owned(principal, task, `tasks[${i}].input`)),
      );
      await ops.admit(principal.tenant, newTasks.length);
      const results = await ops.create(newTasks);
      return { results: results.map((result, i) => createdToPb(principal, newTasks[i]!, result, `tasks[${i}].`)) };
    }),

    getTask: unary("GetTask", async (request, principal) => {
      const id = taskIdFrom("id", request.id);
      return { task: taskToPb(visible(principal, id, await ops.get(id)), seesServerDetails(principal)) };
    }),

    listTasks: unary("ListTasks", async (request, principal, call) => {
      const query = listQueryFrom(request, principal);
      const page = await boundedPage(ops, query, seesServerDetails(principal), () => call.cancelled);
      return {
        tasks: page.tasks,
        nextPageToken: page.lastId === undefined ? "" : pageTokenFor(page.lastId, query.filterHash),
      };
    }),

    cancelTask: unary("CancelTask", async (request, principal) => {
      const id = taskIdFrom("id", request.id);
      const reason = cancelReasonFrom(request.reason);
      // Who may cancel is who may see: checked on the task before touching it.
      visible(principal, id, await ops.get(id));
      return { task: taskToPb(visible(principal, id, await ops.cancel(id, reason)), seesServerDetails(principal)) };
    }),

    retryTask: unary("RetryTask", async (request, principal) => {
      const id = taskIdFrom("id", request.id);
      // Who may retry is who may see: a submitter its own tasks, an operator its tenant's.
      // The retry is the old task's tenant's (quotas included), created by the caller.
      const retry = retryOf(visible(principal, id, await ops.get(id)), principal.subject, ops.kinds);
      const traceparent = activeTraceparent();
      await ops.admit(retry.tenant, 1);
      const [result] = await ops.create([{ ...retry, ...(traceparent && { traceparent }) }]);
      ops.retried(result!.task);
      return { task: taskToPb(result!.task, seesServerDetails(principal)) };
    }),

    streamLogs: (call: ServerWritableStream<StreamLogsRequest, StreamLogsResponse>) =>
      serverStream(log, streams, "StreamLogs", call, principalOf, async (principal, send, signal) => {
        const request = logRequestFrom(call.request);
        const sink = {
          signal,
          write: async (lines: LogLine[]) => {
            for (const entries of messagesOf(lines)) await send({ entries });
          },
        };
        await ops.streamLogs(request, sink, (task) => visible(principal, request.taskId, task));
      }),

    watchTask: (call: ServerWritableStream<WatchTaskRequest, WatchTaskResponse>) =>
      serverStream(log, streams, "WatchTask", call, principalOf, async (principal, send, signal) => {
        const id = taskIdFrom("id", call.request.id);
        const details = seesServerDetails(principal);
        await ops.watchTask(id, { signal, write: (task: Task) => send({ task: taskToPb(task, details) }) }, (task) => visible(principal, id, task));
      }),
  };
}

/**
 * Runs a server-streaming call: `run` sends messages through `send`, which waits while the
 * client is slow to read (flow control) and does nothing once it has gone; the stream ends OK
 * when `run` resolves and with the error's status when it rejects.
 */
function serverStream<Req, Res>(
  log: Logger,
  streams: StreamSlots,
  method: string,
  call: ServerWritableStream<Req, Res>,
  principalOf: (method: string, call: ServerWritableStream<Req, Res>) => Promise<Principal>,
  run: (principal: Principal, send: (message: Res) => Promise<void>, signal: AbortSignal) => Promise<void>,
): void {
  const reader = new AbortController();
  call.on("cancelled", () => reader.abort());
  call.on("error", () => reader.abort());
  const send = async (message: Res) => {
    if (reader.signal.aborted) return;
    if (!call.write(message)) await once(call, "drain", { signal: reader.signal }).catch(() => undefined);
  };
  const release = streams.acquire();
  void inServerSpan(call.getPath(), call.metadata, async () => {
    try {
      if (!release) {
        throw new SpoolError("resource_exhausted", `this replica serves ${streams.max} streams already (SPOOL_MAX_STREAMS); retry later`);
      }
      const principal = await principalOf(method, call);
      const problem = decodingProblem(call.request);
      if (problem) throw problem;
      await run(principal, send, reader.signal);
      if (!reader.signal.aborted) call.end();
      return reader.signal.aborted ? status.CANCELLED : status.OK;
    } catch (error) {
      const serviceError = reportError(log, method, error);
      if (!reader.signal.aborted) call.emit("error", serviceError);
      return serviceError.code;
    } finally {
      release?.();
    }
  });
}

/**
 * One ListTasks page: at most `limit` tasks and at most maxReplyBytes encoded, so that a reply
 * always fits a client's default 4 MiB limit whatever the tasks carry (a page of 1000 tasks
 * with 1 MiB inputs each was a gigabyte). FULL pages are read a few rows at a time, so memory
 * holds about one reply, and reading stops when the caller has gone. `lastId` is set when
 * there may be more.
 */
async function boundedPage(
  ops: TaskOperations,
  query: ListQuery,
  serverDetails: boolean,
  gone: () => boolean,
): Promise<{ tasks: PbTask[]; lastId?: string }> {
  const chunk = query.view === "full" ? fullViewChunk : query.limit + 1;
  const tasks: PbTask[] = [];
  let bytes = 0;
  let before = query.beforeId;
  for (;;) {
    if (gone()) throw new SpoolError("unavailable", "the caller went away");
    const wanted = Math.min(chunk, query.limit + 1 - tasks.length);
    const rows = await ops.list(query.filter, before, wanted, query.view);
    for (const row of rows) {
      if (tasks.length === query.limit) return { tasks, lastId: before };
      const task = taskToPb(row, serverDetails);
      const size = PbTask.encode(task).finish().length + 8; // + the field's tag and length
      if (tasks.length > 0 && bytes + size > maxReplyBytes) return { tasks, lastId: before };
      tasks.push(task);
      bytes += size;
      before = row.id;
    }
    if (rows.length < wanted) return { tasks };
  }
}

/**
 * A create's result as protobuf. A reused idempotency key returns the task holding it, if the
 * caller may see that task and it is of the same kind. Keys are per tenant; within one, a
 * submitter's key held by another subject's task is ALREADY_EXISTS, and the task is not
 * shown.
 */
function createdToPb(principal: Principal, requested: NewTask, { task, created }: { task: Task; created: boolean }, field = "") {
  if (!created && !canSee(principal, task)) {
    throw new SpoolError("already_exists", `${field}idempotency_key: ${quote(requested.idempotencyKey ?? "")} is already used in tenant ${quote(principal.tenant)} by a task you cannot see`);
  }
  if (!created && task.kind !== requested.kind) {
    throw new SpoolError(
      "failed_precondition",
      `${field}idempotency_key: "${requested.idempotencyKey}" already names task ${task.id} of kind "${task.kind}"`,
    );
  }
  return { task: taskToPb(task, seesServerDetails(principal)), created };
}

/** Splits lines into messages of at most maxMessageBytes of UTF-8 text each (at least one line). */
function* messagesOf(lines: LogLine[]): Generator<LogEntry[]> {
  let batch: LogEntry[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line.message);
    if (batch.length > 0 && bytes + size > maxMessageBytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(logLineToPb(line));
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}


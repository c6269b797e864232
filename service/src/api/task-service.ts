// The spool.v1.TaskService handlers: validate, call the domain, convert. Every failure reaches
// the caller as a gRPC status (api/status.ts); none escapes to crash the process.
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
import type { TaskOperations } from "../domain/operations.js";
import type { LogLine, NewTask, Task } from "../domain/task.js";
import { errorForLog, SpoolError } from "../errors.js";
import { logLineToPb, taskToPb } from "./convert.js";
import { decodingProblem } from "./decode-guard.js";
import type { StreamSlots } from "./stream-slots.js";
import { toServiceError } from "./status.js";
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

export function taskService(ops: TaskOperations, log: Logger, streams: StreamSlots): TaskServiceServer & Record<string, UntypedHandleCall> {
  const unary =
    <Req, Res>(method: string, handle: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const problem = decodingProblem(call.request);
      if (problem) return callback(reportError(log, method, problem));
      handle(call.request, call).then(
        (response) => callback(null, response),
        (error: unknown) => callback(reportError(log, method, error)),
      );
    };

  const found = async <T>(id: string, lookup: Promise<T | undefined>): Promise<T> => {
    const value = await lookup;
    if (value === undefined) throw new SpoolError("not_found", `task ${id} not found`);
    return value;
  };

  return {
    createTask: unary("CreateTask", async (request) => {
      const parsed = newTaskFromPb(request, ops.kinds);
      const newTask = { ...parsed, input: await ops.checkInput(parsed.kind, parsed.input, "input") };
      const [result] = await ops.create([newTask]);
      return createdToPb(newTask, result!);
    }),

    createTasks: unary("CreateTasks", async (request) => {
      const newTasks = await Promise.all(
        newTasksFromPb(request.tasks, ops.kinds).map(async (task, i) => ({
          ...task,
          input: await ops.checkInput(task.kind, task.input, `tasks[${i}].input`),
        })),
      );
      const results = await ops.create(newTasks);
      return { results: results.map((result, i) => createdToPb(newTasks[i]!, result, `tasks[${i}].`)) };
    }),

    getTask: unary("GetTask", async (request) => {
      const id = taskIdFrom("id", request.id);
      return { task: taskToPb(await found(id, ops.get(id))) };
    }),

    listTasks: unary("ListTasks", async (request, call) => {
      const query = listQueryFrom(request);
      const page = await boundedPage(ops, query, () => call.cancelled);
      return {
        tasks: page.tasks,
        nextPageToken: page.lastId === undefined ? "" : pageTokenFor(page.lastId, query.filterHash),
      };
    }),

    cancelTask: unary("CancelTask", async (request) => {
      const id = taskIdFrom("id", request.id);
      return { task: taskToPb(await found(id, ops.cancel(id, cancelReasonFrom(request.reason)))) };
    }),

    streamLogs: (call: ServerWritableStream<StreamLogsRequest, StreamLogsResponse>) =>
      serverStream(log, streams, "StreamLogs", call, async (send, signal) => {
        const request = logRequestFrom(call.request);
        await ops.streamLogs(request, {
          signal,
          write: async (lines: LogLine[]) => {
            for (const entries of messagesOf(lines)) await send({ entries });
          },
        });
      }),

    watchTask: (call: ServerWritableStream<WatchTaskRequest, WatchTaskResponse>) =>
      serverStream(log, streams, "WatchTask", call, async (send, signal) => {
        const id = taskIdFrom("id", call.request.id);
        await ops.watchTask(id, { signal, write: (task: Task) => send({ task: taskToPb(task) }) });
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
  run: (send: (message: Res) => Promise<void>, signal: AbortSignal) => Promise<void>,
): void {
  const reader = new AbortController();
  call.on("cancelled", () => reader.abort());
  call.on("error", () => reader.abort());
  const send = async (message: Res) => {
    if (reader.signal.aborted) return;
    if (!call.write(message)) await once(call, "drain", { signal: reader.signal }).catch(() => undefined);
  };
  const release = streams.acquire();
  Promise.resolve()
    .then(() => {
      if (!release) {
        throw new SpoolError("resource_exhausted", `this replica serves ${streams.max} streams already (SPOOL_MAX_STREAMS); retry later`);
      }
      const problem = decodingProblem(call.request);
      if (problem) throw problem;
      return run(send, reader.signal);
    })
    .finally(() => release?.())
    .then(
      () => {
        if (!reader.signal.aborted) call.end();
      },
      (error: unknown) => {
        if (!reader.signal.aborted) call.emit("error", reportError(log, method, error));
      },
    );
}

/**
 * One ListTasks page: at most `limit` tasks and at most maxReplyBytes encoded, so that a reply
 * always fits a client's default 4 MiB limit whatever the tasks carry (a page of 1000 tasks
 * with 1 MiB inputs each was a gigabyte). FULL pages are read a few rows at a time, so memory
 * holds about one reply, and reading stops when the caller has gone. `lastId` is set when
 * there may be more.
 */
async function boundedPage(ops: TaskOperations, query: ListQuery, gone: () => boolean): Promise<{ tasks: PbTask[]; lastId?: string }> {
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
      const task = taskToPb(row);
      const size = PbTask.encode(task).finish().length + 8; // + the field's tag and length
      if (tasks.length > 0 && bytes + size > maxReplyBytes) return { tasks, lastId: before };
      tasks.push(task);
      bytes += size;
      before = row.id;
    }
    if (rows.length < wanted) return { tasks };
  }
}

/** A create's result as protobuf; a reused idempotency key must name a task of the same kind. */
function createdToPb(requested: NewTask, { task, created }: { task: Task; created: boolean }, field = "") {
  if (!created && task.kind !== requested.kind) {
    throw new SpoolError(
      "failed_precondition",
      `${field}idempotency_key: "${requested.idempotencyKey}" already names task ${task.id} of kind "${task.kind}"`,
    );
  }
  return { task: taskToPb(task), created };
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

function reportError(log: Logger, method: string, error: unknown) {
  const serviceError = toServiceError(error);
  if (serviceError.code === status.INTERNAL) log.error({ err: errorForLog(error), method }, "request failed");
  else if (serviceError.code === status.UNAVAILABLE) log.warn({ err: errorForLog(error), method }, "request failed: database unavailable");
  return serviceError;
}

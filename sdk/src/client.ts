// SpoolClient: a typed client for spool.v1.TaskService over gRPC; `client.schedules` is
// ScheduleService on the same connection (schedules.ts).
import {
  credentials as grpcCredentials,
  Metadata,
  status,
  type ChannelCredentials,
  type ClientOptions,
  type ClientReadableStream,
} from "@grpc/grpc-js";
import {
  durationFromMs,
  levelFromPb,
  stateToPb,
  timestampFromDate,
  QueueServiceClient,
  AdminServiceClient,
  ScheduleServiceClient,
  TaskServiceClient,
  TaskView,
  type CreateTaskRequest,
  type LogEntry as PbLogEntry,
  type Task as PbTask,
} from "@spool/proto";
import { backoffSpecToPb, dateOf, taskFromPb } from "./convert.js";
import { SpoolError } from "./errors.js";
import { QueueClient } from "./queues.js";
import { WorkerClient } from "./workers.js";
import { withTraceContext } from "./trace-context.js";
import { ScheduleClient } from "./schedules.js";
import { retryDelayMs, UnaryCaller, type UnaryRequest, type UnaryResponse } from "./unary-caller.js";
import type { TaskDefinition } from "./task.js";
import type {
  Backoff,
  CreateTaskOptions,
  ListTasksOptions,
  LogEntry,
  LogOptions,
  NewTaskSpec,
  Task,
  TaskPage,
  TaskState,
} from "./types.js";
import { terminalStates } from "./types.js";

export interface SpoolClientOptions {
  /** Channel credentials; overrides `tls`. Default: insecure (plaintext), as on loopback or inside a mesh. */
  credentials?: ChannelCredentials;
  /**
   * TLS: `true` verifies the server against the system's root certificates; an object can
   * name other roots, a client certificate for a server that requires one (mTLS), and the
   * name to verify. Default: plaintext.
   */
  tls?: boolean | SpoolTlsOptions;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Deadline of unary calls, in ms; default 30 s. */
  deadlineMs?: number;
  /**
   * How often an idempotent call (get, list, cancel, and creates that carry an idempotency
   * key) is retried after UNAVAILABLE, with exponential backoff, or after RESOURCE_EXHAUSTED
   * with a retry delay of up to 10 s (the tenant's create rate), once that delay has passed;
   * default 4, 0 disables.
   */
  retries?: number;
}

/** TLS settings of a SpoolClient. Certificates and keys are PEM text (a file's contents), not file names. */
export interface SpoolTlsOptions {
  /** The root certificates to trust instead of the system's: your own CA, say. */
  ca?: string | Buffer;
  /** The client certificate (then any intermediates) to present, for mTLS; goes with `key`. */
  cert?: string | Buffer;
  /** The private key of `cert`. */
  key?: string | Buffer;
  /**
   * The name the server's certificate must carry, also sent as SNI, when it is not the host
   * of the address dialled (an IP address, or a load balancer's name).
   */
  serverName?: string;
  /** @deprecated The earlier name of `ca`. */
  rootCerts?: Buffer;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up after this many ms with a `deadline_exceeded` SpoolError. */
  timeoutMs?: number;
}

/**
 * The channel's transport settings, matched to the server's (service/src/api/transport-limits.ts).
 * Messages: 4 MiB both ways, as the server accepts and sends; a larger request fails here
 * with RESOURCE_EXHAUSTED instead of being sent in full to be refused. Keepalive: while calls
 * are open, ping every 30 s and drop the connection if no answer comes within 20 s, so a
 * follower of a long task whose replica vanished without a word reconnects (and resumes)
 * instead of waiting forever; no pings on an idle connection. The server tolerates pings
 * every 10 s.
 */
const channelOptions: Partial<ClientOptions> = {
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 0,
  // A connection of its own per client. grpc-js otherwise shares one between every client of
  // the process made alike, and a connection carries at most 100 calls at once (the server's
  // SPOOL_MAX_CONCURRENT_STREAMS): a process following 100 tasks through one client could not
  // create one through another, whose call waited for a slot until its deadline.
  "grpc.use_local_subchannel_pool": 1,
};

/** How often a stream (logs, watch) reconnects after UNAVAILABLE in a row before giving up. */
const maxResumes = 10;

export class SpoolClient {
  /** The queues: depth, limits, pause and resume (operator role). */
  readonly queues: QueueClient;
  /** The replicas and their worker threads: what runs where, right now (admin role). */
  readonly workers: WorkerClient;
  /** Recurring schedules (spool.v1.ScheduleService), on this client's connection. */
  readonly schedules: ScheduleClient;
  readonly #client: TaskServiceClient;
  readonly #metadata: Metadata;
  readonly #caller: UnaryCaller;

  /** @param address host:port of a Spool replica (or of a load balancer in front of several). */
  constructor(address: string, options: SpoolClientOptions = {}) {
    const tls = options.tls === true ? {} : options.tls || undefined;
    // grpc-js verifies the certificate against this name, and sends it as SNI, instead of the host.
    const nameOverride = options.credentials === undefined && tls?.serverName ? { "grpc.ssl_target_name_override": tls.serverName } : {};
    this.#client = new TaskServiceClient(address, options.credentials ?? credentialsFor(tls), { ...channelOptions, ...nameOverride });
    this.#metadata = new Metadata();
    if (options.token) this.#metadata.set("authorization", `Bearer ${options.token}`);
    this.#caller = new UnaryCaller(this.#metadata, options.deadlineMs ?? 30_000, options.retries ?? 4);
    // The other services' clients share this client's channel (one connection).
    const shared = { channelOverride: this.#client.getChannel() };
    this.queues = new QueueClient(new QueueServiceClient(address, grpcCredentials.createInsecure(), shared), this.#caller);
    this.schedules = new ScheduleClient(new ScheduleServiceClient(address, grpcCredentials.createInsecure(), shared), this.#caller);
    this.workers = new WorkerClient(new AdminServiceClient(address, grpcCredentials.createInsecure(), shared), this.#caller);
  }

  /**
   * Creates a task. Retried (after UNAVAILABLE, or after the delay a rate limit asks for) only
   * when it carries an idempotency key.
   */
  async createTask(kind: string, input?: unknown, options: CreateTaskOptions = {}): Promise<Task> {
    const request = createRequest({ kind, input, ...options });
    return taskFromPb((await this.#unary("createTask", request, request.idempotencyKey !== "")).task);
  }

  /** Creates up to 1000 tasks in one call: all or none. Results are in the same order. */
  async createTasks(tasks: NewTaskSpec[]): Promise<Task[]> {
    const requests = tasks.map(createRequest);
    const idempotent = requests.every((r) => r.idempotencyKey !== "");
    const response = await this.#unary("createTasks", { tasks: requests }, idempotent);
    return response.results.map((result) => taskFromPb(result.task));
  }

  /**
   * Creates a task of this definition's kind and waits for its result, typed by the
   * definition: `await client.run(sendEmail, { to })`. The input is what the definition's
   * schema accepts (fields with a default may be left out); the handler gets it parsed.
   * Rejects with a `task_failed` SpoolError (carrying the task) if it ends without success.
   */
  async run<Input, Output, CallerInput>(
    definition: TaskDefinition<Input, Output, CallerInput>,
    input: NoInfer<CallerInput>,
    options: CreateTaskOptions & WaitOptions = {},
  ): Promise<Output> {
    const { signal, timeoutMs, ...create } = options;
    const created = await this.createTask(definition.kind, input, create);
    const task = await this.waitForTask(created.id, { signal, timeoutMs });
    if (task.state === "succeeded") return task.result as Output;
    throw new SpoolError(
      "task_failed",
      `task ${task.id} (${task.kind}) ended ${task.state.toUpperCase()}: ${task.error ? `${task.error.type}: ${task.error.message}` : "no error given"}`,
      status.UNKNOWN,
      { task },
    );
  }

  async getTask(id: string): Promise<Task> {
    return taskFromPb((await this.#unary("getTask", { id }, true)).task);
  }

  /**
   * Every matching task, newest first, walking the pages as the loop goes on:
   * `for await (const task of client.listTasks({ states: ["failed"] }))`.
   */
  async *listTasks(options: Omit<ListTasksOptions, "pageToken"> = {}): AsyncGenerator<Task> {
    let pageToken: string | undefined;
    do {
      const page = await this.listTasksPage({ ...options, pageToken });
      yield* page.tasks;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** One page of matching tasks, newest first; pass nextPageToken back for the next one. */
  async listTasksPage(options: ListTasksOptions = {}): Promise<TaskPage> {
    const request = {
      states: (options.states ?? []).map(stateToPb),
      kinds: options.kinds ?? [],
      queue: options.queue ?? "",
      labels: options.labels ?? {},
      createdAfter: options.createdAfter && timestampFromDate(options.createdAfter),
      createdBefore: options.createdBefore && timestampFromDate(options.createdBefore),
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
      tenant: options.tenant ?? "",
      createdBy: options.createdBy ?? "",
      schedule: options.schedule ?? "",
      view: options.view === "full" ? TaskView.TASK_VIEW_FULL : TaskView.TASK_VIEW_BASIC,
    };
    const response = await this.#unary("listTasks", request, true);
    return { tasks: response.tasks.map(taskFromPb), nextPageToken: response.nextPageToken || undefined };
  }

  /** Cancels a task (idempotent: a task that ended is returned unchanged). */
  async cancelTask(id: string, reason?: string): Promise<Task> {
    return taskFromPb((await this.#unary("cancelTask", { id, reason: reason ?? "" }, true)).task);
  }

  /**
   * Runs a FAILED, CANCELLED or DROPPED task again, as a new task (returned, PENDING) with the
   * same kind, input, queue, priority, limits, labels, concurrency key and backoff, and
   * `retryOf` set to the old task's id; the old task stays as it was. `failed_precondition`
   * for a task that has not ended or that succeeded. Not retried by the client: each call
   * that reaches the service makes a new task.
   */
  async retryTask(id: string): Promise<Task> {
    return taskFromPb((await this.#unary("retryTask", { id }, false)).task);
  }

  /**
   * The task's log lines, in order. With `follow`, it waits for new lines until the task
   * ends; if the connection drops it reconnects after the last line it yielded, so nothing
   * is skipped or repeated.
   */
  async *streamLogs(taskId: string, options: LogOptions = {}): AsyncGenerator<LogEntry> {
    let afterSeq = options.afterSeq ?? 0;
    // The tail applies once: a resumed stream goes on from the last line it yielded.
    let tail = options.tail ?? 0;
    yield* this.#resumable(
      () => this.#client.streamLogs({ taskId, afterSeq: BigInt(afterSeq), follow: options.follow ?? false, tail }, withTraceContext(this.#metadata)),
      function* (message: { entries: PbLogEntry[] }) {
        for (const entry of message.entries) {
          afterSeq = Number(entry.seq);
          tail = 0;
          yield logEntryFromPb(entry);
        }
      },
      options.signal,
    );
  }

  /**
   * The task now, then each time its state or progress changes, ending with it terminal.
   * Reconnects by itself if the connection drops (a version already yielded is not repeated).
   */
  async *watchTask(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Task> {
    let last = "";
    yield* this.#resumable(
      () => this.#client.watchTask({ id }, withTraceContext(this.#metadata)),
      function* (message: { task?: PbTask }) {
        const task = taskFromPb(message.task);
        const version = `${task.state}/${task.attempt}/${task.progress?.updatedAt.getTime() ?? ""}/${task.cancelRequested}`;
        if (version === last) return;
        last = version;
        yield task;
      },
      options.signal,
    );
  }

  /** Resolves with the task once it has ended (no polling: it watches the task). */
  async waitForTask(id: string, options: WaitOptions = {}): Promise<Task> {
    const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)];
    const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
    let latest: Task | undefined;
    for await (const task of this.watchTask(id, { signal })) latest = task;
    if (latest && terminalStates.has(latest.state)) return latest;
    if (options.signal?.aborted) throw new SpoolError("cancelled", `waiting for task ${id} was aborted`, status.CANCELLED);
    throw new SpoolError("deadline_exceeded", `task ${id} did not end within ${options.timeoutMs} ms`, status.DEADLINE_EXCEEDED);
  }

  close(): void {
    this.#client.close();
  }

  /** Runs a server stream, reconnecting after UNAVAILABLE; `open` is called again each time. */
  async *#resumable<M, T>(
    open: () => ClientReadableStream<M>,
    unpack: (message: M) => Iterable<T>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<T> {
    let failures = 0;
    for (;;) {
      if (signal?.aborted) return;
      const call = open();
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        for await (const message of call as AsyncIterable<M>) {
          failures = 0;
          yield* unpack(message);
        }
        return;
      } catch (error) {
        if (signal?.aborted) return;
        const spoolError = SpoolError.from(error);
        const delay = retryDelayMs(spoolError, ++failures);
        if (delay === undefined || failures > maxResumes) throw spoolError;
        await new Promise((resolve) => setTimeout(resolve, delay));
      } finally {
        signal?.removeEventListener("abort", cancel);
        call.cancel();
      }
    }
  }

  #unary<M extends keyof TaskServiceClient & string>(
    method: M,
    request: UnaryRequest<TaskServiceClient, M>,
    idempotent: boolean,
  ): Promise<UnaryResponse<TaskServiceClient, M>> {
    return this.#caller.call(this.#client, method, request, idempotent);
  }
}

/** Plaintext without TLS options; else TLS with these roots (default: the system's) and client certificate. */
function credentialsFor(tls: SpoolTlsOptions | undefined): ChannelCredentials {
  if (!tls) return grpcCredentials.createInsecure();
  const pem = (value: string | Buffer | undefined) => (value === undefined ? null : Buffer.from(value));
  const ca = pem(tls.ca ?? tls.rootCerts);
  // OpenSSL skips what is not a certificate in a list of roots: a wrong file would leave no
  // root at all, and every server would then fail verification for no visible reason.
  const invalid = (message: string) => new SpoolError("invalid_argument", `SpoolClient: ${message}`, status.INVALID_ARGUMENT);
  if (ca && !ca.includes("-----BEGIN CERTIFICATE-----")) throw invalid("tls.ca holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw invalid("tls.cert and tls.key go together: give both, the client certificate and its private key");
  }
  try {
    return grpcCredentials.createSsl(ca, pem(tls.key), pem(tls.cert));
  } catch (error) {
    throw invalid(`tls.cert and tls.key are not a usable PEM certificate and its key: ${(error as Error).message}`);
  }
}

function createRequest(spec: NewTaskSpec): CreateTaskRequest {
  return {
    kind: spec.kind,
    input: spec.input,
    queue: spec.queue ?? "",
    priority: spec.priority ?? 0,
    runAt: spec.runAt && timestampFromDate(spec.runAt),
    maxAttempts: spec.maxAttempts ?? 0,
    timeout: spec.timeoutMs === undefined ? undefined : durationFromMs(spec.timeoutMs),
    idempotencyKey: spec.idempotencyKey ?? "",
    labels: spec.labels ?? {},
    concurrencyKey: spec.concurrencyKey ?? "",
    backoff: backoffSpecToPb(spec.backoff),
  };
}

function logEntryFromPb(entry: PbLogEntry): LogEntry {
  return {
    seq: Number(entry.seq),
    time: dateOf(entry.time),
    level: levelFromPb(entry.level) ?? "info",
    message: entry.message,
    attempt: entry.attempt,
    ...(entry.traceId && { traceId: entry.traceId, spanId: entry.spanId }),
  };
}

// Property-based test of the service's edge: random and malformed requests to every RPC of the
// built service (TaskService and QueueService), sent with a raw grpc-js client
// (support/raw-grpc.ts) as bytes from the generated ts-proto encoders, raw protobuf fields, or
// plain garbage (support/requests.ts), generated field by field (support/request-arbitraries.ts,
// support/queue-arbitraries.ts). For every answer:
//   1. the status is OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION or
//      RESOURCE_EXHAUSTED: never INTERNAL, UNKNOWN, UNAVAILABLE or DEADLINE_EXCEEDED, and an
//      OK answer can be read by the generated decoder;
//   2. an INVALID_ARGUMENT message starts with a field path of the request (`tasks[3].run_at: `,
//      `labels["k"]: `, `request: ` when it cannot be decoded), and no error message is over
//      1000 characters (none echoes a huge input back);
//   3. a valid request succeeds (NOT_FOUND for an id of no task; FAILED_PRECONDITION for a
//      RetryTask of a task that has not ended or succeeded), and a request with one bad field
//      is refused with INVALID_ARGUMENT naming that field;
//   4. a task CreateTask(s) accepted reads back with the run_at, timeout, priority, labels,
//      input and concurrency_key that were sent (to the millisecond for times), and its backoff
//      as the fields sent resolve over the defaults; a retry is a new PENDING task like the one
//      it retries, linked by retry_of; a queue change is answered, and then listed by
//      ListQueues, as the queue's earlier settings with the change applied, a refused change
//      changes nothing, and ListQueues lists the queues of the tenant asked for, each once;
// after the TaskService properties every accepted task ends and ListTasks still pages through
// what the run left behind; the QueueService properties run after that (they pause, limit and
// shorten the retention of the queues those tasks ran in), and after them all the process is
// alive and SERVING. The service runs with auth off: every call is an admin of tenant
// "default", who may name other tenants.
//
// Each (RPC, property, field) is checked on its own, so one bug does not hide another: first
// the field's named edges (int64 max, 100,000 kinds, NaN, ...), each of them, then a
// fast-check property over generated values. A failing test lists every failing edge and, per
// field, the shrunk counterexample. Seeded: the seed is printed; FC_SEED=<seed> replays a run,
// FC_RUNS=<n> generates more per field (default 10).
import { status } from "@grpc/grpc-js";
import {
  CancelTaskRequest,
  CreateTaskResponse,
  GetTaskRequest,
  ListQueuesRequest,
  ListQueuesResponse,
  ListTasksRequest,
  ListTasksResponse,
  QueueServiceService,
  RetryTaskRequest,
  Task,
  TaskServiceService,
  TaskState,
} from "@spool/proto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { queueFieldsByRpc } from "./support/queue-arbitraries.js";
import {
  answeredQueue,
  changeOf,
  namesAQueue,
  QueueModel,
  sameSettings,
  settingsOf,
  untouched,
  type QueueSettings,
} from "./support/queue-model.js";
import { RawClient, type Answer } from "./support/raw-grpc.js";
import {
  describeExpect,
  roundTripBatches,
  roundTripFields,
  taskFieldsByRpc,
  type Case,
  type Expect,
  type FieldCases,
} from "./support/request-arbitraries.js";
import {
  brief,
  encode,
  encodeCreate,
  labelEntries,
  minimalTask,
  serviceOf,
  type BackoffSpec,
  type CreateSpec,
  type Rpc,
  type Spec,
  type World,
} from "./support/requests.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { fieldsOf, mapEntriesOf, objectOf, RawText, readValue, stringOf, timeOf, withoutFields, type Json, type WireTime } from "./support/wire.js";

const database = useTestDatabase();
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env.FC_RUNS ?? 10);
/** Every call's deadline: an answer that takes longer counts as DEADLINE_EXCEEDED. */
const deadlineMs = 10_000;
/** How long a follow of a task that logs nothing may stay silent before the test closes it. */
const quietWindowMs = 1000;
/** Time for one field's runs and shrinking; past it fast-check reports what it has. */
const fieldBudgetMs = 20_000;
const maxRequestBytes = 4 * 1024 * 1024;

let service: ServiceProcess;
/** For the test's own well-formed calls; every generated request gets a connection of its own (call). */
let shared: RawClient;
let world: World;
/** Every task a CreateTask(s) call accepted, with its run_at as answered (ms). */
const accepted = new Map<string, number>();
/** The queues as the accepted QueueService changes left them. */
const queues = new QueueModel();
/** Generated requests sent, and their answers by status, for the summary printed at the end. */
const stats = { calls: 0, ms: 0, byStatus: new Map<string, number>() };

const allowed = new Set([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.RESOURCE_EXHAUSTED]);
const path = (rpc: Rpc) => `/${serviceOf(rpc)}/${rpc}`;
/** The generated decoders of an RPC's request and response. */
type Decoders = { requestDeserialize(bytes: Buffer): unknown; responseDeserialize(bytes: Buffer): unknown };
const methodOf = (rpc: Rpc): Decoders => {
  const methods: Record<string, Decoders> = serviceOf(rpc) === "spool.v1.QueueService" ? QueueServiceService : TaskServiceService;
  return methods[`${rpc[0]!.toLowerCase()}${rpc.slice(1)}`]!;
};
const clip = (text: string) => (text.length > 300 ? `${JSON.stringify(text.slice(0, 300))}… (${text.length} characters)` : JSON.stringify(text));
const describeAnswer = (answer: Answer) => `${status[answer.code]} ${clip(answer.details)}`;

beforeAll(async () => {
  console.log(`bad-input: fast-check seed ${seed}, ${numRuns} runs per field (FC_SEED=${seed} replays this run)`);
  service = await startService({
    DATABASE_URL: database.url,
    SPOOL_WORKERS: "2",
    SPOOL_CANCEL_GRACE_MS: "1000",
  });
  shared = new RawClient(service.address);
  // The tasks "known" ids refer to (World.knownIds): one done, one done with a log, one due
  // tomorrow, one cancelled and one failed (for RetryTask).
  const tomorrow: WireTime = { seconds: BigInt(Math.floor(Date.now() / 1000) + 86_400), nanos: 0 };
  const done = await create({ ...minimalTask, input: objectOf([["hello", "world"]]) });
  const logged = await create({ ...minimalTask, kind: "demo.log", input: objectOf([["lines", 20]]) });
  const later = await create({ ...minimalTask, runAt: tomorrow });
  const cancelled = await create({
    ...minimalTask,
    runAt: tomorrow,
    input: objectOf([["retry", "me"]]),
    labels: { entries: [["for", "retry"]] },
    concurrencyKey: "customer-1",
    backoff: { base: { seconds: 2n, nanos: 0 }, jitter: 0 },
  });
  const cancel = CancelTaskRequest.encode({ id: cancelled, reason: "to be retried" }).finish();
  expect(describeAnswer(await call((client) => client.unary(path("CancelTask"), cancel, deadlineMs)))).toBe(`OK ""`);
  const failed = await create({ ...minimalTask, kind: "demo.sleep", input: objectOf<Json>([["seconds", 0], ["fail", true]]), maxAttempts: 1 });
  // One more due tomorrow, which only RetryTask names (and leaves as it is), so it stays
  // pending until the end: the scheduler's next wake-up then stays within setTimeout's range.
  // (Node fires a timer of more than 2^31 ms at once; with only tasks due in over 24.8 days
  // pending, this version re-claims in a loop, hundreds of times a second, and slows the whole run.)
  const parked = await create({ ...minimalTask, runAt: tomorrow });
  for (const id of [done, logged, failed]) await untilEnded(id);
  const list = await call((client) => client.unary(path("ListTasks"), Uint8Array.of(0x38, 0x01), deadlineMs)); // page_size: 1
  expect(describeAnswer(list)).toBe(`OK ""`);
  world = {
    knownIds: [done, logged, later, cancelled, failed, parked],
    issuedPageToken: ListTasksResponse.decode(list.messages[0]!).nextPageToken,
    keySalt: "",
  };
  expect(world.issuedPageToken).not.toBe("");
}, 60_000);

afterAll(async () => {
  const byStatus = [...stats.byStatus].map(([code, count]) => `${code} ${count}`).join(", ");
  console.log(`bad-input: ${stats.calls} generated requests, ${(stats.ms / 1000).toFixed(1)} s waiting for answers; ${byStatus}`);
  shared?.close();
  await killAll();
});

/**
 * Runs one call on a connection of its own: an answer that wedges its connection (the service
 * sends an oversized error trailer, say) must not fail the calls that come after it.
 */
async function call<T>(use: (client: RawClient) => Promise<T>): Promise<T> {
  const client = new RawClient(service.address);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function create(task: CreateSpec): Promise<string> {
  const answer = await call((client) => client.unary(path("CreateTask"), encodeCreate(task), deadlineMs));
  expect(describeAnswer(answer)).toBe(`OK ""`);
  noteAccepted("CreateTask", answer);
  return CreateTaskResponse.decode(answer.messages[0]!).task!.id;
}

async function getTask(id: string, timeoutMs = deadlineMs): Promise<Answer> {
  return shared.unary(path("GetTask"), GetTaskRequest.encode({ id }).finish(), timeoutMs);
}

async function untilEnded(id: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    const answer = await getTask(id);
    if (answer.code === status.OK && !live(readTask(fieldsOf(answer.messages[0]!, 1)[0]!).task.state)) return;
  }
  throw new Error(`task ${id} did not end within 30 s`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const live = (state: TaskState) => state === TaskState.TASK_STATE_PENDING || state === TaskState.TASK_STATE_RUNNING;

// ---------------------------------------------------------------------------------------------
// Sending

interface Sent {
  bytes: Uint8Array;
  answer: Answer;
  /** For a change of a queue: its settings as the last accepted change left them (undefined: untouched). */
  queueBefore?: QueueSettings | undefined;
}

/** A follow of a task that exists may rightly stay open without a word. */
function mayStaySilent(spec: Spec): boolean {
  return "taskId" in spec && spec.follow && typeof spec.taskId === "object" && !(spec.taskId instanceof RawText) && "known" in spec.taskId;
}

async function send(c: Case): Promise<Sent> {
  world.keySalt = `${stats.calls}.`;
  const bytes = encode(c.spec, world);
  const { rpc } = c.spec;
  const asked = changeOf(rpc, bytes);
  const queueBefore = asked && queues.changed(asked.tenant, asked.name);
  const started = performance.now();
  const answer = await call((client) => {
    // WatchTask ends only with its task: the first message is the answer.
    if (rpc === "WatchTask") return client.serverStream(path(rpc), bytes, { deadlineMs, closeAfterFirst: true });
    if (rpc === "StreamLogs") {
      return client.serverStream(path(rpc), bytes, { deadlineMs, ...(mayStaySilent(c.spec) ? { quietWindowMs } : {}) });
    }
    return client.unary(path(rpc), bytes, deadlineMs);
  });
  stats.calls++;
  stats.ms += performance.now() - started;
  stats.byStatus.set(status[answer.code], (stats.byStatus.get(status[answer.code]) ?? 0) + 1);
  noteAccepted(rpc, answer);
  if (asked && answer.code === status.OK) queues.record(answeredQueue(answer.messages[0]!));
  return { bytes, answer, queueBefore };
}

/** Remembers the tasks an OK CreateTask(s) or RetryTask answer names, for the final check. */
function noteAccepted(rpc: Rpc, answer: Answer): void {
  if (answer.code !== status.OK || (rpc !== "CreateTask" && rpc !== "CreateTasks" && rpc !== "RetryTask")) return;
  const results = rpc === "CreateTasks" ? fieldsOf(answer.messages[0] ?? new Uint8Array(), 1) : answer.messages;
  for (const result of results) {
    for (const task of fieldsOf(result, 1)) {
      const id = stringOf(task, 1);
      const runAt = timeOf(task, 16);
      // An unreadable run_at counts as in the future: the task gets cancelled at the end.
      accepted.set(id, runAt ? Number(runAt.seconds) * 1000 : Number.POSITIVE_INFINITY);
    }
  }
}

/** A Task as on the wire: the generated decoder for the plain fields, wire.ts for input and labels. */
function readTask(bytes: Uint8Array): { task: Task; input: Json | undefined; labels: [string, string][] } {
  const input = fieldsOf(bytes, 4).at(-1);
  return {
    task: Task.decode(withoutFields(bytes, [4, 5, 11])),
    input: input === undefined ? undefined : readValue(input),
    labels: mapEntriesOf(bytes, 11),
  };
}

// ---------------------------------------------------------------------------------------------
// The properties, each a function from a sent case to a problem (or none)

type Problem = (c: Case, sent: Sent) => string | undefined | Promise<string | undefined>;

/** 1. An allowed status; an OK answer the generated decoder can read. */
const statusProblem: Problem = (c, { answer }) => {
  if (!allowed.has(answer.code)) return `answered ${describeAnswer(answer)}`;
  if (answer.code !== status.OK) return undefined;
  try {
    for (const message of answer.messages) methodOf(c.spec.rpc).responseDeserialize(message);
  } catch (error) {
    return `answered OK, but the generated decoder cannot read the answer: ${(error as Error).message}`;
  }
  return undefined;
};

/** 2. INVALID_ARGUMENT starts with a field path; no error message over 1000 characters. */
const messageProblem: Problem = (c, { answer }) => {
  if (answer.code === status.OK) return undefined;
  // No answer arrived, so no message to judge. Seen when the message was too big to send: the
  // trailer carrying an echo of a huge value wedges the connection.
  if (answer.code === status.DEADLINE_EXCEEDED || answer.code === status.CANCELLED) return `no answer arrived: ${describeAnswer(answer)}`;
  if (answer.details.length > 1000) return `answered a message of ${answer.details.length} characters: ${describeAnswer(answer)}`;
  if (answer.code === status.INVALID_ARGUMENT && !namesField(c.spec.rpc, answer.details)) {
    return `answered INVALID_ARGUMENT without a field path of ${c.spec.rpc}Request first: ${describeAnswer(answer)}`;
  }
  return undefined;
};

/** 3. Valid requests succeed; one bad field is refused, by name. */
const oracleProblem: Problem = (c, { bytes, answer }) => {
  const expected = expectationOf(c, bytes);
  const wanted = `expected ${describeExpect(expected)}, answered ${describeAnswer(answer)}`;
  switch (expected.type) {
    case "ok":
      return answer.code === status.OK ? undefined : wanted;
    case "not_found":
      return answer.code === status.NOT_FOUND ? undefined : wanted;
    case "failed_precondition":
      return answer.code === status.FAILED_PRECONDITION ? undefined : wanted;
    case "refused":
      // The transport refuses a request over its size limit before the service sees it.
      if (answer.code === status.RESOURCE_EXHAUSTED && bytes.length > maxRequestBytes) return undefined;
      if (answer.code !== status.INVALID_ARGUMENT) return wanted;
      if (expected.path === null) return namesField(c.spec.rpc, answer.details) ? undefined : wanted;
      return answer.details.startsWith(expected.path) && /^[:[.]/.test(answer.details.slice(expected.path.length)) ? undefined : wanted;
    case "any":
      return undefined;
  }
};

/** Bytes the generated decoder cannot read must be refused (with any field path, `request` included). */
function expectationOf(c: Case, bytes: Uint8Array): Expect {
  if (!("bytes" in c.spec || "cut" in c.spec || "corrupt" in c.spec)) return c.expect;
  try {
    methodOf(c.spec.rpc).requestDeserialize(Buffer.from(bytes));
    return { type: "any" };
  } catch {
    return { type: "refused", path: null };
  }
}

const requestFields: Record<Rpc, readonly string[]> = {
  CreateTask: ["kind", "input", "queue", "priority", "run_at", "max_attempts", "timeout", "idempotency_key", "labels", "concurrency_key", "backoff"],
  CreateTasks: ["tasks"],
  GetTask: ["id"],
  ListTasks: ["states", "kinds", "queue", "labels", "created_after", "created_before", "page_size", "page_token", "view", "tenant", "created_by", "schedule"],
  StreamLogs: ["task_id", "after_seq", "follow", "tail"],
  CancelTask: ["id", "reason"],
  WatchTask: ["id"],
  RetryTask: ["id"],
  ListQueues: ["tenant", "page_size", "page_token"],
  UpdateQueue: ["name", "concurrency_limit", "key_concurrency_limit", "retention", "tenant"],
  PauseQueue: ["name", "tenant"],
  ResumeQueue: ["name", "tenant"],
};

/**
 * True if the message starts with a path into the request: one of its fields (or `request`),
 * then any indexes, map keys and subfields (`tasks[3].labels["k"]`), then ": ".
 */
function namesField(rpc: Rpc, message: string): boolean {
  const start = message.slice(0, 2000);
  const top = /^[a-z_]+/.exec(start)?.[0];
  if (top === undefined) return false;
  let rest = start.slice(top.length);
  if (top === "request") return rest.startsWith(": ");
  if (!requestFields[rpc].includes(top)) return false;
  if (rpc === "CreateTasks") {
    const inner = /^\[\d+\]\.([a-z_]+)/.exec(rest);
    if (inner) {
      if (!requestFields.CreateTask.includes(inner[1]!)) return false;
      rest = rest.slice(inner[0].length);
    }
  }
  return /^(?:\[(?:\d+|".*?")\]|\.[^\s:[]+)*: /s.test(rest);
}

// ---------------------------------------------------------------------------------------------
// Running the properties

/** A seed per property, from the run's seed and its name: each replays on its own. */
function seedOf(name: string): number {
  let hash = 2166136261;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  return (seed ^ hash) >>> 0;
}

/**
 * Checks `problem` for each field's cases. First its edges, each one (a fixed value is not
 * shrunk, and one failing edge must not hide another); then numRuns generated requests, as a
 * fast-check property that shrinks its first failure to a minimal one. The oracle knows what
 * to expect of valid and bad edges; the general properties take the bad and odd ones (valid
 * edges would only repeat the oracle's calls). The largest edges (~1.5 MiB) go to the status
 * property only: elsewhere a 1001-character edge makes the same point, and while the service
 * echoes values in its messages each costs a whole deadline.
 */
async function checkFields(
  title: string,
  fields: FieldCases[],
  pick: "oracle" | "wild",
  problem: Problem,
  options: { largestEdges?: boolean } = {},
): Promise<void> {
  const failures: string[] = [];
  let failingFields = 0;
  for (const field of fields) {
    const before = failures.length;
    const edges = (field.edges ?? []).filter(
      (c) =>
        (pick === "oracle" ? c.expect.type !== "any" : c.expect.type !== "ok") &&
        (options.largestEdges || encode(c.spec, world).length < 1_400_000),
    );
    for (const edge of edges) {
      const found = await problem(edge, await send(edge));
      if (found !== undefined) failures.push(`[${field.field}] edge: ${fc.stringify(edge)}\n    -> ${found}`);
    }
    const name = `${title} / ${field.field}`;
    const details = await fc.check(
      fc.asyncProperty(field[pick], async (c) => {
        const found = await problem(c, await send(c));
        if (found !== undefined) throw new Error(found);
      }),
      { seed: seedOf(name), numRuns, plugins: [fc.interruptAfterTimeLimit(fieldBudgetMs)] },
    );
    if (details.failed) failures.push(failure(field.field, details));
    else if (details.interrupted) console.log(`bad-input: ${name}: only ${details.numRuns} runs within ${fieldBudgetMs / 1000} s`);
    if (failures.length > before) failingFields++;
  }
  if (failures.length > 0) expect.fail(`${failingFields} of ${fields.length} fields fail:\n\n${failures.join("\n\n")}`);
}

function failure(field: string, details: fc.RunDetails<unknown>): string {
  const example = Array.isArray(details.counterexample) ? fc.stringify(details.counterexample[0]) : "(none)";
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return [
    `[${field}] generated: ${example}`,
    `    -> ${error}`,
    `    (seed ${details.seed}, path "${details.counterexamplePath}", ${details.numShrinks} shrinks` +
      `${details.interrupted ? ", shrinking cut short" : ""})`,
  ].join("\n");
}

/** Worst case for a test: every edge and every generated run answered only at the deadline. */
const timeoutFor = (fields: FieldCases[]) =>
  fields.reduce((total, field) => total + (field.edges?.length ?? 0) * deadlineMs + fieldBudgetMs + deadlineMs, 30_000);

/** The RPCs that only read first: ListTasks then pages over a small table. */
const order: Rpc[] = ["ListTasks", "GetTask", "WatchTask", "StreamLogs", "CancelTask", "RetryTask", "CreateTask", "CreateTasks"];

/**
 * QueueService's, after every task has ended (see "after the task properties"): pausing the
 * queues the tasks ran in, limiting them or shortening their retention would hold those tasks
 * up or delete them. ListQueues last, when it has changes to list.
 */
const queueOrder: Rpc[] = ["UpdateQueue", "PauseQueue", "ResumeQueue", "ListQueues"];

const queueChangeCheck = {
  title: "an accepted change answers, and ListQueues then lists, the queue's earlier settings with the change applied; a refused one changes nothing",
  problem: (c: Case, sent: Sent) => queueChangeProblem(c.spec.rpc, sent),
};

/** Checks of what an RPC's requests did, beyond the three every RPC gets. */
const readBack: Partial<Record<Rpc, { title: string; problem: Problem }>> = {
  RetryTask: {
    title: "an accepted retry is a new PENDING (or already RUNNING) task like the retried one, linked to it by retry_of, and the retried task stays as it was",
    problem: (c, sent) => retryProblem(c, sent),
  },
  UpdateQueue: queueChangeCheck,
  PauseQueue: queueChangeCheck,
  ResumeQueue: queueChangeCheck,
  ListQueues: {
    title: 'lists the queues of the tenant asked for (of every tenant for "*"), each once, every changed one with its settings as last changed',
    problem: (_c, sent) => listQueuesProblem(sent),
  },
};

const fieldsByRpc: Record<Rpc, () => FieldCases[]> = { ...taskFieldsByRpc, ...queueFieldsByRpc };

/** The properties of one RPC, each a test of its own. */
function describeRpc(rpc: Rpc): void {
  describe(rpc, () => {
    const fields = fieldsByRpc[rpc]();
    const timeout = timeoutFor(fields);
    it(
      "answers OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION or RESOURCE_EXHAUSTED (never INTERNAL, UNKNOWN, UNAVAILABLE, DEADLINE_EXCEEDED)",
      () => checkFields(`${rpc} status`, fields, "wild", statusProblem, { largestEdges: true }),
      timeout,
    );
    it(
      "starts INVALID_ARGUMENT messages with the field path, and never answers a message over 1000 characters",
      () => checkFields(`${rpc} message`, fields, "wild", messageProblem),
      timeout,
    );
    it(
      "accepts valid requests, and refuses a request with one bad field with INVALID_ARGUMENT naming it",
      () => checkFields(`${rpc} oracle`, fields, "oracle", oracleProblem),
      timeout,
    );
    const check = readBack[rpc];
    if (check) it(check.title, () => checkFields(`${rpc} read back`, fields, "wild", check.problem), timeout);
  });
}

order.forEach(describeRpc);

// ---------------------------------------------------------------------------------------------
// 4. Round trip

/** What a string is once it went through UTF-8 (a lone surrogate becomes U+FFFD). */
const utf8 = (text: string) => Buffer.from(text).toString();

/** The input as the service received it. */
function received(value: Json | undefined): Json | undefined {
  if (value instanceof RawText) return value.decoded;
  if (typeof value === "string") return utf8(value);
  if (Array.isArray(value)) return value.map((item) => received(item) ?? null);
  if (typeof value === "object" && value !== null) {
    return objectOf(Object.keys(value).map((key) => [utf8(key), received(value[key]) ?? null] as const));
  }
  return value;
}

/** JSON equality; null and unset are the same, and so are 0 and -0 (JSON has one zero). */
function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return a === b;
  if (a instanceof RawText || b instanceof RawText || Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, Json>)[key], (b as Record<string, Json>)[key]));
}

const nanosOf = (time: WireTime) => time.seconds * 1_000_000_000n + BigInt(time.nanos);
const defaultTimeout: WireTime = { seconds: 900n, nanos: 0 };

/** How a task read back differs from what was sent (times to the millisecond). */
function differences(sent: CreateSpec, taskBytes: Uint8Array): string[] {
  const got = readTask(taskBytes);
  const found: string[] = [];
  if (got.task.priority !== sent.priority) found.push(`priority: sent ${sent.priority}, read back ${got.task.priority}`);
  const wantLabels = new Map(labelEntries(sent.labels).map(([key, value]) => [text(key), text(value)]));
  const gotLabels = new Map(got.labels);
  const sameLabels = wantLabels.size === gotLabels.size && [...wantLabels].every(([key, value]) => gotLabels.get(key) === value);
  if (!sameLabels) found.push(`labels: sent ${brief(Object.fromEntries(wantLabels))}, read back ${brief(Object.fromEntries(gotLabels))}`);
  const wantInput = received(sent.input);
  if (!sameJson(wantInput, got.input)) found.push(`input: sent ${brief(wantInput)}, read back ${brief(got.input)}`);
  for (const [name, field, want] of [
    ["run_at", 16, sent.runAt],
    ["timeout", 13, sent.timeout ?? defaultTimeout],
  ] as const) {
    if (want === undefined) continue;
    const back = timeOf(taskBytes, field);
    const off = back === undefined ? undefined : nanosOf(back) - nanosOf(want);
    if (off === undefined || off >= 1_000_000n || off <= -1_000_000n) {
      found.push(`${name}: sent ${brief(want)}, read back ${brief(back)}`);
    }
  }
  if (got.task.concurrencyKey !== text(sent.concurrencyKey)) {
    found.push(`concurrency_key: sent ${brief(text(sent.concurrencyKey))}, read back ${brief(got.task.concurrencyKey)}`);
  }
  const wantBackoff = resolvedBackoff(sent.backoff);
  const gotBackoff = got.task.backoff && {
    base: got.task.backoff.base && nanosOf(got.task.backoff.base),
    factor: got.task.backoff.factor,
    max: got.task.backoff.max && nanosOf(got.task.backoff.max),
    jitter: got.task.backoff.jitter,
  };
  if (!gotBackoff || (Object.keys(wantBackoff) as (keyof typeof wantBackoff)[]).some((key) => gotBackoff[key] !== wantBackoff[key])) {
    found.push(`backoff: sent ${brief(sent.backoff)}, read back ${brief(gotBackoff)}, expected ${brief(wantBackoff)}`);
  }
  return found;
}

/**
 * The backoff a demo.echo task reads back with: the fields sent over the defaults (the kind
 * sets none), durations in whole milliseconds; a factor of 0 or -0 is unset.
 */
function resolvedBackoff(sent: BackoffSpec | undefined) {
  const wholeMs = (time: WireTime) => (nanosOf(time) / 1_000_000n) * 1_000_000n;
  return {
    base: sent?.base ? wholeMs(sent.base) : 1_000_000_000n,
    factor: sent?.factor ? sent.factor : 2,
    max: sent?.max ? wholeMs(sent.max) : 3_600_000_000_000n,
    jitter: sent?.jitter ?? 0.25,
  };
}

const text = (value: string | RawText) => (value instanceof RawText ? value.decoded : utf8(value));

const roundTripProblem: Problem = async (c, { answer }) => {
  if (answer.code !== status.OK) return undefined; // refused: fine here
  const { spec } = c;
  const sentTasks = "request" in spec && "kind" in spec.request ? [spec.request] : "tasks" in spec && Array.isArray(spec.tasks) ? spec.tasks : [];
  const results = c.spec.rpc === "CreateTask" ? answer.messages : fieldsOf(answer.messages[0]!, 1);
  for (const [i, result] of results.entries()) {
    const sentTask = sentTasks[i];
    if (!sentTask || !CreateTaskResponse.decode(withoutFields(result, [1])).created) continue; // created: false is an earlier task
    const id = stringOf(fieldsOf(result, 1)[0]!, 1);
    const back = await getTask(id);
    if (back.code !== status.OK) return `GetTask of the accepted task ${id} answered ${describeAnswer(back)}`;
    const found = differences(sentTask, fieldsOf(back.messages[0]!, 1)[0]!);
    if (found.length > 0) return `task ${id} reads back otherwise: ${found.join("; ")}`;
  }
  return undefined;
};

const retryableStates = new Set([TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELLED, TaskState.TASK_STATE_DROPPED]);

/** 4. What RetryTask made: a new task like the old one (input, limits, labels, ...), PENDING or RUNNING, with retry_of. */
async function retryProblem(_c: Case, { bytes, answer }: Sent): Promise<string | undefined> {
  if (answer.code !== status.OK) return undefined;
  const id = RetryTaskRequest.decode(bytes).id.toLowerCase();
  const retry = readTask(fieldsOf(answer.messages[0]!, 1)[0]!);
  const old = await getTask(id);
  if (old.code !== status.OK) return `GetTask of the retried task ${id} answered ${describeAnswer(old)}`;
  const before = readTask(fieldsOf(old.messages[0]!, 1)[0]!);
  const found: string[] = [];
  if (!retryableStates.has(before.task.state)) found.push(`the retried task is ${TaskState[before.task.state]}`);
  if (retry.task.retryOf !== id) found.push(`retry_of is ${JSON.stringify(retry.task.retryOf)}`);
  if (retry.task.id === id || world.knownIds.includes(retry.task.id)) found.push(`the retry has the id ${retry.task.id} of a task that existed`);
  // PENDING, or RUNNING already when a thread was idle (start on create).
  if (!live(retry.task.state)) found.push(`the retry is ${TaskState[retry.task.state]}`);
  const copied = ({ kind, queue, priority, maxAttempts, timeout, concurrencyKey, backoff, tenant }: Task) =>
    JSON.stringify({ kind, queue, priority, maxAttempts, timeout, concurrencyKey, backoff, tenant }, (_, value: unknown) =>
      typeof value === "bigint" ? `${value}n` : value,
    );
  if (copied(retry.task) !== copied(before.task)) found.push(`the retry is ${copied(retry.task)}, the retried task ${copied(before.task)}`);
  if (!sameJson(retry.input, before.input)) found.push(`input: ${brief(retry.input)}, the retried task's ${brief(before.input)}`);
  if (brief(retry.labels.sort()) !== brief(before.labels.sort())) {
    found.push(`labels: ${brief(retry.labels)}, the retried task's ${brief(before.labels)}`);
  }
  return found.length === 0 ? undefined : `RetryTask of ${id}: ${found.join("; ")}`;
}

describe("round trip", () => {
  const fields = roundTripFields();
  it(
    "CreateTask: an accepted task reads back with the run_at, timeout, priority, labels, input, concurrency_key and backoff sent",
    () => checkFields("round trip CreateTask", fields, "wild", roundTripProblem),
    timeoutFor(fields),
  );
  it(
    "CreateTasks: every accepted task reads back as sent",
    () => checkFields("round trip CreateTasks", [roundTripBatches()], "wild", roundTripProblem),
    timeoutFor([roundTripBatches()]),
  );
});

// ---------------------------------------------------------------------------------------------
// After every property

describe("after the task properties", () => {
  it("the service is alive and SERVING, GetTask answers, and every accepted task ends", async () => {
    expect({ exitCode: service.child.exitCode, signal: service.child.signalCode }).toEqual({ exitCode: null, signal: null });
    expect(await shared.health("", 5000)).toBe("SERVING");
    expect(await shared.health("spool.v1.TaskService", 5000)).toBe("SERVING");
    expect(describeAnswer(await getTask(world.knownIds[0]!, 5000))).toBe(`OK ""`);

    // Tasks due in the future would wait for years: cancel them, and let the rest run.
    const cancelFailures: string[] = [];
    for (const [id, runAt] of accepted) {
      if (runAt <= Date.now()) continue;
      const request = CancelTaskRequest.encode({ id, reason: "bad-input test ends" }).finish();
      const answer = await shared.unary(path("CancelTask"), request, deadlineMs);
      if (answer.code !== status.OK) cancelFailures.push(`${id}: ${describeAnswer(answer)}`);
    }

    // Bounded polling: GetTask every id not seen ended yet, 16 at a time.
    let pending = [...accepted.keys()];
    const lastSeen = new Map<string, string>();
    for (const deadline = Date.now() + 90_000; pending.length > 0 && Date.now() < deadline; ) {
      const stillLive: string[] = [];
      for (let i = 0; i < pending.length; i += 16) {
        await Promise.all(
          pending.slice(i, i + 16).map(async (id) => {
            const answer = await getTask(id);
            if (answer.code !== status.OK) {
              lastSeen.set(id, describeAnswer(answer));
              stillLive.push(id);
              return;
            }
            const { task } = readTask(fieldsOf(answer.messages[0]!, 1)[0]!);
            lastSeen.set(id, TaskState[task.state]);
            if (live(task.state)) stillLive.push(id);
          }),
        );
      }
      pending = stillLive;
      if (pending.length > 0) await sleep(500);
    }
    console.log(`bad-input: ${accepted.size} tasks accepted in all, ${pending.length} not ended`);
    expect({
      notEnded: pending.slice(0, 20).map((id) => `${id}: ${lastSeen.get(id)}`),
      cancelFailures: cancelFailures.slice(0, 20),
    }).toEqual({ notEnded: [], cancelFailures: [] });
  }, 150_000);

  it("ListTasks still pages through every task the run left behind", async () => {
    let listed = 0;
    let pageToken = "";
    for (let page = 0; page < 1000; page++) {
      const request = ListTasksRequest.encode(ListTasksRequest.create({ pageSize: 200, pageToken })).finish();
      const answer = await shared.unary(path("ListTasks"), request, 15_000);
      expect(describeAnswer(answer), `page ${page + 1}, after ${listed} tasks`).toBe(`OK ""`);
      listed += fieldsOf(answer.messages[0]!, 1).length;
      pageToken = stringOf(answer.messages[0]!, 2);
      if (pageToken === "") break;
    }
    expect(listed).toBeGreaterThanOrEqual(accepted.size);
  }, 150_000);
});

// ---------------------------------------------------------------------------------------------
// QueueService: its changes read back (support/queue-model.ts)

/** The settings ListQueues lists for a queue (undefined: none of that name), or why it could not list. */
async function listedSettings(tenant: string, name: string): Promise<QueueSettings | string | undefined> {
  const answer = await shared.unary(path("ListQueues"), ListQueuesRequest.encode({ tenant, pageSize: 1000, pageToken: "" }).finish(), deadlineMs);
  if (answer.code !== status.OK) return `ListQueues answered ${describeAnswer(answer)}`;
  const queue = ListQueuesResponse.decode(answer.messages[0]!).queues.find((q) => q.name === name);
  return queue && settingsOf(queue);
}

async function queueChangeProblem(rpc: Rpc, { bytes, answer, queueBefore }: Sent): Promise<string | undefined> {
  const asked = changeOf(rpc, bytes);
  if (!asked) return undefined;
  if (answer.code === status.OK) {
    const queue = answeredQueue(answer.messages[0]!);
    const want = { ...(queueBefore ?? untouched), ...asked.change };
    const found: string[] = [];
    if (queue.tenant !== asked.tenant || queue.name !== asked.name) {
      found.push(`answered queue ${brief(queue.name)} of tenant ${brief(queue.tenant)} for ${brief(asked.name)} of ${brief(asked.tenant)}`);
    }
    if (!sameSettings(settingsOf(queue), want)) found.push(`answered ${brief(settingsOf(queue))}, expected ${brief(want)}`);
    const listed = await listedSettings(asked.tenant, asked.name);
    if (typeof listed === "string" || !sameSettings(listed, settingsOf(queue))) found.push(`then ListQueues lists ${brief(listed)}`);
    return found.length === 0 ? undefined : found.join("; ");
  }
  // A refused change changes nothing (checked where the run changed the queue before).
  const before = queues.changed(asked.tenant, asked.name);
  if (answer.code !== status.INVALID_ARGUMENT || before === undefined || !namesAQueue(asked)) return undefined;
  const listed = await listedSettings(asked.tenant, asked.name);
  if (typeof listed !== "string" && sameSettings(listed, before)) return undefined;
  return `refused with ${describeAnswer(answer)}, yet ListQueues then lists ${brief(listed)} where the last change left ${brief(before)}`;
}

function listQueuesProblem({ bytes, answer }: Sent): string | undefined {
  if (answer.code !== status.OK) return undefined;
  const requested = ListQueuesRequest.decode(bytes).tenant;
  const found = queues.listingProblems(requested, answer.messages[0]!);
  if (found.length === 0) return undefined;
  return `ListQueues of ${brief(requested)}: ${found.slice(0, 5).join("; ")}${found.length > 5 ? `; ... (${found.length} in all)` : ""}`;
}

queueOrder.forEach(describeRpc);

describe("after every property", () => {
  it("the service is alive and SERVING, QueueService too, and ListQueues of every tenant lists every change", async () => {
    expect({ exitCode: service.child.exitCode, signal: service.child.signalCode }).toEqual({ exitCode: null, signal: null });
    expect(await shared.health("", 5000)).toBe("SERVING");
    expect(await shared.health("spool.v1.QueueService", 5000)).toBe("SERVING");
    const bytes = ListQueuesRequest.encode({ tenant: "*", pageSize: 1000, pageToken: "" }).finish();
    const answer = await shared.unary(path("ListQueues"), bytes, deadlineMs);
    expect(describeAnswer(answer)).toBe(`OK ""`);
    expect(queues.size).toBeGreaterThan(0);
    // One page holds every queue of the run, so the model can look for each one it changed.
    expect(ListQueuesResponse.decode(answer.messages[0]!).nextPageToken).toBe("");
    expect(listQueuesProblem({ bytes, answer })).toBeUndefined();
  }, 30_000);
});

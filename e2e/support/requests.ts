// TaskService and QueueService requests as plain data (specs) that a generator can build and
// shrink, and their encoding: the generated ts-proto encoders for everything they can express,
// followed by raw fields (wire.ts) for the rest. Protobuf reads a field that appears later as
// overriding (or, for repeated and map fields, extending) what came before, and a raw field is
// only written when its typed twin was left at its default, so the bytes say exactly what the
// spec says.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  CancelTaskRequest,
  CreateTaskRequest,
  GetTaskRequest,
  ListQueuesRequest,
  ListTasksRequest,
  PauseQueueRequest,
  ResumeQueueRequest,
  RetryTaskRequest,
  StreamLogsRequest,
  UpdateQueueRequest,
  WatchTaskRequest,
} from "@spool/proto";
import { holdsRawText, RawText, writeText, writeTime, writeValueField, type Json, type Text, type WireTime } from "./wire.js";

export type TaskRpc = "CreateTask" | "CreateTasks" | "GetTask" | "ListTasks" | "StreamLogs" | "CancelTask" | "WatchTask" | "RetryTask";
export type QueueRpc = "ListQueues" | "UpdateQueue" | "PauseQueue" | "ResumeQueue";
export type Rpc = TaskRpc | QueueRpc;

const queueRpcs: ReadonlySet<Rpc> = new Set<QueueRpc>(["ListQueues", "UpdateQueue", "PauseQueue", "ResumeQueue"]);

/** The service an RPC belongs to. */
export const serviceOf = (rpc: Rpc): "spool.v1.TaskService" | "spool.v1.QueueService" =>
  queueRpcs.has(rpc) ? "spool.v1.QueueService" : "spool.v1.TaskService";

/** A task id: literal text, one of the tasks the test made beforehand, or a fresh UUID. */
export type IdRef = Text | { known: number; upperCase?: boolean } | { fresh: string };

/**
 * An idempotency key as given, or one made unique to the request: World.keySalt, then this
 * text. Requests then never share a key by chance (fast-check repeats values, shrinking
 * above all), which would tie a case to whatever an earlier one stored under the key; the
 * tasks of one CreateTasks share a unique key on purpose.
 */
export type IdempotencyKey = Text | { unique: Text };

/** Map entries in wire order (a later duplicate key wins), or `count` generated entries. */
export type LabelsSpec = { entries: [Text, Text][] } | { count: number; value: string };

/**
 * A spool.v1.Backoff as sent: a field left undefined is not written; one given is, as it is
 * (a factor of 0 or -0 too, which the service reads as unset).
 */
export interface BackoffSpec {
  base?: WireTime | undefined;
  factor?: number | undefined;
  max?: WireTime | undefined;
  jitter?: number | undefined;
}

export interface CreateSpec {
  kind: Text;
  /** undefined: the field is not sent. */
  input?: Json | undefined;
  queue: Text;
  priority: number;
  runAt?: WireTime | undefined;
  maxAttempts: number;
  timeout?: WireTime | undefined;
  idempotencyKey: IdempotencyKey;
  labels: LabelsSpec;
  concurrencyKey: Text;
  /** undefined: the field is not sent. */
  backoff?: BackoffSpec | undefined;
}

export interface ListSpec {
  states: number[];
  /** The kinds, or `count` generated distinct ones. */
  kinds: Text[] | { count: number };
  queue: Text;
  labels: LabelsSpec;
  createdAfter?: WireTime | undefined;
  createdBefore?: WireTime | undefined;
  pageSize: number;
  /** "issued": a token the service issued for the empty filter. */
  pageToken: Text | { issued: true };
  /** Only tasks of the schedule of this name; "" for any. */
  schedule: Text;
}

/** An UpdateQueueRequest: a limit or retention left undefined is not sent. */
export interface QueueUpdateSpec {
  name: Text;
  tenant: Text;
  concurrencyLimit?: number | undefined;
  keyConcurrencyLimit?: number | undefined;
  retention?: WireTime | undefined;
}

export type Spec =
  | { rpc: "CreateTask"; request: CreateSpec }
  | { rpc: "CreateTasks"; tasks: CreateSpec[] | { count: number } }
  | { rpc: "GetTask" | "WatchTask" | "RetryTask"; id: IdRef }
  | { rpc: "CancelTask"; id: IdRef; reason: Text }
  | { rpc: "StreamLogs"; taskId: IdRef; afterSeq: bigint; follow: boolean; tail?: number }
  | { rpc: "ListTasks"; request: ListSpec }
  | { rpc: "ListQueues"; tenant: Text; pageSize?: number; pageToken?: Text }
  | { rpc: "UpdateQueue"; update: QueueUpdateSpec }
  | { rpc: "PauseQueue" | "ResumeQueue"; name: Text; tenant: Text }
  /** Bytes sent as they are, or a valid request's bytes cut short or with bytes overwritten. */
  | { rpc: Rpc; bytes: Uint8Array }
  | { rpc: Rpc; cut: Spec; keep: number }
  | { rpc: Rpc; corrupt: Spec; at: number[]; with: number[] };

/** What the test set up before the properties run, which specs refer to. */
export interface World {
  /**
   * Tasks made beforehand: [0] succeeded; [1] succeeded, with a log; [2] due tomorrow (the
   * CancelTask properties cancel it); [3] cancelled; [4] failed; [5] due tomorrow, named only
   * by RetryTask, which leaves it as it is.
   */
  knownIds: readonly string[];
  issuedPageToken: string;
  /** Prefix of unique idempotency keys; the test changes it for every request. */
  keySalt: string;
}

export const minimalTask: CreateSpec = {
  kind: "demo.echo",
  queue: "",
  priority: 0,
  maxAttempts: 0,
  idempotencyKey: "",
  labels: { entries: [] },
  concurrencyKey: "",
};

export function resolveId(id: IdRef, world: World): Text {
  if (typeof id === "string" || id instanceof RawText) return id;
  if ("fresh" in id) return id.fresh;
  const known = world.knownIds[id.known % world.knownIds.length] as string;
  return id.upperCase ? known.toUpperCase() : known;
}

/** The map a LabelsSpec means once decoded (later duplicates win), as entries. */
export function labelEntries(labels: LabelsSpec): [Text, Text][] {
  if ("entries" in labels) return labels.entries;
  return Array.from({ length: labels.count }, (_, i) => [`l${i}`, labels.value]);
}

const text = (t: Text): string => (typeof t === "string" ? t : "");

function typedLabels(labels: LabelsSpec): Record<string, string> | undefined {
  const entries = labelEntries(labels);
  if (entries.some(([key, value]) => key instanceof RawText || value instanceof RawText)) return undefined;
  const record: Record<string, string> = Object.create(null);
  for (const [key, value] of entries) record[key as string] = value as string;
  return record;
}

function writeLabels(writer: BinaryWriter, field: number, labels: LabelsSpec): void {
  for (const [key, value] of labelEntries(labels)) {
    writer.tag(field, WireType.LengthDelimited).fork();
    writeText(writer, 1, key);
    writeText(writer, 2, value);
    writer.join();
  }
}

function keyOf(key: IdempotencyKey, salt: string): Text {
  if (typeof key === "string" || key instanceof RawText) return key;
  if (key.unique instanceof RawText) return new RawText(Buffer.concat([Buffer.from(salt), key.unique.bytes]));
  return salt + key.unique;
}

export function encodeCreate(spec: CreateSpec, keySalt = ""): Uint8Array {
  const labels = typedLabels(spec.labels);
  const idempotencyKey = keyOf(spec.idempotencyKey, keySalt);
  const typedInput = !holdsRawText(spec.input);
  const writer = CreateTaskRequest.encode({
    kind: text(spec.kind),
    input: typedInput ? spec.input : undefined,
    queue: text(spec.queue),
    priority: spec.priority,
    runAt: undefined,
    maxAttempts: spec.maxAttempts,
    timeout: undefined,
    idempotencyKey: text(idempotencyKey),
    labels: labels ?? {},
    concurrencyKey: text(spec.concurrencyKey),
    backoff: undefined,
  });
  if (spec.kind instanceof RawText) writeText(writer, 1, spec.kind);
  if (!typedInput) writeValueField(writer, 2, spec.input as Json);
  if (spec.queue instanceof RawText) writeText(writer, 3, spec.queue);
  if (spec.runAt) writeTime(writer, 5, spec.runAt);
  if (spec.timeout) writeTime(writer, 7, spec.timeout);
  if (idempotencyKey instanceof RawText) writeText(writer, 8, idempotencyKey);
  if (!labels) writeLabels(writer, 9, spec.labels);
  if (spec.concurrencyKey instanceof RawText) writeText(writer, 10, spec.concurrencyKey);
  if (spec.backoff) writeBackoff(writer, 11, spec.backoff);
  return writer.finish();
}

function writeBackoff(writer: BinaryWriter, field: number, backoff: BackoffSpec): void {
  writer.tag(field, WireType.LengthDelimited).fork();
  if (backoff.base) writeTime(writer, 1, backoff.base);
  if (backoff.factor !== undefined) writer.tag(2, WireType.Bit64).double(backoff.factor);
  if (backoff.max) writeTime(writer, 3, backoff.max);
  if (backoff.jitter !== undefined) writer.tag(4, WireType.Bit64).double(backoff.jitter);
  writer.join();
}

const isIssued = (token: ListSpec["pageToken"]): token is { issued: true } => typeof token === "object" && !(token instanceof RawText);

function encodeList(spec: ListSpec, world: World): Uint8Array {
  const kinds = Array.isArray(spec.kinds) ? spec.kinds : Array.from({ length: spec.kinds.count }, (_, i) => `kind.${i}`);
  const labels = typedLabels(spec.labels);
  const writer = ListTasksRequest.encode({
    states: spec.states,
    kinds: kinds.filter((kind): kind is string => typeof kind === "string"),
    queue: text(spec.queue),
    labels: labels ?? {},
    createdAfter: undefined,
    createdBefore: undefined,
    tenant: "",
    createdBy: "",
    schedule: text(spec.schedule),
    view: 0,
    pageSize: spec.pageSize,
    pageToken: isIssued(spec.pageToken) ? world.issuedPageToken : text(spec.pageToken),
  });
  for (const kind of kinds) if (kind instanceof RawText) writeText(writer, 2, kind);
  if (spec.queue instanceof RawText) writeText(writer, 3, spec.queue);
  if (!labels) writeLabels(writer, 4, spec.labels);
  if (spec.createdAfter) writeTime(writer, 5, spec.createdAfter);
  if (spec.createdBefore) writeTime(writer, 6, spec.createdBefore);
  if (spec.pageToken instanceof RawText) writeText(writer, 8, spec.pageToken);
  if (spec.schedule instanceof RawText) writeText(writer, 12, spec.schedule);
  return writer.finish();
}

/** The bytes of the request a spec describes. */
export function encode(spec: Spec, world: World): Uint8Array {
  if ("bytes" in spec) return spec.bytes;
  if ("cut" in spec) {
    const whole = encode(spec.cut, world);
    return whole.subarray(0, whole.length === 0 ? 0 : spec.keep % whole.length);
  }
  if ("corrupt" in spec) {
    const bytes = Uint8Array.from(encode(spec.corrupt, world));
    spec.at.forEach((at, i) => {
      if (bytes.length > 0) bytes[at % bytes.length] = spec.with[i] ?? 0;
    });
    return bytes;
  }
  switch (spec.rpc) {
    case "CreateTask":
      return encodeCreate(spec.request, world.keySalt);
    case "CreateTasks": {
      const writer = new BinaryWriter();
      const tasks = Array.isArray(spec.tasks) ? spec.tasks : Array.from({ length: spec.tasks.count }, () => minimalTask);
      for (const task of tasks) writer.tag(1, WireType.LengthDelimited).bytes(encodeCreate(task, world.keySalt));
      return writer.finish();
    }
    case "GetTask":
    case "WatchTask":
    case "RetryTask": {
      const id = resolveId(spec.id, world);
      const writer = { GetTask: GetTaskRequest, WatchTask: WatchTaskRequest, RetryTask: RetryTaskRequest }[spec.rpc].encode({ id: text(id) });
      if (id instanceof RawText) writeText(writer, 1, id);
      return writer.finish();
    }
    case "CancelTask": {
      const id = resolveId(spec.id, world);
      const writer = CancelTaskRequest.encode({ id: text(id), reason: text(spec.reason) });
      if (id instanceof RawText) writeText(writer, 1, id);
      if (spec.reason instanceof RawText) writeText(writer, 2, spec.reason);
      return writer.finish();
    }
    case "StreamLogs": {
      const id = resolveId(spec.taskId, world);
      const writer = StreamLogsRequest.encode({ taskId: text(id), afterSeq: 0n, follow: spec.follow, tail: spec.tail ?? 0 });
      if (id instanceof RawText) writeText(writer, 1, id);
      if (spec.afterSeq !== 0n) writer.tag(2, WireType.Varint).int64(spec.afterSeq);
      return writer.finish();
    }
    case "ListTasks":
      return encodeList(spec.request, world);
    case "ListQueues": {
      // Pages as large as they go, so that a listing holds every queue the run changed.
      const pageToken = spec.pageToken ?? "";
      const writer = ListQueuesRequest.encode({ tenant: text(spec.tenant), pageSize: spec.pageSize ?? 1000, pageToken: text(pageToken) });
      if (spec.tenant instanceof RawText) writeText(writer, 1, spec.tenant);
      if (pageToken instanceof RawText) writeText(writer, 3, pageToken);
      return writer.finish();
    }
    case "UpdateQueue": {
      const { update } = spec;
      const writer = UpdateQueueRequest.encode({
        name: text(update.name),
        concurrencyLimit: update.concurrencyLimit,
        keyConcurrencyLimit: update.keyConcurrencyLimit,
        retention: undefined,
        tenant: text(update.tenant),
      });
      if (update.name instanceof RawText) writeText(writer, 1, update.name);
      if (update.retention) writeTime(writer, 4, update.retention);
      if (update.tenant instanceof RawText) writeText(writer, 5, update.tenant);
      return writer.finish();
    }
    case "PauseQueue":
    case "ResumeQueue": {
      const writer = (spec.rpc === "PauseQueue" ? PauseQueueRequest : ResumeQueueRequest).encode({ name: text(spec.name), tenant: text(spec.tenant) });
      if (spec.name instanceof RawText) writeText(writer, 1, spec.name);
      if (spec.tenant instanceof RawText) writeText(writer, 2, spec.tenant);
      return writer.finish();
    }
  }
}

/**
 * A short, faithful rendering of a spec for counterexamples: a 1.5 MiB string prints as its
 * repeated unit and count, deep nesting as its depth, raw bytes in hex.
 */
export function brief(value: unknown, depth = 0): string {
  if (value === undefined || value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return briefString(value);
  if (value instanceof RawText) return `raw(${hex(value.bytes)})`;
  if (value instanceof Uint8Array) return `bytes(${hex(value)})`;
  if (isWireTime(value)) return briefTime(value);
  if (depth >= 6) return `…${nesting(value)} more levels…`;
  if (Array.isArray(value)) {
    const items = value.slice(0, 6).map((item) => brief(item, depth + 1));
    if (value.length > 6) items.push(`…${value.length} items`);
    return `[${items.join(", ")}]`;
  }
  const keys = Object.keys(value as object);
  const shown = keys.slice(0, 12).map((key) => `${briefString(key)}: ${brief((value as Record<string, unknown>)[key], depth + 1)}`);
  if (keys.length > 12) shown.push(`…${keys.length} keys`);
  return `{${shown.join(", ")}}`;
}

function briefString(s: string): string {
  if (s.length <= 60) return JSON.stringify(s);
  for (let unit = 1; unit <= 16; unit++) {
    const head = s.slice(0, unit);
    const count = Math.floor(s.length / unit);
    if (head.repeat(count) + head.slice(0, s.length - count * unit) === s) {
      return `${JSON.stringify(head)}×${count}${s.length % unit ? `+${s.length % unit}` : ""} (${s.length} chars)`;
    }
  }
  return `${JSON.stringify(s.slice(0, 40))}… (${s.length} chars)`;
}

function hex(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.subarray(0, 24)).toString("hex");
  return bytes.length > 24 ? `${shown}… ${bytes.length} bytes` : shown;
}

function isWireTime(value: unknown): value is WireTime {
  return typeof value === "object" && value !== null && typeof (value as WireTime).seconds === "bigint" && Object.keys(value).length === 2;
}

function briefTime(time: WireTime): string {
  const ms = Number(time.seconds) * 1000 + time.nanos / 1e6;
  // Dates only where the value reads as one (not for a Duration of seconds).
  const date = Math.abs(ms) <= 8.64e15 && Math.abs(ms) >= 365 * 86_400_000 ? ` = ${new Date(ms).toISOString()}` : "";
  return `{seconds: ${time.seconds}n, nanos: ${time.nanos}${date}}`;
}

/** How many arrays and objects deep a value is (0 for a scalar). */
export function nesting(value: unknown): number {
  let deepest = 0;
  let level: unknown[] = [value];
  while (level.length > 0) {
    const next: unknown[] = [];
    for (const item of level) {
      if (typeof item === "object" && item !== null && !(item instanceof RawText)) next.push(...Object.values(item));
    }
    if (next.length === 0 && !level.some((item) => typeof item === "object" && item !== null && !(item instanceof RawText))) break;
    deepest++;
    level = next;
  }
  return deepest;
}

// Requests a hostile or careless client sends, through a raw grpc-js client (the SDK checks
// some of these itself): each gets INVALID_ARGUMENT naming the field, with a bounded message,
// and nothing the service accepted is changed on the way back.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  CreateTaskRequest,
  CreateTaskResponse,
  CreateTasksRequest,
  CreateTasksResponse,
  GetTaskRequest,
  GetTaskResponse,
  ListTasksRequest,
  ListTasksResponse,
  StreamLogsRequest,
  StreamLogsResponse,
} from "@spool/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
let spool: TestSpool;
let raw: Client;

beforeAll(async () => {
  spool = await startTestSpool(database.url);
  raw = new Client(`127.0.0.1:${spool.spool.port}`, credentials.createInsecure());
});
afterAll(async () => {
  raw.close();
  await spool.stop();
});

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  fromPartial(object: object): T;
}

/** One unary call with a message built from `partial`, or with raw bytes. */
function call<Req, Res>(method: string, codec: Codec<Req>, decode: (b: Uint8Array) => Res, request: object | Buffer) {
  const bytes = Buffer.isBuffer(request) ? request : Buffer.from(codec.encode(codec.fromPartial(request)).finish());
  return new Promise<{ error: ServiceError | null; response?: Res }>((resolve) =>
    raw.makeUnaryRequest(
      `/spool.v1.TaskService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => decode(b),
      bytes,
      new Metadata(),
      { deadline: Date.now() + 20_000 },
      (error, response) => resolve({ error, response }),
    ),
  );
}

const createTask = (request: object | Buffer) => call("CreateTask", CreateTaskRequest, CreateTaskResponse.decode, request);
const getTask = (id: string) => call("GetTask", GetTaskRequest, GetTaskResponse.decode, { id });
const listTasks = (request: object) => call("ListTasks", ListTasksRequest, ListTasksResponse.decode, request);

async function refused(request: Promise<{ error: ServiceError | null }>, field: RegExp): Promise<string> {
  const { error } = await request;
  expect(error?.code, error?.details).toBe(status.INVALID_ARGUMENT);
  expect(error!.details).toMatch(field);
  expect(error!.details.length).toBeLessThanOrEqual(1100);
  return error!.details;
}

/** A JSON value nested `depth` levels deep (objects and arrays in turn). */
function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe("times", () => {
  it("stores run_at at both ends of the Timestamp range exactly, and refuses times beyond it", async () => {
    for (const iso of ["0001-01-01T00:00:00.000Z", "0099-06-15T12:30:00.250Z", "9999-12-31T23:59:59.999Z"]) {
      const task = await spool.client.createTask("demo.echo", 1, { runAt: new Date(iso) });
      expect(task.runAt.toISOString()).toBe(iso);
      expect((await spool.client.getTask(task.id)).runAt.toISOString()).toBe(iso);
      await spool.client.cancelTask(task.id);
    }
    await refused(createTask({ kind: "demo.echo", runAt: { seconds: 253_402_300_800n, nanos: 0 } }), /^run_at: must be between 0001/);
    await refused(listTasks({ createdAfter: { seconds: -65_000_000_000n, nanos: 0 } }), /^created_after: must be between/);
    await refused(createTask({ kind: "demo.echo", runAt: { seconds: 0n, nanos: -1 } }), /^run_at: nanos -1 is out of range/);
    await refused(createTask({ kind: "demo.echo", runAt: { seconds: 0n, nanos: 1e9 } }), /^run_at: nanos 1000000000 is out of range/);
    // The last instant of the range, kept to the millisecond (floating point once made it year 10000).
    const last = await createTask({ kind: "demo.echo", runAt: { seconds: 253_402_300_799n, nanos: 999_999_999 } });
    expect(last.error).toBeNull();
    expect(last.response!.task!.runAt).toEqual({ seconds: 253_402_300_799n, nanos: 999_000_000 });
    await spool.client.cancelTask(last.response!.task!.id);
    // A far date to the millisecond (to_timestamp(ms / 1000.0) lost it in floating point).
    const far = await spool.client.createTask("demo.echo", 1, { runAt: new Date("4283-05-31T22:20:38.181Z") });
    expect((await spool.client.getTask(far.id)).runAt.toISOString()).toBe("4283-05-31T22:20:38.181Z");
    await spool.client.cancelTask(far.id);
  });

  it("refuses a timeout of int64-max seconds and a malformed one", async () => {
    await refused(createTask({ kind: "demo.echo", timeout: { seconds: 2n ** 63n - 1n, nanos: 0 } }), /^timeout: must be from 1s to 24h/);
    await refused(createTask({ kind: "demo.echo", timeout: { seconds: 60n, nanos: -5 } }), /^timeout: is not a valid duration/);
    await refused(createTask({ kind: "demo.echo", timeout: { seconds: 86_400n, nanos: 1 } }), /^timeout: must be from 1s to 24h/);
    await refused(createTask({ kind: "demo.echo", timeout: { seconds: -(2n ** 63n), nanos: 0 } }), /^timeout: /);
  });

  it("refuses an after_seq past 2^53 in StreamLogs", async () => {
    const task = await spool.client.createTask("demo.echo", 1);
    const error = await new Promise<ServiceError>((resolve) => {
      const stream = raw.makeServerStreamRequest(
        "/spool.v1.TaskService/StreamLogs",
        (m: StreamLogsRequest) => Buffer.from(StreamLogsRequest.encode(m).finish()),
        (b: Buffer) => StreamLogsResponse.decode(b),
        { taskId: task.id, afterSeq: 2n ** 60n, follow: false, tail: 0 },
      );
      stream.on("data", () => {});
      stream.on("error", resolve);
    });
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^after_seq: \d+ is out of range/);
  });

  it("sets a far-future task's timer without overflowing Node's timers (no claim loop)", async () => {
    const overflows: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === "TimeoutOverflowWarning") overflows.push(warning);
    };
    process.on("warning", onWarning);
    try {
      const far = await spool.client.createTask("demo.echo", 1, { runAt: new Date(Date.now() + 30 * 24 * 3600_000) });
      // The wake-up for the far task was handled before the one for this task, which runs.
      const near = await spool.client.createTask("demo.echo", 2);
      await spool.client.waitForTask(near.id, { timeoutMs: 20_000 });
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(overflows).toEqual([]);
      expect((await spool.client.getTask(far.id)).state).toBe("pending");
      await spool.client.cancelTask(far.id);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("JSON values", () => {
  it("refuses NaN and Infinity instead of storing null", async () => {
    await refused(createTask({ kind: "demo.echo", input: { a: [1, Number.NaN] } }), /^input\.a\[1\]: NaN is not a JSON number/);
    await refused(createTask({ kind: "demo.echo", input: Number.POSITIVE_INFINITY }), /^input: Infinity is not a JSON number/);
  });

  it("accepts 32 levels, which every client can read back in a list, and refuses deeper inputs", async () => {
    const task = await spool.client.createTask("demo.echo", nested(32), { labels: { depth: "32" } });
    const page = await spool.client.listTasksPage({ labels: { depth: "32" } });
    expect(page.tasks.map((t) => t.id)).toEqual([task.id]);
    expect(await spool.client.waitForTask(task.id, { timeoutMs: 20_000 })).toMatchObject({ state: "succeeded", result: nested(32) });
    await refused(createTask({ kind: "demo.echo", input: nested(33) }), /^input(\.a|\[0\])+: is nested deeper than 32 levels/);
    // Past the decoder's own limit the request cannot even be decoded: still the caller's fault.
    await refused(createTask({ kind: "demo.echo", input: nested(60) }), /^input: is nested too deeply to decode; at most 32 levels/);
  });

  it("refuses a key named __proto__, which decoders drop or turn into a prototype, and keeps the text elsewhere", async () => {
    // Encoded from objects with an own "__proto__" key (fromPartial, like the decoder, drops it).
    const encoded = (fields: Partial<CreateTaskRequest>) =>
      Buffer.from(CreateTaskRequest.encode({ ...CreateTaskRequest.fromPartial({ kind: "demo.echo" }), ...fields }).finish());
    const labels = JSON.parse('{"__proto__": "v"}') as Record<string, string>;
    await refused(createTask(encoded({ labels })), /^labels.*__proto__.*: a key named "__proto__" is not accepted/);
    // {"a": {"__proto__": {"x": 1}}} as google.protobuf.Value bytes (Struct.wrap would drop the key).
    const w = () => new BinaryWriter();
    const struct = (key: string, value: Uint8Array) => w().uint32(10).bytes(w().uint32(10).string(key).uint32(18).bytes(value).finish()).finish();
    const structValue = (fields: Uint8Array) => w().uint32(42).bytes(fields).finish();
    const input = structValue(struct("a", structValue(struct("__proto__", structValue(struct("x", w().uint32(17).double(1).finish()))))));
    const request = Buffer.from(w().uint32(10).string("demo.echo").uint32(18).bytes(input).finish());
    await refused(createTask(request), /^input\.a\.__proto__: a key named "__proto__" is not accepted/);
    const { response } = await createTask({ kind: "demo.echo", input: { text: "__proto__" }, labels: { note: "__proto__" } });
    const task = await spool.client.getTask(response!.task!.id);
    expect(task).toMatchObject({ input: { text: "__proto__" }, labels: { note: "__proto__" } });
  });

  it("names the task of a CreateTasks whose input is too deep to decode", async () => {
    const tasks = [{ kind: "demo.echo", input: 1 }, { kind: "demo.echo", input: nested(60) }];
    const { error } = await call("CreateTasks", CreateTasksRequest, CreateTasksResponse.decode, { tasks });
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error!.details).toMatch(/^tasks\[1\]\.input: is nested too deeply to decode/);
  });

  it("refuses a NUL anywhere in the input, naming where", async () => {
    await refused(createTask({ kind: "demo.echo", input: { list: ["ok", { "k\u0000": 1 }] } }), /^input\.list\[1\]\["k\\u0000"\]: key holds a NUL/);
  });
});

describe("sizes and echoes", () => {
  it("never echoes a huge value back, and the channel keeps working", async () => {
    const huge = "k".repeat(100_000);
    const kind = await refused(createTask({ kind: huge }), /^kind: unknown kind "k+\.\.\." \(100000 characters\)/);
    expect(kind.length).toBeLessThan(1000);
    const { error } = await getTask(huge);
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error!.details.length).toBeLessThan(300);
    expect((await getTask("01a20392-cd00-7774-b068-0f78454a8d14")).error?.code).toBe(status.NOT_FOUND);
  });

  it("caps the kinds of a ListTasks filter", async () => {
    const kinds = Array.from({ length: 100_000 }, (_, i) => `kind.${i}`);
    await refused(listTasks({ kinds }), /^kinds: holds 100000 kinds; at most 100/);
    await refused(listTasks({ kinds: ["x".repeat(300)] }), /^kinds\[0\]: is 300 characters/);
    await refused(listTasks({ states: [99] }), /^states\[0\]: 99 is not a state to filter on/);
  });

  it("answers INVALID_ARGUMENT, not INTERNAL, to bytes that are not a request", async () => {
    await refused(createTask(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), /^request: is not a valid protobuf message/);
    const { error } = await getTask("01a20392-cd00-7774-b068-0f78454a8d14");
    expect(error?.code).toBe(status.NOT_FOUND);
  });
});

describe("ListTasks replies", () => {
  it("fit a client's default 4 MiB whatever the tasks carry: BASIC by default, FULL paged by bytes", async () => {
    const input = { blob: "b".repeat(900 * 1024) };
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await spool.client.createTask("demo.echo", input, { labels: { big: "yes" }, runAt: new Date(Date.now() + 3600_000) })).id);

    const basic = await spool.client.listTasksPage({ labels: { big: "yes" }, pageSize: 1000 });
    expect(new Set(basic.tasks.map((t) => t.id))).toEqual(ids);
    expect(basic.tasks.every((t) => t.input === null && t.failures.length === 0)).toBe(true);
    expect(basic.nextPageToken).toBeUndefined();

    const pages: number[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page = await spool.client.listTasksPage({ labels: { big: "yes" }, pageSize: 1000, view: "full", pageToken });
      pages.push(page.tasks.length);
      for (const task of page.tasks) {
        expect(task.input).toEqual(input);
        seen.add(task.id);
      }
      pageToken = page.nextPageToken;
    } while (pageToken && pages.length < 20);
    expect(seen).toEqual(ids);
    expect(Math.max(...pages)).toBeLessThanOrEqual(3); // 3 x 900 KiB fit in 3 MiB, a 4th would not
    await Promise.all([...ids].map((id) => spool.client.cancelTask(id)));
  });

  it("refuses an unknown view", async () => {
    await refused(listTasks({ view: 7 }), /^view: 7 is not a TaskView/);
  });
});

describe("streams", () => {
  it("serves at most SPOOL_MAX_STREAMS at once; past the cap RESOURCE_EXHAUSTED, at once", async () => {
    const capped = await startTestSpool(database.url, { maxStreams: 2 });
    try {
      const task = await capped.client.createTask("demo.sleep", { seconds: 60 });
      const stop = new AbortController();
      const follow = () => {
        const iterator = capped.client.watchTask(task.id, { signal: stop.signal })[Symbol.asyncIterator]();
        return iterator.next().then(() => iterator);
      };
      const open = [await follow(), await follow()];
      const error = await follow().then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error).toMatchObject({ code: "resource_exhausted", message: expect.stringMatching(/serves 2 streams already/) });
      await open[0]!.return?.(undefined);
      await eventually(async () => (await follow().then(() => true, () => undefined)), 10_000, "a freed slot");
      stop.abort();
      await capped.client.cancelTask(task.id);
    } finally {
      await capped.stop();
    }
  });
});

it("stays healthy after all of this", async () => {
  const task = await spool.client.createTask("demo.echo", "still here");
  await eventually(async () => ((await spool.client.getTask(task.id)).state === "succeeded" ? true : undefined));
});

// Errors on the wire: toServiceError's status and its retry delay (google.rpc.RetryInfo in
// grpc-status-details-bin), read back by the real SDK client and by `buf curl`, a client that
// is not ours, against a plain grpc-js server over loopback whose handlers throw SpoolErrors.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Metadata, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  CreateTaskResponse,
  GetTaskResponse,
  retryAfterMsFromStatus,
  RetryInfo,
  RpcStatus,
  statusDetailsKey,
  TaskServiceService,
  TaskState,
} from "@spool/proto";
import { SpoolClient, SpoolError as SdkError } from "@spool/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SpoolError } from "../errors.js";
import { toServiceError } from "./status.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const id = "01a20392-cd00-7774-b068-0f78454a8d14";

describe("toServiceError", () => {
  it("puts a retry delay in the message and, as google.rpc.Status with a RetryInfo, in grpc-status-details-bin", () => {
    const error = toServiceError(new SpoolError("resource_exhausted", 'tenant "acme" creates tasks faster than 10 a second', { retryAfterMs: 1500 }));
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toBe('tenant "acme" creates tasks faster than 10 a second; retry in 1.5 s');
    const [bytes] = error.metadata!.get(statusDetailsKey);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    const rpcStatus = RpcStatus.decode(bytes as Buffer);
    expect(rpcStatus).toMatchObject({ code: status.RESOURCE_EXHAUSTED, message: error.details });
    expect(rpcStatus.details.map((d) => d.typeUrl)).toEqual(["type.googleapis.com/google.rpc.RetryInfo"]);
    expect(RetryInfo.decode(rpcStatus.details[0]!.value).retryDelay).toEqual({ seconds: 1n, nanos: 500_000_000 });
  });

  it("rounds the delay up to whole ms, and says it in tenths of a second, rounded up", () => {
    const cases: [number, number, string][] = [
      [0, 0, "0 s"],
      [0.2, 1, "0.1 s"],
      [1001, 1001, "1.1 s"],
      [120_000, 120_000, "120 s"],
    ];
    for (const [given, sent, said] of cases) {
      const error = toServiceError(new SpoolError("resource_exhausted", "slow down", { retryAfterMs: given }));
      expect(error.details).toBe(`slow down; retry in ${said}`);
      expect(retryAfterMsFromStatus(error.metadata!.get(statusDetailsKey)[0] as Buffer)).toBe(sent);
    }
  });

  it("sends no detail without a usable delay, nor for an internal error", () => {
    for (const retryAfterMs of [undefined, -1, Number.NaN, Infinity]) {
      const error = toServiceError(new SpoolError("resource_exhausted", "too many pending tasks", { retryAfterMs }));
      expect(error.details).toBe("too many pending tasks");
      expect(error.metadata!.get(statusDetailsKey)).toEqual([]);
    }
    const internal = toServiceError(new SpoolError("internal", "a secret", { retryAfterMs: 100 }));
    expect(internal).toMatchObject({ code: status.INTERNAL, details: "internal error" });
    expect(internal.metadata!.get(statusDetailsKey)).toEqual([]);
  });
});

describe("a retry delay across the wire", () => {
  let server: Server;
  let port: number;
  /** What each method answers next: an error to throw, or nothing (success). */
  const script: Record<string, unknown[]> = {};
  const calls: Record<string, number> = {};
  const next = (method: string): unknown => {
    calls[method] = (calls[method] ?? 0) + 1;
    return script[method]?.shift();
  };
  const handler =
    (method: string, response: () => unknown) =>
    (_call: unknown, callback: (error: Partial<ServiceError> | null, response?: unknown) => void) => {
      const failure = next(method);
      if (failure instanceof Metadata) callback({ code: status.RESOURCE_EXHAUSTED, details: "garbled", metadata: failure });
      else if (failure) callback(toServiceError(failure));
      else callback(null, response());
    };
  const task = { id, kind: "demo.echo", state: TaskState.TASK_STATE_PENDING };
  const rateLimited = (retryAfterMs: number) =>
    new SpoolError("resource_exhausted", 'tenant "acme" creates tasks faster than 10 a second', { retryAfterMs });

  beforeAll(async () => {
    server = new Server();
    const unimplemented = (_call: unknown, callback: (error: Partial<ServiceError>) => void) =>
      callback({ code: status.UNIMPLEMENTED, details: "not in this test" });
    server.addService(TaskServiceService, {
      createTask: handler("createTask", () => CreateTaskResponse.fromPartial({ task, created: true })),
      getTask: handler("getTask", () => GetTaskResponse.fromPartial({ task })),
      createTasks: unimplemented,
      listTasks: unimplemented,
      cancelTask: unimplemented,
      streamLogs: unimplemented,
      watchTask: unimplemented,
    } as never);
    port = await new Promise((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
  });
  afterAll(() => server?.forceShutdown());
  beforeEach(() => {
    for (const key of Object.keys(script)) delete script[key];
    for (const key of Object.keys(calls)) delete calls[key];
  });

  it("reaches the SDK as resource_exhausted with retryAfterMs, and a create without an idempotency key is not retried", async () => {
    script.createTask = [rateLimited(1500)];
    const client = new SpoolClient(`127.0.0.1:${port}`);
    const error = await client.createTask("demo.echo", {}).catch((e: unknown) => e);
    client.close();
    expect(error).toBeInstanceOf(SdkError);
    expect(error).toMatchObject({ code: "resource_exhausted", retryAfterMs: 1500, retryable: true, message: expect.stringMatching(/; retry in 1\.5 s$/) });
    expect(calls.createTask).toBe(1);
  });

  it("is waited out and retried by the SDK where a retry is safe: a create with an idempotency key, a get", async () => {
    script.createTask = [rateLimited(20), rateLimited(30)];
    script.getTask = [rateLimited(20)];
    const client = new SpoolClient(`127.0.0.1:${port}`);
    expect((await client.createTask("demo.echo", {}, { idempotencyKey: "k1" })).id).toBe(id);
    expect((await client.getTask(id)).id).toBe(id);
    client.close();
    expect(calls).toEqual({ createTask: 3, getTask: 2 });
  });

  it("goes to the caller at once when the delay is over 10 s, or when retries are off", async () => {
    script.createTask = [rateLimited(60_000)];
    const client = new SpoolClient(`127.0.0.1:${port}`);
    await expect(client.createTask("demo.echo", {}, { idempotencyKey: "k1" })).rejects.toMatchObject({ retryAfterMs: 60_000 });
    client.close();
    script.getTask = [rateLimited(20)];
    const noRetries = new SpoolClient(`127.0.0.1:${port}`, { retries: 0 });
    await expect(noRetries.getTask(id)).rejects.toMatchObject({ code: "resource_exhausted", retryAfterMs: 20 });
    noRetries.close();
    expect(calls).toEqual({ createTask: 1, getTask: 1 });
  });

  it("leaves retryAfterMs undefined, without throwing, when the trailer is missing or garbled", async () => {
    const garbled = (bytes: Buffer) => {
      const metadata = new Metadata();
      metadata.set(statusDetailsKey, bytes);
      return metadata;
    };
    const notRetryInfo = RpcStatus.encode({ code: 8, message: "x", details: [{ typeUrl: "type.googleapis.com/google.rpc.DebugInfo", value: Buffer.from([1, 2]) }] }).finish();
    const badDelay = RpcStatus.encode({
      code: 8,
      message: "x",
      details: [{ typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: Buffer.from(RetryInfo.encode({ retryDelay: { seconds: -5n, nanos: 0 } }).finish()) }],
    }).finish();
    script.getTask = [
      new SpoolError("resource_exhausted", "too many pending tasks"),
      garbled(Buffer.from("not a protobuf \xff\xff\xff\xff")),
      garbled(Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f])), // a details field longer than the message
      garbled(Buffer.from(notRetryInfo)),
      garbled(Buffer.from(badDelay)),
    ];
    const client = new SpoolClient(`127.0.0.1:${port}`);
    for (let i = 0; i < 5; i++) {
      const error = await client.getTask(id).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "resource_exhausted", retryAfterMs: undefined, retryable: false });
    }
    client.close();
    expect(calls.getTask).toBe(5);
  });

  it("reaches buf curl, a client that is not ours, as a google.rpc.RetryInfo detail of 1.5 s", async () => {
    script.createTask = [rateLimited(1500)];
    // The plain server has no reflection: buf curl takes the schema from the descriptor set
    // reflection serves in the real service, which holds google.rpc too.
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        `${root}node_modules/.bin/buf`,
        ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--schema", `${root}proto/gen/spool.binpb`, "-d", '{"kind":"demo.echo"}',
          `http://127.0.0.1:${port}/spool.v1.TaskService/CreateTask`],
        { timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(result.code).not.toBe(0);
    const printed = JSON.parse(result.stderr) as { code: string; message: string; details: { type: string; value: string }[] };
    expect(printed).toMatchObject({ code: "resource_exhausted", message: expect.stringMatching(/; retry in 1\.5 s$/) });
    expect(printed.details.map((d) => d.type)).toEqual(["google.rpc.RetryInfo"]);
    // buf curl 1.74 prints the detail's bytes, not its fields: they are RetryInfo{retry_delay: 1.5 s}.
    expect(RetryInfo.decode(Buffer.from(printed.details[0]!.value, "base64")).retryDelay).toEqual({ seconds: 1n, nanos: 500_000_000 });
  });
});

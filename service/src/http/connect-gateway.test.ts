// The HTTP port's Connect gateway and dashboard files, on a real replica (Postgres, gRPC,
// worker threads), called the way curl and a browser call them: plain fetch with JSON, and
// the Connect streaming envelope. What a gRPC call gets, a Connect call gets: the same
// identity checks, the same statuses naming the field, the same limits.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTransportLimits } from "../api/transport-limits.js";
import { freePort } from "../store/embedded.js";
import { useTestDatabase } from "../test-support/database.js";
import { startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
const tokens = { admin: "token-of-ada-0123456789abcdef", submitter: "token-of-sam-0123456789abcdef" };
let dir: string;
let spool: TestSpool;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-gateway-"));
  const tokensFile = join(dir, "tokens.json");
  await writeFile(
    tokensFile,
    JSON.stringify([
      { token: tokens.admin, subject: "ada", tenant: "t1", roles: ["admin"] },
      { token: tokens.submitter, subject: "sam", tenant: "t1", roles: ["submitter"] },
    ]),
  );
  spool = await startTestSpool(database.url, {
    httpPort: await freePort(),
    demoKinds: true,
    maxStreams: 4,
    // Two calls per gRPC connection: the gateway must open more to serve more at once.
    transport: { ...defaultTransportLimits, maxConcurrentStreams: 2 },
    traceUrl: "http://traces.example/t/{traceId}",
    // A small create rate, for the refusal with details (the last test): 40 creates at once.
    quotas: { maxPending: 1_000_000, createRate: 1, createBurst: 40 },
    auth: { mode: "auto", tokensFile, clientCertsFile: undefined, jwt: undefined },
  });
  base = `http://127.0.0.1:${spool.spool.httpPort}`;
});

afterAll(async () => {
  await spool?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function call(method: string, body: unknown, token: string | null = tokens.admin, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/spool.v1.${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** A Connect server-streaming call of TaskService, as the admin, with `message` as its request. */
function openStream(method: string, message: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}/spool.v1.TaskService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", authorization: `Bearer ${tokens.admin}` },
    body: envelope(message),
    ...(signal && { signal }),
  });
}

/** A Connect server-streaming request body: one enveloped JSON message. */
function envelope(message: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const framed = new Uint8Array(5 + json.length);
  new DataView(framed.buffer).setUint32(1, json.length);
  framed.set(json, 5);
  return framed;
}

describe("the Connect gateway", () => {
  it("runs unary calls as JSON: create, then read back", async () => {
    const created = await call("TaskService/CreateTask", { kind: "demo.echo", input: { n: 1 }, labels: { via: "connect" } });
    expect(created.status).toBe(200);
    expect(created.body.task.createdBy).toBe("ada");
    const read = await call("TaskService/GetTask", { id: created.body.task.id });
    expect(read.body.task).toMatchObject({ kind: "demo.echo", tenant: "t1", labels: { via: "connect" } });
    expect(await call("AdminService/GetCaller", {})).toEqual({ status: 200, body: { subject: "ada", tenant: "t1", role: "admin", via: "token" } });
  });

  it("answers bad input with the status and message gRPC gives, naming the field, with its details", async () => {
    const empty = await call("TaskService/CreateTask", { kind: "" });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ code: "invalid_argument", message: "kind: is required" });

    const misspelt = await call("TaskService/CreateTask", { kind: "demo.echo", priorty: 3 });
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.message).toContain("priorty");

    for (const kind of ["demo\u0000echo", "demo\ud800echo", "x".repeat(100_000)]) {
      const refused = await call("TaskService/CreateTask", { kind });
      expect(refused.status).toBe(400);
      // Named by the server ("kind: ..."), or by the decoder for a lone surrogate ("...CreateTaskRequest.kind ... invalid UTF8").
      expect(refused.body.message).toMatch(/^kind: |CreateTaskRequest\.kind from JSON/);
    }
    const garbage = await call("TaskService/CreateTask", "{not json");
    expect(garbage.body.code).toBe("invalid_argument");
    const wrongType = await call("TaskService/ListTasks", { pageSize: "many" });
    expect(wrongType.body.code).toBe("invalid_argument");
  });

  it("refuses a body over the gRPC port's 4 MiB limit", async () => {
    const big = await call("TaskService/CreateTask", { kind: "demo.echo", input: { blob: "x".repeat(5 * 1024 * 1024) } });
    expect(big.body.code).toBe("resource_exhausted");
    expect((await call("AdminService/GetCaller", {})).status).toBe(200);
  });

  it("checks identity and role exactly as gRPC does", async () => {
    const anonymous = await call("AdminService/GetCaller", {}, null);
    expect(anonymous).toMatchObject({ status: 401, body: { code: "unauthenticated" } });
    const forged = await call("AdminService/GetCaller", {}, "not-a-token-0123456789abcdef");
    expect(forged.body.code).toBe("unauthenticated");
    expect((await call("AdminService/GetCaller", {}, tokens.submitter)).body.role).toBe("submitter");
    const pause = await call("QueueService/PauseQueue", { name: "default" }, tokens.submitter);
    expect(pause.status).toBe(403);
    expect(pause.body).toMatchObject({ code: "permission_denied" });
    expect(pause.body.message).toMatch(/operator/);
    const workers = await call("AdminService/ListWorkers", {}, tokens.submitter);
    expect(workers.body.code).toBe("permission_denied");
  });

  it("streams followed logs, and a client that goes away frees its stream at once", async () => {
    const task = (await call("TaskService/CreateTask", { kind: "demo.sleep", input: { seconds: 60 } })).body.task as { id: string };
    // maxStreams is 4 here: ten followers opened and dropped one after another would exhaust
    // it if a dropped one kept its gRPC stream.
    for (let i = 0; i < 10; i++) {
      const aborter = new AbortController();
      const response = await openStream("WatchTask", { id: task.id }, aborter.signal);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value!.subarray(5))).toContain(task.id);
      aborter.abort();
      await reader.cancel().catch(() => {});
      // The slot comes back once the gRPC call is cancelled: wait for that, bounded.
      for (let tries = 0; tries < 100; tries++) {
        const probe = await openStream("StreamLogs", { taskId: task.id, follow: false });
        const text = new TextDecoder().decode(new Uint8Array(await probe.arrayBuffer()));
        if (!text.includes("resource_exhausted")) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    // Four followers held open at once, two calls per gRPC connection: the gateway spreads
    // them, and a unary call still gets through at once.
    const held = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const aborter = new AbortController();
        const response = await openStream("WatchTask", { id: task.id }, aborter.signal);
        const reader = response.body!.getReader();
        expect(new TextDecoder().decode((await reader.read()).value!.subarray(5))).toContain(task.id);
        return { aborter, reader };
      }),
    );
    expect(await call("AdminService/GetCaller", {}, tokens.admin, { "connect-timeout-ms": "5000" })).toMatchObject({ status: 200 });
    for (const { aborter, reader } of held) {
      aborter.abort();
      await reader.cancel().catch(() => {});
    }
    const cancelled = await call("TaskService/CancelTask", { id: task.id });
    expect(cancelled.status).toBe(200);
    // A follow of a task that ends, read to its end: every line, then a clean end of stream.
    const logs = await openStream("StreamLogs", { taskId: task.id, follow: true });
    const frames = new Uint8Array(await logs.arrayBuffer());
    // The last frame is the end-of-stream frame (flag 2) with no error.
    let at = 0;
    let last = { flags: 0, text: "" };
    while (at < frames.length) {
      const length = new DataView(frames.buffer, frames.byteOffset + at + 1, 4).getUint32(0);
      last = { flags: frames[at]!, text: new TextDecoder().decode(frames.subarray(at + 5, at + 5 + length)) };
      at += 5 + length;
    }
    expect(last).toEqual({ flags: 2, text: "{}" });
  });
});

describe("the dashboard's files", () => {
  it("serves the page with a strict Content-Security-Policy, compressed, and never cached", async () => {
    const page = await fetch(`${base}/`, { headers: { "accept-encoding": "gzip" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`, { headers: { "accept-encoding": "br" } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-encoding")).toBe("br");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await asset.text()).length).toBeGreaterThan(10_000);
    expect(await (await fetch(`${base}/dashboard.json`)).json()).toMatchObject({ traceUrl: "http://traces.example/t/{traceId}" });
  });

  it("refuses other methods and unknown files, and Host names that are not loopback", async () => {
    expect((await fetch(`${base}/`, { method: "POST", body: "x" })).status).toBe(405);
    expect((await fetch(`${base}/assets/nothing.js`)).status).toBe(404);
    expect((await fetch(`${base}/spool.v1.Nope/Call`, { method: "POST", body: "{}" })).status).toBe(404);
    // DNS rebinding: a page at evil.example whose name now points at 127.0.0.1.
    const port = spool.spool.httpPort!;
    expect(await statusWithHost("/spool.v1.AdminService/GetCaller", "evil.example")).toBe(403);
    expect(await statusWithHost("/", `evil.example:${port}`)).toBe(403);
    expect(await statusWithHost("/", `localhost:${port}`)).toBe(200);
    expect(await statusWithHost("/", `[::1]:${port}`)).toBe(200);
    expect(await statusWithHost("/", `127.0.0.1:${port}`)).toBe(200);
  });
});

describe("a refusal with details", () => {
  it("passes google.rpc details on: a create over the tenant's rate gets its RetryInfo", async () => {
    let refused: Record<string, any> | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const created = await call("TaskService/CreateTask", { kind: "demo.echo" });
      if (created.status !== 200) refused = created.body;
    }
    expect(refused).toMatchObject({ code: "resource_exhausted" });
    expect(refused!.details[0].type).toBe("google.rpc.RetryInfo");
  });
});

/** The status of a GET sent with this Host header (fetch does not let a caller set it). */
function statusWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: "127.0.0.1", port: spool.spool.httpPort, path, method: path === "/" ? "GET" : "POST", headers: { host, "content-type": "application/json" } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    sent.on("error", reject);
    sent.end(path === "/" ? undefined : "{}");
  });
}

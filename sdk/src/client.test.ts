// The client's transport options against a gRPC server of the test's own: TLS with a
// certificate made for the test, the name it is verified against, and the bearer token as
// call metadata. (TLS and mTLS against the real service, client certificates included, are
// in e2e/tls.test.ts; everything else runs against the real service in e2e/ too.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, status, type Metadata } from "@grpc/grpc-js";
import { GetTaskResponse, TaskServiceService, TaskState } from "@spool/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpoolClient } from "./client.js";

const dir = mkdtempSync(join(tmpdir(), "spool-sdk-tls-"));
let server: Server;
let port: number;
let cert: Buffer;
const seen: Metadata[] = [];

beforeAll(async () => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  cert = readFileSync(join(dir, "cert.pem"));
  server = new Server();
  const unimplemented = (_call: unknown, callback: (error: { code: status; details: string }) => void) =>
    callback({ code: status.UNIMPLEMENTED, details: "not in this test" });
  server.addService(TaskServiceService, {
    getTask: (call: { request: { id: string }; metadata: Metadata }, callback: (error: null, response: unknown) => void) => {
      seen.push(call.metadata);
      callback(null, GetTaskResponse.fromPartial({ task: { id: call.request.id, kind: "demo.echo", state: TaskState.TASK_STATE_PENDING } }));
    },
    createTask: unimplemented,
    createTasks: unimplemented,
    listTasks: unimplemented,
    cancelTask: unimplemented,
    streamLogs: unimplemented,
    watchTask: unimplemented,
  } as never);
  port = await new Promise((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: readFileSync(join(dir, "key.pem")) }]),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );
});
afterAll(() => {
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe("SpoolClient transport", () => {
  it("connects with TLS to a server whose certificate it trusts, sending the bearer token", async () => {
    const client = new SpoolClient(`localhost:${port}`, { tls: { ca: cert }, token: "s3cret" });
    const task = await client.getTask("01a20392-cd00-7774-b068-0f78454a8d14");
    expect(task).toMatchObject({ id: "01a20392-cd00-7774-b068-0f78454a8d14", kind: "demo.echo", state: "pending" });
    expect(seen.at(-1)?.get("authorization")).toEqual(["Bearer s3cret"]);
    client.close();
  });

  it("refuses a server whose certificate it does not trust, and one that speaks no TLS to a plaintext client", async () => {
    const untrusting = new SpoolClient(`localhost:${port}`, { tls: true, retries: 0 });
    await expect(untrusting.getTask("01a20392-cd00-7774-b068-0f78454a8d14")).rejects.toMatchObject({ code: "unavailable" });
    untrusting.close();
    const plaintext = new SpoolClient(`localhost:${port}`, { retries: 0 });
    await expect(plaintext.getTask("01a20392-cd00-7774-b068-0f78454a8d14")).rejects.toMatchObject({ code: "unavailable" });
    plaintext.close();
  });

  it("verifies the server's certificate against serverName when one is given", async () => {
    const id = "01a20392-cd00-7774-b068-0f78454a8d14";
    const named = new SpoolClient(`127.0.0.1:${port}`, { tls: { ca: cert.toString(), serverName: "localhost" }, retries: 0 });
    expect((await named.getTask(id)).id).toBe(id);
    named.close();
    const misnamed = new SpoolClient(`127.0.0.1:${port}`, { tls: { ca: cert, serverName: "spool.example.com" }, retries: 0 });
    await expect(misnamed.getTask(id)).rejects.toMatchObject({ code: "unavailable" });
    misnamed.close();
    // The earlier name of `ca` still works.
    const legacy = new SpoolClient(`localhost:${port}`, { tls: { rootCerts: cert }, retries: 0 });
    expect((await legacy.getTask(id)).id).toBe(id);
    legacy.close();
  });

  it("refuses TLS options that cannot work, when it is made", () => {
    expect(() => new SpoolClient("localhost:1", { tls: { cert } })).toThrow("SpoolClient: tls.cert and tls.key go together");
    expect(() => new SpoolClient("localhost:1", { tls: { ca: "not a certificate" } })).toThrow("SpoolClient: tls.ca holds no PEM certificate");
    expect(() => new SpoolClient("localhost:1", { tls: { cert, key: "not a key" } })).toThrow(
      /^SpoolClient: tls.cert and tls.key are not a usable PEM certificate and its key: /,
    );
  });
});

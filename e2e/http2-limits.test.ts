// The gRPC server's transport limits (service/src/api/transport-limits.ts) against hostile
// HTTP/2 clients, on the built service: a raw client that opens streams past the cap, holds
// half-open streams, floods pings; requests and responses over 4 MiB; and the SDK riding
// through a max-age cut of its connection, and through a connection gone silent (keepalive).
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { pb, unaryCall } from "./support/grpc-http2.js";
import { errorCode, RawH2Client, settingId } from "./support/raw-h2.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { startTcpProxy } from "./support/tcp-proxy.js";

const database = useTestDatabase();
/** The default cap (SPOOL_MAX_CONCURRENT_STREAMS unset). */
const cap = 100;
const getTask = "/spool.v1.TaskService/GetTask";
const healthCheck = "/grpc.health.v1.Health/Check";

let service: ServiceProcess; // default limits
let short: ServiceProcess; // connections idle after 1 s, aged after 3 s, with 1 s of grace
let client: SpoolClient;
const shortLimits = { idleMs: 1000, ageMs: 3000, graceMs: 1000 };

beforeAll(async () => {
  const env = { DATABASE_URL: database.url, SPOOL_WORKERS: "2" };
  [service, short] = await Promise.all([
    startService(env),
    startService({
      ...env,
      SPOOL_MAX_CONNECTION_IDLE_MS: String(shortLimits.idleMs),
      SPOOL_MAX_CONNECTION_AGE_MS: String(shortLimits.ageMs),
      SPOOL_MAX_CONNECTION_AGE_GRACE_MS: String(shortLimits.graceMs),
    }),
  ]);
  client = new SpoolClient(service.address);
});
afterAll(async () => {
  client?.close();
  await killAll();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() holds; fails after timeoutMs. */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Resident memory of the service process, in MiB. */
function rssMiB(target: ServiceProcess): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${target.child.pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/**
 * Whether the service holds its socket of the loopback connection from clientPort: a line of
 * /proc/net/tcp whose local port is the service's and remote port the client's, with an inode
 * (a socket no process holds any more, lingering in FIN_WAIT2, has inode 0).
 */
function serverHolds(servicePort: number, clientPort: number): boolean {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .some((f) => f[1]?.endsWith(`:${hex(servicePort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`) && f[9] !== "0");
}

/** A raw client whose SETTINGS ACK the server has processed (a PING sent after it came back). */
async function settledClient(target: ServiceProcess): Promise<RawH2Client> {
  const raw = await RawH2Client.connect("127.0.0.1", target.port);
  await raw.ready;
  raw.pingFlood(1);
  await until(() => raw.pingAcks === 1, "the PING ACK");
  return raw;
}

describe("max concurrent streams", () => {
  it(`advertises ${cap} in SETTINGS, and refuses the streams past it that a client opened before acknowledging`, async () => {
    const raw = await RawH2Client.connect("127.0.0.1", service.port);
    // Written at once, ahead of the client's SETTINGS ACK: nghttp2 answers REFUSED_STREAM.
    await raw.openHalfOpenStreams(getTask, cap + 50);
    await raw.ready;
    expect(raw.settings.get(settingId.maxConcurrentStreams)).toBe(cap);
    await until(() => (raw.resets.get(errorCode.refusedStream) ?? 0) === 50, "50 REFUSED_STREAMs");
    // The connection and the streams it was allowed stay up.
    raw.pingFlood(1);
    await until(() => raw.pingAcks === 1, "the PING ACK");
    expect(raw.closed).toBe(false);
    raw.destroy();
  });

  it("closes a connection that opens more streams than the cap it acknowledged", async () => {
    const raw = await settledClient(service);
    await raw.openHalfOpenStreams(getTask, cap + 1);
    await raw.whenClosed();
    // Its GOAWAY names the last stream it took: the 100th (client streams are odd: 1, 3, ...).
    expect(raw.goaways[0]?.lastStreamId).toBe(2 * cap - 1);
  });

  it("keeps the service's memory bounded under 100,000 half-open stream attempts on one connection", async () => {
    const before = rssMiB(service);
    const raw = await settledClient(service);
    const sent = await raw.openHalfOpenStreams(getTask, 100_000);
    await raw.whenClosed(); // the server cut it at the first stream past the cap
    const after = rssMiB(service);
    console.log(`RSS of the service: ${before.toFixed(0)} MiB before, ${after.toFixed(0)} MiB after ${sent} stream attempts (connection closed by the server)`);
    // Unlimited, this took about 6 KB a stream: 600 MiB.
    expect(after - before).toBeLessThan(64);
    // And it keeps serving.
    expect(await client.createTask("demo.echo", "still here")).toMatchObject({ kind: "demo.echo" });
  });
});

describe("connection idle and age limits", () => {
  it("sends GOAWAY at max age to a client holding half-open streams, and cuts it after the grace period", async () => {
    const raw = await settledClient(short);
    await raw.openHalfOpenStreams(getTask, 10);
    await raw.whenClosed();
    // GOAWAY(NO_ERROR, "max_age") first; the connection closed once the grace period ran out.
    expect(raw.goaways[0]).toMatchObject({ errorCode: errorCode.noError, debug: "max_age" });
  });

  it("closes a connection that holds no call after max idle, before its max age", async () => {
    const raw = await settledClient(short);
    await raw.whenClosed();
    // The idle close is a plain graceful GOAWAY, without the "max_age" of the age limit.
    expect(raw.goaways[0]).toMatchObject({ errorCode: errorCode.noError, debug: "" });
  });

  it("drops a connection that never sends the HTTP/2 preface nor reads, after max idle and the grace", async () => {
    const socket = netConnect({ host: "127.0.0.1", port: short.port });
    socket.on("error", () => {});
    await once(socket, "connect");
    const clientPort = socket.localPort!;
    // Never read: the server's GOAWAY and FIN stay unread, and this side never closes.
    await until(() => serverHolds(short.port, clientPort), "the service to accept the connection");
    await until(() => !serverHolds(short.port, clientPort), "the service to drop the connection");
    socket.destroy();
  });

  it("an SDK StreamLogs follow rides through max-age cuts with no gap and no duplicate", async () => {
    // Through a proxy that counts connections, to see the cut the SDK hides.
    const proxy = await startTcpProxy(short.port);
    const follower = new SpoolClient(proxy.address);
    try {
      const task = await follower.createTask("demo.sleep", { seconds: 7 });
      const seqs: number[] = [];
      for await (const line of follower.streamLogs(task.id, { follow: true })) seqs.push(line.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
      // At 3 s (+-10%) the service sent GOAWAY; at the end of the 1 s grace it cut the
      // connection, the stream got UNAVAILABLE, and the SDK resumed on a new one.
      expect(proxy.closedByTarget).toBeGreaterThanOrEqual(1);
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
      expect(await follower.waitForTask(task.id)).toMatchObject({ state: "succeeded" });
    } finally {
      follower.close();
      await proxy.close();
    }
  });
});

describe("keepalive", () => {
  it("an SDK follower whose connection goes silent (no FIN, no RST) drops it and resumes on a new one", async () => {
    const proxy = await startTcpProxy(service.port);
    const follower = new SpoolClient(proxy.address);
    try {
      const task = await follower.createTask("demo.sleep", { seconds: 4 });
      const seqs: number[] = [];
      for await (const line of follower.streamLogs(task.id, { follow: true })) {
        seqs.push(line.seq);
        // The SDK pings every 30 s while a call is open and gives up after 20 s without an
        // answer; without keepalive this loop would wait on the frozen connection forever.
        if (line.seq === 1) proxy.freeze();
      }
      expect(seqs).toEqual([1, 2, 3, 4]);
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
    } finally {
      follower.close();
      await proxy.close();
    }
  });
});

describe("ping policy", () => {
  it("sends GOAWAY ENHANCE_YOUR_CALM too_many_pings to a client that floods pings, and closes it", async () => {
    const raw = await settledClient(service);
    raw.pingFlood(1000);
    await raw.whenClosed();
    expect(raw.goaways[0]).toEqual({ lastStreamId: 0, errorCode: errorCode.enhanceYourCalm, debug: "too_many_pings" });
  });

  it("counts no strike against pings between responses, as gRPC servers do", async () => {
    const raw = await settledClient(service);
    for (let i = 1; i <= 10; i++) {
      raw.sendUnary(healthCheck, new Uint8Array(0));
      await until(() => (raw.received.get(1) ?? 0) >= 2 * i, `response ${i}`); // HEADERS and trailers
      raw.pingFlood(1);
      await until(() => raw.pingAcks === 1 + i, `PING ACK ${i}`);
    }
    expect(raw.goaways).toEqual([]);
    expect(raw.closed).toBe(false);
    raw.destroy();
  });
});

describe("message size limits", () => {
  it("answers RESOURCE_EXHAUSTED to a request over 4 MiB, and keeps serving", async () => {
    const session = http2Connect(`http://${service.address}`);
    try {
      const huge = pb.bytes(1, "k".repeat(4 * 1024 * 1024)); // CreateTaskRequest.kind: 4 MiB + 6 bytes
      const refused = await unaryCall(session, "/spool.v1.TaskService/CreateTask", huge);
      expect(refused.status).toBe(8); // RESOURCE_EXHAUSTED
      expect(refused.message).toMatch(/larger than max/);
      // The same connection still serves, and so does the service.
      const health = await unaryCall(session, healthCheck, new Uint8Array(0));
      expect(health).toMatchObject({ status: 0, body: Buffer.from([0x08, 0x01]) }); // SERVING
      expect(await client.createTask("demo.echo", "after a huge request")).toMatchObject({ kind: "demo.echo" });
    } finally {
      session.close();
    }
  });

  it("never builds a reply over 4 MiB: a ListTasks page of large tasks stops at 3 MiB", async () => {
    const batch = `big${Date.now()}`;
    // Under the 1 MiB input limit; demo.echo returns it, so each ended task carries 1.8 MiB.
    const input = "x".repeat(900 * 1024);
    for (let i = 0; i < 3; i++) await client.waitForTask((await client.createTask("demo.echo", input, { labels: { batch } })).id);
    const session = http2Connect(`http://${service.address}`);
    try {
      // ListTasksRequest: labels (4) {batch}, page_size (7), view (9) = FULL (2): 5.4 MiB of tasks.
      const page = await unaryCall(
        session,
        "/spool.v1.TaskService/ListTasks",
        Buffer.concat([pb.bytes(4, Buffer.concat([pb.bytes(1, "batch"), pb.bytes(2, batch)])), pb.varint(7, 3), pb.varint(9, 2)]),
      );
      expect(page.status).toBe(0);
      expect(page.body.length).toBeGreaterThan(1.5 * 1024 * 1024); // one task at least
      expect(page.body.length).toBeLessThanOrEqual(3 * 1024 * 1024 + 64); // 3 MiB of tasks, plus the page token
    } finally {
      session.close();
    }
  });

  it("the SDK refuses to send a request over 4 MiB itself", async () => {
    // grpc-js's own words for its send limit (the service's would be "Received message larger than max").
    await expect(client.createTask("demo.echo", "x".repeat(5 * 1024 * 1024))).rejects.toMatchObject({
      code: "resource_exhausted",
      message: expect.stringMatching(/^Attempted to send message with a size larger than 4194304/),
    });
  });
});

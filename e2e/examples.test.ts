// The handler modules of examples/, run by the built service as a user would run them
// (SPOOL_TASKS=examples), through the SDK.
import { once } from "node:events";
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";

const database = useTestDatabase();
const graceMs = 1000;
let client: SpoolClient;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-examples-"));
  const service = await startService({
    DATABASE_URL: database.url,
    SPOOL_WORKERS: "3",
    SPOOL_CANCEL_GRACE_MS: String(graceMs),
    SPOOL_TASKS: fileURLToPath(new URL("../examples", import.meta.url)),
  });
  client = new SpoolClient(service.address);
});
afterAll(async () => {
  client?.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function watched(id: string): Promise<Task[]> {
  const versions: Task[] = [];
  for await (const task of client.watchTask(id)) versions.push(task);
  return versions;
}

describe("example.csv-import", () => {
  it("imports the good rows, logs the bad ones by line, and reports progress", async () => {
    const path = join(dir, "users.csv");
    const rows = ["email,name,plan"];
    for (let i = 0; i < 3000; i++) rows.push(`user${i}@example.com,User ${i},${i % 2 ? "pro" : "free"}`);
    rows.splice(101, 0, "not-an-email,Bad,free");
    rows.splice(2001, 0, "x@example.com,,gold");
    await writeFile(path, `${rows.join("\n")}\n`);
    const into = join(dir, "users.jsonl");

    const task = await client.createTask("example.csv-import", { path, into, batchSize: 250 });
    const versions = await watched(task.id);
    const done = versions.at(-1)!;
    expect(done).toMatchObject({ state: "succeeded", result: { imported: 3000, rejected: 2 } });
    const fractions = versions.flatMap((v) => (v.progress ? [v.progress.fraction] : []));
    expect(fractions.length).toBeGreaterThan(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(done.progress).toMatchObject({ fraction: 1, message: "imported 3000 rows, rejected 2" });
    expect((await readFile(into, "utf8")).trim().split("\n")).toHaveLength(3000);

    const warnings = [];
    for await (const line of client.streamLogs(task.id)) if (line.level === "warn") warnings.push(line.message);
    expect(warnings).toEqual([expect.stringMatching(/^line 102: email: /), expect.stringMatching(/^line 2002: name: .*; plan: /)]);
  });

  it("refuses an input without a path, naming the field", async () => {
    await expect(client.createTask("example.csv-import", { into: "x" })).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^input\.path: /),
    });
  });
});

describe("example.webhook", () => {
  let server: Server;
  let url: string;
  let answer: (request: IncomingMessage) => number | "hang";
  const received: { key: string | undefined; body: string }[] = [];
  beforeAll(async () => {
    server = createServer(async (request, response) => {
      let body = "";
      for await (const chunk of request) body += String(chunk);
      received.push({ key: request.headers["idempotency-key"] as string | undefined, body });
      const status = answer(request);
      if (status !== "hang") response.writeHead(status).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("retries with backoff until the receiver takes the event, with one idempotency key", async () => {
    received.length = 0;
    let calls = 0;
    answer = () => (++calls <= 2 ? 503 : 204);
    const task = await client.createTask("example.webhook", { url, event: { type: "order.paid", id: 7 } }, { maxAttempts: 5 });
    const done = (await watched(task.id)).at(-1)!;
    expect(done).toMatchObject({ state: "succeeded", attempt: 3, result: { delivered: true, status: 204, attempt: 3 } });
    expect(done.failures.map((f) => [f.attempt, f.type])).toEqual([
      [1, "DeliveryError"],
      [2, "DeliveryError"],
    ]);
    expect(received.map((r) => ({ key: r.key, event: JSON.parse(r.body) }))).toEqual(
      Array.from({ length: 3 }, () => ({ key: task.id, event: { type: "order.paid", id: 7 } })),
    );
  });

  it("does not retry an event the receiver refuses for good", async () => {
    answer = () => 422;
    const task = await client.createTask("example.webhook", { url, event: { bad: true } }, { maxAttempts: 5 });
    expect((await watched(task.id)).at(-1)).toMatchObject({ state: "succeeded", attempt: 1, result: { delivered: false, status: 422 } });
  });

  it("gives up on a receiver that does not answer when the attempt times out", async () => {
    answer = () => "hang";
    const task = await client.createTask("example.webhook", { url, event: { slow: true } }, { maxAttempts: 1, timeoutMs: 1000 });
    const done = (await watched(task.id)).at(-1)!;
    expect(done).toMatchObject({ state: "failed", error: { type: "Timeout" } });
    expect(done.error!.message).not.toMatch(/thread terminated/); // fetch honoured the signal
  });
});

describe("example.render", () => {
  it("renders a PNG and reports progress", async () => {
    const path = join(dir, "small.png");
    const task = await client.createTask("example.render", { path, width: 320, height: 240, iterations: 200 });
    const done = (await watched(task.id)).at(-1)!;
    expect(done).toMatchObject({ state: "succeeded", result: { path }, progress: { fraction: 1 } });
    const png = await readFile(path);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(320); // IHDR width
  });

  // Cooperative, it stops at the next row; not, its thread is terminated after the grace
  // period. Either way the task ends CANCELLED with the reason.
  it.each([true, false])("is cancelled mid-render (cooperative: %s)", async (cooperative) => {
    const path = join(dir, `big-${cooperative}.png`);
    const task = await client.createTask("example.render", { path, width: 4000, height: 4000, iterations: 5000, cooperative });
    for await (const version of client.watchTask(task.id)) if (version.state === "running") break;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await client.cancelTask(task.id, "not needed");
    const done = await client.waitForTask(task.id);
    expect(done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "not needed" } });
  });
});

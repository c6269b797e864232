// StreamLogs through real replicas: replay, resume, live follow, and following a task that
// runs on another replica of the same database.
import type { LogEntry, SpoolClient, Task } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
let a: TestSpool;
let b: TestSpool;
let sql: postgres.Sql;

beforeAll(async () => {
  a = await startTestSpool(database.url);
  b = await startTestSpool(database.url);
  sql = postgres(database.url, { max: 1 });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await sql?.end();
});

/** Waits until the task runs, and returns the replica running it and the other one. */
async function replicasOf(id: string): Promise<{ runner: TestSpool; other: TestSpool }> {
  const owner = await eventually(async () => {
    const [row] = await sql<{ owner: string | null }[]>`select owner from spool.tasks where id = ${id}`;
    return row?.owner ?? undefined;
  });
  return owner === a.spool.replicaId ? { runner: a, other: b } : { runner: b, other: a };
}

async function collect(iterable: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const lines: LogEntry[] = [];
  for await (const line of iterable) lines.push(line);
  return lines;
}

const finished = (client: SpoolClient, id: string) =>
  eventually(async () => {
    const task = await client.getTask(id);
    return task.finishedAt ? task : undefined;
  }, 20_000);

describe("StreamLogs", () => {
  it("replays every stored line in order, in pages, and resumes after a seq", async () => {
    const task = await a.client.createTask("demo.log", { lines: 2500 });
    await finished(a.client, task.id);
    const all = await collect(a.client.streamLogs(task.id));
    expect(all.map((l) => l.seq)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(all[0]).toMatchObject({ level: "info", message: "line 1 of 2500", attempt: 1 });
    const rest = await collect(b.client.streamLogs(task.id, { afterSeq: 1234 }));
    expect(rest.map((l) => l.seq)).toEqual(all.slice(1234).map((l) => l.seq));

    // tail: only the last lines, after afterSeq too; more than there are gives them all.
    expect((await collect(a.client.streamLogs(task.id, { tail: 3 }))).map((l) => l.seq)).toEqual([2498, 2499, 2500]);
    expect((await collect(a.client.streamLogs(task.id, { tail: 1500, afterSeq: 2000 }))).map((l) => l.seq)).toEqual(all.slice(2000).map((l) => l.seq));
    expect((await collect(a.client.streamLogs(task.id, { tail: 100_000 }))).length).toBe(2500);
    await expect(collect(a.client.streamLogs(task.id, { tail: 100_001 }))).rejects.toThrow(/tail: 100001 is out of range 0\.\.100000/);
    await expect(collect(a.client.streamLogs(task.id, { tail: -1 }))).rejects.toThrow(/tail: -1 is out of range/);
  });

  it("follows from the last lines of a running task with tail", async () => {
    const task = await a.client.createTask("demo.sleep", { seconds: 3 });
    await eventually(async () => ((await collect(a.client.streamLogs(task.id))).length >= 1 ? true : undefined), 20_000);
    const lines = await collect(b.client.streamLogs(task.id, { follow: true, tail: 1 }));
    expect(lines.at(-1)!.message).toBe("slept 3 of 3 s");
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: lines.length }, (_, i) => 3 - lines.length + 1 + i));
  });

  it("follows live lines until the task ends, then ends by itself", async () => {
    const task = await a.client.createTask("demo.sleep", { seconds: 2.5 });
    const lines = await collect(a.client.streamLogs(task.id, { follow: true }));
    expect(lines.map((l) => l.message)).toEqual(["slept 1 of 3 s", "slept 2 of 3 s", "slept 3 of 3 s"]);
    expect((await a.client.getTask(task.id)).state).toBe("succeeded");
  });

  it("follows from another replica, and a reconnect with the last seq gets no gap and no duplicate", async () => {
    const task = await a.client.createTask("demo.sleep", { seconds: 3 });
    const { other } = await replicasOf(task.id);
    const first: LogEntry[] = [];
    // Read the first line from the replica that does not run the task, then drop the stream...
    for await (const line of other.client.streamLogs(task.id, { follow: true })) {
      first.push(line);
      break;
    }
    // ...and resume there from the last seq received.
    const rest = await collect(other.client.streamLogs(task.id, { follow: true, afterSeq: first.at(-1)!.seq }));
    expect([...first, ...rest].map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(rest.every((l) => l.seq > first.at(-1)!.seq)).toBe(true);
  });

  it("ends a followed stream of a task that has already ended after sending its lines", async () => {
    const task = await a.client.createTask("demo.log", { lines: 3 });
    await finished(a.client, task.id);
    expect((await collect(b.client.streamLogs(task.id, { follow: true }))).map((l) => l.seq)).toEqual([1, 2, 3]);
  });

  it("does not hold a task back while a reader stalls, and delivers every line once it reads on", async () => {
    const total = 30_000;
    const task = await a.client.createTask("demo.log", { lines: total });
    const lines = a.client.streamLogs(task.id, { follow: true });
    const first = await lines.next(); // the reader takes one line, then stalls
    expect(first.value).toMatchObject({ seq: 1 });
    expect(await finished(a.client, task.id)).toMatchObject({ state: "succeeded" });
    let count = 1;
    let last = 1;
    for await (const line of lines) {
      expect(line.seq).toBe(last + 1);
      last = line.seq;
      count++;
    }
    expect(count).toBe(total);
  });

  it("stops sending when the reader goes away", async () => {
    const task = await a.client.createTask("demo.sleep", { seconds: 30 });
    const reader = new AbortController();
    const stream = collect(a.client.streamLogs(task.id, { follow: true, signal: reader.signal }));
    await eventually(async () => ((await a.client.getTask(task.id)).state === "running" ? true : undefined));
    reader.abort();
    await stream;
    await a.client.cancelTask(task.id);
    await finished(a.client, task.id);
  });
});

describe("cancel from another replica", () => {
  it("reaches the replica that runs the task", async () => {
    const task = await a.client.createTask("demo.spin", { ms: 60_000 });
    const { other } = await replicasOf(task.id);
    const running: Task = await other.client.getTask(task.id);
    expect(running).toMatchObject({ state: "running", cancelRequested: false });
    await other.client.cancelTask(task.id, "from the other replica");
    expect(await finished(other.client, task.id)).toMatchObject({
      state: "cancelled",
      error: { message: "from the other replica" },
    });
  });
});

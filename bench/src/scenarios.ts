// The benchmark's scenarios. Each returns plain figures; run.ts prints and stores them.
import type { SpoolClient } from "@spool/sdk";
import type postgres from "postgres";
import { now } from "./clock.js";
import type { Pings } from "./pings.js";
import { distribution, type Distribution } from "./stats.js";
import type { Subject } from "./subjects.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function untilIdle(subject: Subject): Promise<void> {
  while (await subject.busy()) await pause(5);
}

export interface Throughput {
  tasks: number;
  /** Time to create them all (the producer's side). */
  createMs: number;
  /** From the first create to the last task finished. */
  totalMs: number;
  createPerSec: number;
  /** tasks / totalMs: the end-to-end rate, creation included. */
  perSec: number;
}

/** Scenario 1, repeated: the round with the median rate, and every round's rate. */
export async function throughputRounds(
  subject: Subject,
  n: number,
  mode: "batched" | "single",
  rounds: number,
): Promise<Throughput & { rounds: number[] }> {
  const results: Throughput[] = [];
  for (let i = 0; i < rounds; i++) results.push(await throughput(subject, n, mode));
  const sorted = [...results].sort((a, b) => a.perSec - b.perSec);
  return { ...(sorted[Math.floor(sorted.length / 2)] as Throughput), rounds: results.map((r) => r.perSec) };
}

/** Scenario 1: n no-op tasks through the API, from the first create until all finished. */
export async function throughput(subject: Subject, n: number, mode: "batched" | "single"): Promise<Throughput> {
  await subject.reset();
  const start = now();
  if (mode === "batched") await subject.createBatched(n, 500, 4);
  else await subject.createSingly(n, 64);
  const created = now();
  await untilIdle(subject);
  const done = now();
  return {
    tasks: n,
    createMs: Math.round(created - start),
    totalMs: Math.round(done - start),
    createPerSec: Math.round((n / (created - start)) * 1000),
    perSec: Math.round((n / (done - start)) * 1000),
  };
}

export interface Pickup {
  /** From the create call returning to the handler starting. */
  afterCreate: Distribution;
  /** From before the create call to the handler starting (graphile-worker's own measure). */
  beforeCreate: Distribution;
}

/**
 * Scenario 2: sequential creates on an idle system; the handler pings its start time. The
 * table is emptied first unless `keep` (scenario 6 measures with a full table).
 */
export async function pickup(subject: Subject, pings: Pings, count: number, options: { keep?: boolean } = {}): Promise<Pickup> {
  if (!options.keep) await subject.reset();
  const after: number[] = [];
  const before: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    await subject.createPing(pings.port, i);
    const t1 = now();
    const started = await pings.next(i);
    after.push(started - t1);
    before.push(started - t0);
  }
  await untilIdle(subject);
  return { afterCreate: distribution(after), beforeCreate: distribution(before) };
}

export interface Lone {
  /** CreateTask as the caller waits for it. */
  createCall: Distribution;
  /** From before the CreateTask call to the handler starting. */
  started: Distribution;
  /** From before the CreateTask call to the caller seeing SUCCEEDED through WatchTask (waitForTask). */
  succeeded: Distribution;
}

/**
 * Scenario 2b, latency as a caller sees it: one task at a time on an idle service, every time
 * taken from before the call, as issue 15 asks. Each task is created, its start pinged by the
 * handler, and its end awaited with waitForTask (one WatchTask stream); then the service idles
 * for `gapMs`, as a lone caller's service would.
 */
export async function lone(client: SpoolClient, pings: Pings, count: number, gapMs = 20): Promise<Lone> {
  const call: number[] = [];
  const started: number[] = [];
  const succeeded: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    const task = await client.createTask("bench.ping", { port: pings.port, i: 1_000_000 + i });
    call.push(now() - t0);
    started.push((await pings.next(1_000_000 + i)) - t0);
    const done = await client.waitForTask(task.id);
    succeeded.push(now() - t0);
    if (done.state !== "succeeded") throw new Error(`task ${task.id} ended ${done.state}`);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return { createCall: distribution(call), started: distribution(started), succeeded: distribution(succeeded) };
}

/** Scenario 3: CreateTask until the client sees the result (a followed log stream ends, then GetTask). */
export async function endToEnd(client: SpoolClient, count: number): Promise<Distribution> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    const task = await client.createTask("bench.noop");
    for await (const _ of client.streamLogs(task.id, { follow: true })) void _;
    const done = await client.getTask(task.id);
    if (done.state !== "succeeded") throw new Error(`task ${task.id} ended ${done.state}`);
    samples.push(now() - t0);
  }
  return distribution(samples);
}

export interface LogFigures {
  lines: number;
  /** Lines per second to one StreamLogs client, from the first line logged to the last received. */
  linesPerSec: number;
  /** Delay of a line from ctx.log to the client, while flooding. */
  floodDelay: Distribution;
  /** Delay of a line from ctx.log to the client, one line per ms. */
  pacedDelay: Distribution;
}

async function followLines(client: SpoolClient, input: { lines: number; intervalMs?: number }) {
  const task = await client.createTask("bench.logs", input);
  const delays: number[] = [];
  let first = Number.NaN;
  let last = Number.NaN;
  for await (const line of client.streamLogs(task.id, { follow: true })) {
    const received = now();
    const stamp = Number(line.message.split(" ")[1]);
    if (Number.isNaN(first)) first = stamp;
    last = received;
    delays.push(received - stamp);
  }
  if (delays.length !== input.lines) throw new Error(`received ${delays.length} of ${input.lines} lines`);
  return { delays, elapsedMs: last - first };
}

/** Scenario 4: one task's lines to one StreamLogs client. */
export async function logThroughput(client: SpoolClient, floodLines: number, pacedLines: number): Promise<LogFigures> {
  const flood = await followLines(client, { lines: floodLines });
  const paced = await followLines(client, { lines: pacedLines, intervalMs: 1 });
  return {
    lines: floodLines,
    linesPerSec: Math.round((floodLines / flood.elapsedMs) * 1000),
    floodDelay: distribution(flood.delays),
    pacedDelay: distribution(paced.delays),
  };
}

export interface CancelFigures {
  graceMs: number;
  /** CancelTask to CANCELLED of a running demo.spin (thread terminated after the grace). */
  spin: Distribution;
  /** The same for demo.sleep, which honours its AbortSignal. */
  sleep: Distribution;
}

async function cancelTimes(client: SpoolClient, kind: string, input: unknown, count: number): Promise<Distribution> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const task = await client.createTask(kind, input);
    while ((await client.getTask(task.id)).state !== "running") await pause(2);
    const t0 = now();
    await client.cancelTask(task.id, "bench");
    while ((await client.getTask(task.id)).state !== "cancelled") await pause(1);
    samples.push(now() - t0);
  }
  return distribution(samples);
}

/** Scenario 5: time from CancelTask to CANCELLED. */
export async function cancel(client: SpoolClient, graceMs: number, count: number): Promise<CancelFigures> {
  return {
    graceMs,
    spin: await cancelTimes(client, "demo.spin", { ms: 600_000 }, count),
    sleep: await cancelTimes(client, "demo.sleep", { seconds: 600 }, count),
  };
}

/**
 * Scenario 6, the setup: `finished` SUCCEEDED and `future` future-dated PENDING tasks in the
 * table (ids in UUIDv7 form, as the service makes them), then VACUUM ANALYZE.
 */
export async function fillTable(sql: postgres.Sql, finished: number, future: number): Promise<void> {
  const total = finished + future;
  // Rows first..last of `total`, one id per row and 10 ms apart, the newest now.
  const insert = (first: number, last: number, state: "succeeded" | "pending") => sql`
    insert into spool.tasks (id, kind, queue, state, attempt, max_attempts, timeout_ms, labels,
                             created_at, run_at, started_at, finished_at)
    select (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
           'bench.noop', 'default', ${state}::spool.task_state,
           case when ${state} = 'succeeded' then 1 else 0 end, 3, 900000, '{}',
           to_timestamp(ms / 1000.0),
           case when ${state} = 'succeeded' then to_timestamp(ms / 1000.0) else now() + interval '1 day' end,
           case when ${state} = 'succeeded' then to_timestamp(ms / 1000.0) end,
           case when ${state} = 'succeeded' then to_timestamp(ms / 1000.0) end
    from (select (extract(epoch from now()) * 1000)::bigint - 10 * ${total}::bigint + g * 10 as ms, md5(g::text) as h
          from generate_series(${first}::int, ${last}::int) g) s`;
  for (let first = 1; first <= finished; first += 250_000) {
    await insert(first, Math.min(finished, first + 249_999), "succeeded");
  }
  if (future > 0) await insert(finished + 1, total, "pending");
  await sql`vacuum analyze spool.tasks`;
}

// `npm run bench`: starts Postgres (DATABASE_URL's server, else an embedded one) and a real
// Spool service, runs every scenario, then graphile-worker's side of scenarios 1 and 2 in its
// default and its batched mode against the same server, prints a table and writes the
// figures to bench/results/.
//
//   npm run bench                  full run (50,000 tasks, 1,000 pickups, 1M-row table...)
//   npm run bench -- --quick       a tiny run that checks the harness works (CI)
//   npm run bench -- --tasks 20000 --only spool
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { listenForPings, type Pings } from "./pings.js";
import { memoryOf, startChild } from "./processes.js";
import { startPostgres } from "./postgres.js";
import { freshDatabase, graceMs, startSpool as startService } from "./service.js";
import { chartSvg } from "./chart.js";
import * as scenario from "./scenarios.js";
import { bullMqSubject, graphileSubject, pgBossSubject, spoolSubject, type Subject } from "./subjects.js";
import { bullConnection } from "./bullmq/settings.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    tasks: { type: "string" },
    only: { type: "string" },
    workers: { type: "string" },
  },
});
const root = fileURLToPath(new URL("../..", import.meta.url));
const quick = args.quick;
const size = quick
  ? { tasks: 300, rounds: 1, pickups: 50, e2e: 20, floodLines: 5_000, pacedLines: 200, cancels: 2, finished: 20_000, future: 2_000 }
  : { tasks: 50_000, rounds: 3, pickups: 1_000, e2e: 300, floodLines: 200_000, pacedLines: 2_000, cancels: 10, finished: 1_000_000, future: 100_000 };
if (args.tasks) size.tasks = Number(args.tasks);
const only = new Set((args.only ?? "spool,graphile,pgboss,bullmq").split(","));
/**
 * Scenarios 1b and 1c: a queue with a cluster-wide concurrency limit. A limit counts every
 * task claimed and not yet ended, which includes a replica's local queue and the outcomes
 * being stored: for no-op tasks about 400 in flight at full speed, up to ~1,000 at peaks (the
 * threads, SPOOL_PREFETCH's 500, and outcomes being stored). 1b's limit is far above that,
 * so it never binds and measures what the limited claim path costs; 1c's binds, so it
 * measures how fast a limited queue turns its places over (limit / time a task holds one).
 */
const limits = { above: 10_000, binding: 100 };
const log = (message: string) => console.error(`[bench] ${message}`);

async function main() {
  const server = await startPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  const urlOf = server.urlOf;
  const [pg] = await admin<{ version: string; fsync: string; synchronous_commit: string; autovacuum: string }[]>`
    select version(), current_setting('fsync') as fsync, current_setting('synchronous_commit') as synchronous_commit,
      current_setting('autovacuum') as autovacuum`;
  const machine = {
    host: hostname(),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: pg!.version.split(",")[0],
    fsync: pg!.fsync,
    synchronousCommit: pg!.synchronous_commit,
    autovacuum: pg!.autovacuum,
    embeddedPostgres: server.embedded,
  };
  log(`machine: ${JSON.stringify(machine)}`);
  const pings = await listenForPings();
  const results: Record<string, unknown> = { machine, sizes: size, date: new Date().toISOString() };

  try {
    if (only.has("spool")) {
      results.spool = await runSpool(admin, urlOf("spool_bench"), pings);
      results.spool_traced = await runSpoolTraced(admin, urlOf("spool_bench"));
    }
    if (only.has("graphile")) {
      for (const mode of ["default", "batched"] as const) {
        results[`graphile_${mode}`] = await runGraphile(admin, urlOf("graphile_bench"), mode, pings);
      }
    }
    if (only.has("pgboss")) results.pgboss = await runPgBoss(admin, urlOf("pgboss_bench"), pings);
    if (only.has("bullmq")) {
      const redis = bullConnection();
      if (await reachable(redis.host, redis.port)) results.bullmq = await runBullMq(pings);
      else log(`BullMQ skipped: no Redis answers at ${redis.host}:${redis.port} (start one, or set REDIS_PORT)`);
    }
  } finally {
    pings.close();
    await admin.end();
    await server.stop();
  }

  report(results);
  const out = join(root, "bench", "results", `${quick ? "quick" : new Date().toISOString().slice(0, 10)}.json`);
  await mkdir(join(root, "bench", "results"), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(out.replace(/\.json$/, ".svg"), chartSvg(results));
  log(`figures written to ${out}, the chart to ${out.replace(/\.json$/, ".svg")}`);
}

/** The service with the bench's defaults and the --workers option, plus `env`. */
function startSpool(url: string, env: Record<string, string> = {}) {
  return startService(url, { ...(args.workers ? { SPOOL_WORKERS: args.workers } : {}), ...env });
}

async function runSpool(admin: postgres.Sql, url: string, pings: Awaited<ReturnType<typeof listenForPings>>) {
  await freshDatabase(admin, url);
  const { child, match } = await startSpool(url);
  const pid = child.process.pid as number;
  const subject = spoolSubject(`127.0.0.1:${match[1]}`, url);
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = memoryOf(pid);
    log(`spool: idle RSS ${idle.rssMb} MB`);
    const batched = await scenario.throughputRounds(subject, size.tasks, "batched", size.rounds);
    log(`spool: throughput (CreateTasks) ${JSON.stringify(batched)}`);
    const peakMb = memoryOf(pid).peakMb;
    // The same through a queue with a cluster-wide concurrency limit, above and below what
    // is in flight (limits, above).
    const limitedSubject = spoolSubject(`127.0.0.1:${match[1]}`, url, "limited");
    const throughputLimitedTo = async (limit: number) => {
      await limitedSubject.client.queues.update("limited", { concurrencyLimit: limit });
      const figures = await scenario.throughputRounds(limitedSubject, size.tasks, "batched", size.rounds);
      log(`spool: throughput (CreateTasks) in a queue limited to ${limit} ${JSON.stringify(figures)}`);
      return figures;
    };
    const limited = await throughputLimitedTo(limits.above);
    const limitedBinding = await throughputLimitedTo(limits.binding);
    await limitedSubject.close();
    const single = await scenario.throughput(subject, size.tasks, "single");
    log(`spool: throughput (CreateTask) ${JSON.stringify(single)}`);
    const pickup = await scenario.pickup(subject, pings, size.pickups);
    log(`spool: pickup ${JSON.stringify(pickup)}`);
    const lone = await scenario.lone(subject.client, pings, size.e2e);
    log(`spool: lone tasks ${JSON.stringify(lone)}`);
    const endToEnd = await scenario.endToEnd(subject.client, size.e2e);
    log(`spool: end to end ${JSON.stringify(endToEnd)}`);
    const logs = await scenario.logThroughput(subject.client, size.floodLines, size.pacedLines);
    log(`spool: logs ${JSON.stringify(logs)}`);
    const cancel = await scenario.cancel(subject.client, graceMs, size.cancels);
    log(`spool: cancel ${JSON.stringify(cancel)}`);
    await subject.reset();
    log(`spool: filling the table with ${size.finished} finished and ${size.future} future tasks`);
    await scenario.fillTable(subject.sql, size.finished, size.future);
    const pickupAtScale = await scenario.pickup(subject, pings, size.pickups, { keep: true });
    log(`spool: pickup at scale ${JSON.stringify(pickupAtScale)}`);
    return { memory: { idleRssMb: idle.rssMb, peakRssMb: peakMb }, throughput: { batched, single, limited, limitedBinding }, pickup, lone, endToEnd, logs, cancel, pickupAtScale };
  } finally {
    await subject.close();
    await child.stop();
  }
}

/**
 * Scenario 1d: scenario 1 again with tracing on, exporting every span over OTLP
 * (http/protobuf, the default) to a receiver in this process that reads and drops them.
 */
async function runSpoolTraced(admin: postgres.Sql, url: string) {
  await freshDatabase(admin, url);
  let bytes = 0;
  let exports = 0;
  const receiver = createServer((request, response) => {
    request.on("data", (chunk: Buffer) => (bytes += chunk.length));
    request.on("end", () => {
      exports++;
      response.writeHead(200, { "Content-Type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const { port } = receiver.address() as AddressInfo;
  const { child, match } = await startSpool(url, { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  const subject = spoolSubject(`127.0.0.1:${match[1]}`, url);
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const batched = await scenario.throughputRounds(subject, size.tasks, "batched", size.rounds);
    log(`spool, tracing on: throughput (CreateTasks) ${JSON.stringify(batched)}; ${exports} OTLP exports, ${Math.round(bytes / 1024)} KiB so far`);
    return { throughput: { batched }, otlp: { exports, bytes } };
  } finally {
    await subject.close();
    await child.stop();
    await new Promise((resolve) => receiver.close(resolve));
  }
}

async function runGraphile(admin: postgres.Sql, url: string, mode: "default" | "batched", pings: Awaited<ReturnType<typeof listenForPings>>) {
  await freshDatabase(admin, url);
  const subject = await graphileSubject(`graphile-worker (${mode})`, url);
  const runner = { script: "graphile/runner.js", env: { DATABASE_URL: url, GRAPHILE_MODE: mode, GRAPHILE_CONCURRENCY: "10" }, ready: /graphile runner ready/ };
  return runPeer(subject, runner, pings);
}

/**
 * A peer's side of scenarios 1 and 2: its workers in a child process (`runner`), its producer
 * (`subject`) here. The producer comes first, so that it makes the queues the workers need.
 */
async function runPeer(subject: Subject, runner: { script: string; env: Record<string, string>; ready: RegExp }, pings: Pings) {
  const { child } = await startChild(join(root, "bench", "dist", runner.script), runner.env, runner.ready);
  try {
    const batched = await scenario.throughputRounds(subject, size.tasks, "batched", size.rounds);
    log(`${subject.name}: throughput (batch) ${JSON.stringify(batched)}`);
    const single = await scenario.throughput(subject, size.tasks, "single");
    log(`${subject.name}: throughput (single) ${JSON.stringify(single)}`);
    const pickup = await scenario.pickup(subject, pings, size.pickups);
    log(`${subject.name}: pickup ${JSON.stringify(pickup)}`);
    return { throughput: { batched, single }, pickup };
  } finally {
    await subject.close();
    await child.stop();
  }
}

async function runPgBoss(admin: postgres.Sql, url: string, pings: Pings) {
  await freshDatabase(admin, url);
  const subject = await pgBossSubject(url);
  return runPeer(subject, { script: "pgboss/runner.js", env: { DATABASE_URL: url, PGBOSS_CONCURRENCY: "10" }, ready: /pg-boss runner ready/ }, pings);
}

async function runBullMq(pings: Pings) {
  const subject = await bullMqSubject();
  await subject.reset();
  return runPeer(subject, { script: "bullmq/runner.js", env: { BULLMQ_CONCURRENCY: "50" }, ready: /bullmq runner ready/ }, pings);
}

type Figures = Record<string, any>;

/** Whether something accepts TCP connections there (within a second). */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

function report(results: Figures) {
  const s = results.spool as Figures | undefined;
  const gd = results.graphile_default as Figures | undefined;
  const gb = results.graphile_batched as Figures | undefined;
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : "-");
  const f = (x: unknown) => (x === undefined ? "-" : String(x));
  const pb = results.pgboss as Figures | undefined;
  const bq = results.bullmq as Figures | undefined;
  const rows: string[][] = [
    ["scenario", "spool", "graphile default", "graphile batched", "pg-boss", "BullMQ*", "spool/default", "spool/batched", "spool/pg-boss", "spool/BullMQ"],
  ];
  const side = (name: string, pick: (r: Figures) => number | undefined, higherIsBetter: boolean) => {
    const [a, ...peers] = [s, gd, gb, pb, bq].map((r) => (r ? pick(r) : undefined));
    rows.push([name, f(a), ...peers.map(f), ...peers.map((p) => (higherIsBetter ? ratio(a, p) : ratio(p, a)))]);
  };
  side("1. tasks/s, batch create, median of rounds", (r) => r.throughput?.batched?.perSec, true);
  side("1. tasks/s, single creates (CreateTask | addJob)", (r) => r.throughput?.single?.perSec, true);
  // Negative for Spool when the handler started before CreateTask's answer arrived (start on create).
  side("2. pickup ms after create, p50", (r) => r.pickup?.afterCreate?.p50, false);
  side("2. pickup ms after create, p99", (r) => r.pickup?.afterCreate?.p99, false);
  side("2. pickup ms from before create, p50", (r) => r.pickup?.beforeCreate?.p50, false);
  side("2. pickup ms from before create, p99", (r) => r.pickup?.beforeCreate?.p99, false);
  rows.push(["   every round", ...[s, gd, gb, pb, bq].map((r) => (r ? (r.throughput.batched.rounds as number[]).join(", ") : "-")), "", "", "", ""]);
  if (s) {
    const add = (name: string, value: unknown) => rows.push([name, f(value), "", "", "", "", "", "", "", ""]);
    const ofBatched = (perSec: number) => `${perSec} (${(perSec / s.throughput.batched.perSec).toFixed(2)}x)`;
    add(`1b. tasks/s, batch create, queue limited to ${limits.above} (x of 1.)`, ofBatched(s.throughput.limited.perSec));
    add(`1c. tasks/s, batch create, queue limited to ${limits.binding}, binding (x of 1.)`, ofBatched(s.throughput.limitedBinding.perSec));
    const traced = results.spool_traced as Figures | undefined;
    if (traced) add("1d. tasks/s, batch create, tracing on, OTLP (x of 1.)", ofBatched(traced.throughput.batched.perSec));
    add("2. pickup ms after create, p90 / max", `${s.pickup.afterCreate.p90} / ${s.pickup.afterCreate.max}`);
    add("2b. lone task: CreateTask ms p50 / p99", `${s.lone.createCall.p50} / ${s.lone.createCall.p99}`);
    add("2b. lone task: create -> started ms p50 / p99", `${s.lone.started.p50} / ${s.lone.started.p99}`);
    add("2b. lone task: create -> SUCCEEDED seen (WatchTask) ms p50 / p99", `${s.lone.succeeded.p50} / ${s.lone.succeeded.p99}`);
    add("3. end to end ms, p50 / p99", `${s.endToEnd.p50} / ${s.endToEnd.p99}`);
    add("4. log lines/s to one stream", s.logs.linesPerSec);
    add("4. log line delay ms p50 / p99, flood", `${s.logs.floodDelay.p50} / ${s.logs.floodDelay.p99}`);
    add("4. log line delay ms p50 / p99, 1 line/ms", `${s.logs.pacedDelay.p50} / ${s.logs.pacedDelay.p99}`);
    add(`5. cancel demo.spin ms p50 / max (grace ${s.cancel.graceMs})`, `${s.cancel.spin.p50} / ${s.cancel.spin.max}`);
    add("5. cancel demo.sleep ms p50 / max", `${s.cancel.sleep.p50} / ${s.cancel.sleep.max}`);
    add("6. pickup ms at scale, from before create, p50 / p99", `${s.pickupAtScale.beforeCreate.p50} / ${s.pickupAtScale.beforeCreate.p99}`);
    add("7. RSS MB idle / peak under 1.", `${s.memory.idleRssMb} / ${s.memory.peakRssMb}`);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(`| ${row.map((cell, j) => cell.padEnd(widths[j]!)).join(" | ")} |`);
    if (i === 0) console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  }
  console.log("* BullMQ runs on this machine's Redis, which keeps nothing on disk; Spool, graphile-worker and pg-boss commit to Postgres with fsync on.");
  if (s) {
    const targets: [string, boolean][] = [
      ["throughput >= graphile-worker (batched) in the same run", !gb || s.throughput.batched.perSec >= gb.throughput.batched.perSec],
      ["throughput in a queue with a concurrency limit above what is in flight >= 0.8x without", s.throughput.limited.perSec >= 0.8 * s.throughput.batched.perSec],
      [
        "throughput with tracing on >= 0.9x without",
        !results.spool_traced || (results.spool_traced as Figures).throughput.batched.perSec >= 0.9 * s.throughput.batched.perSec,
      ],
      ["pickup from before create p50 <= 5 ms", s.pickup.beforeCreate.p50 <= 5],
      ["lone task: CreateTask p50 <= 1.5 ms", s.lone.createCall.p50 <= 1.5],
      ["lone task: create -> started p50 <= 2 ms and p99 <= 6 ms", s.lone.started.p50 <= 2 && s.lone.started.p99 <= 6],
      ["lone task: create -> SUCCEEDED seen p50 <= 5 ms and p99 <= 15 ms", s.lone.succeeded.p50 <= 5 && s.lone.succeeded.p99 <= 15],
      ["pickup from before create p99 <= 15 ms", s.pickup.beforeCreate.p99 <= 15],
      ["log line delay p99 <= 20 ms (1 line/ms)", s.logs.pacedDelay.p99 <= 20],
      [">= 50,000 log lines/s to one stream", s.logs.linesPerSec >= 50_000],
      ["cancel of demo.spin within grace + 50 ms", s.cancel.spin.max <= s.cancel.graceMs + 50],
      ["pickup at scale within 1.5x of an empty table (p50 and p99)",
        // From before the create: after it, a task that starts on create has a negative pickup.
        s.pickupAtScale.beforeCreate.p50 <= 1.5 * s.pickup.beforeCreate.p50 && s.pickupAtScale.beforeCreate.p99 <= 1.5 * s.pickup.beforeCreate.p99],
      ["idle RSS < 150 MB", s.memory.idleRssMb < 150],
    ];
    console.log("");
    for (const [name, met] of targets) console.log(`${met ? "met    " : "NOT MET"}  ${name}`);
    results.targets = Object.fromEntries(targets);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

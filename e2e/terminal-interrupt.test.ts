// Ctrl-C on `npm start`: the terminal sends SIGINT to the whole foreground process group, not
// only to the service. The embedded Postgres must not get it (it would die before the service
// could store anything), and the service must drain, hand its running task back, stop its
// Postgres last and exit 0. The test starts the built service as a shell starts a job (its
// own process group) and signals that whole group, as a terminal does.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient } from "@spool/sdk";
import { pino } from "pino";
import postgres from "postgres";
import { afterAll, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../service/src/store/embedded.js";
import { until } from "./support/tasks.js";

const mainJs = fileURLToPath(new URL("../service/dist/main.js", import.meta.url));
const exitBoundMs = 60_000;

const dataDirs: string[] = [];
const groupLeaders = new Set<number>();

afterAll(async () => {
  for (const leader of groupLeaders) signalGroup(leader, "SIGKILL");
  for (const dir of dataDirs) {
    for (const pid of postgresOf(dir)) signal(pid, "SIGQUIT");
    await rm(dir, { recursive: true, force: true });
  }
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function signalGroup(leader: number, name: NodeJS.Signals): void {
  signal(-leader, name);
}

/** /proc/<pid>/stat fields after the command name: state, ppid, pgrp, ... */
function statOf(pid: number): { ppid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/**
 * Every live process of the cluster in `dir`: its postmaster (whose command line names the
 * directory) and the postmaster's children (backends, checkpointer, ...).
 */
function postgresOf(dir: string): number[] {
  const pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
  const postmasters = pids.filter((pid) => {
    const argv = commandLine(pid);
    return argv[0]?.endsWith("postgres") === true && argv.includes(join(dir, "pg"));
  });
  const children = pids.filter((pid) => postmasters.includes(statOf(pid)?.ppid ?? -1));
  return [...postmasters, ...children];
}

interface Job {
  readonly pid: number;
  readonly dataDir: string;
  readonly port: number;
  output(): string;
  /** Resolves once it has exited and its output is all read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The built service with the embedded default, run as a shell runs a foreground job. */
async function startJob(): Promise<Job> {
  const dataDir = await mkdtemp(join(tmpdir(), "spool-e2e-ctrl-c-"));
  await chmod(dataDir, 0o755); // the postgres user must reach it when tests run as root
  dataDirs.push(dataDir);
  // detached: a process group of its own, led by the service.
  const child = spawn(process.execPath, [mainJs], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SPOOL_DATA_DIR: dataDir, SPOOL_PORT: "0", SPOOL_HTTP_PORT: "0", SPOOL_WORKERS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const pid = child.pid!;
  groupLeaders.add(pid);
  let output = "";
  // "close", not "exit": the last lines it wrote may still be in the pipe when it has exited.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      groupLeaders.delete(pid);
      resolve({ code, signal });
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"port":(\d+),[^\n]*"msg":"spool serving"/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(() => reject(new Error(`exited before serving:\n${output}`)));
    setTimeout(() => reject(new Error(`did not serve within 60 s:\n${output}`)), 60_000).unref();
  });
  return { pid, dataDir, port, output: () => output, exited };
}

/** Creates a task that runs for minutes and waits until it runs. */
async function runningTask(job: Job, kind: string, input: unknown): Promise<string> {
  const client = new SpoolClient(`127.0.0.1:${job.port}`);
  try {
    const task = await client.createTask(kind, input);
    await until(client, task.id, (t) => t.state === "running");
    return task.id;
  } finally {
    client.close();
  }
}

/** Waits, bounded, for the exit; SIGKILLs the group past the bound. */
async function exitOf(job: Job): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const since = Date.now();
  const bound = setTimeout(() => signalGroup(job.pid, "SIGKILL"), exitBoundMs);
  const outcome = await job.exited;
  clearTimeout(bound);
  return { ...outcome, ms: Date.now() - since };
}

it("Ctrl-C (SIGINT to the whole process group) with a task running: hands the task back, stops Postgres last, exits 0", async () => {
  const job = await startJob();
  const taskId = await runningTask(job, "demo.sleep", { seconds: 600 });
  const cluster = postgresOf(job.dataDir);
  expect(cluster.length).toBeGreaterThan(1); // the postmaster and its children
  // The postmaster is outside the service's group: the terminal's SIGINT does not reach it.
  expect(statOf(cluster[0]!)?.pgrp).not.toBe(job.pid);

  signalGroup(job.pid, "SIGINT");
  const { code, signal: by, ms } = await exitOf(job);
  console.log(`Ctrl-C with a task running: exited ${code} after ${ms} ms`);
  expect({ code, signal: by }, job.output()).toEqual({ code: 0, signal: null });
  expect(ms).toBeLessThan(exitBoundMs);
  expect(job.output()).toContain('"msg":"stopped"');
  // Nothing went wrong on the way: no error or fatal line (pino levels 50 and 60).
  expect(job.output().split("\n").filter((line) => /"level":(50|60)/.test(line))).toEqual([]);

  // Not one process of that cluster remains.
  expect(cluster.filter((pid) => statOf(pid) !== undefined)).toEqual([]);
  expect(postgresOf(job.dataDir)).toEqual([]);
  expect(existsSync(join(job.dataDir, "pg", "postmaster.pid"))).toBe(false);

  // The task was handed back: PENDING, its attempt given back, the interruption recorded.
  const pg = await startEmbeddedPostgres(job.dataDir, pino({ level: "warn" }));
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ state: string; attempt: number; failures: { attempt: number; type: string }[] }[]>`
      select state, attempt, failures from spool.tasks where id = ${taskId}`;
    expect(row).toMatchObject({ state: "pending", attempt: 0, failures: [{ attempt: 1, type: "Shutdown" }] });
  } finally {
    await sql.end();
    await pg.stop();
  }
});

it("a second Ctrl-C exits at once, and its Postgres still stops (it is out of the terminal's reach)", async () => {
  const job = await startJob();
  // A CPU loop that ignores its AbortSignal: the drain waits the whole grace period (5 s) for
  // it, so the second Ctrl-C lands while the first is still being handled.
  await runningTask(job, "demo.spin", { ms: 600_000 });
  const cluster = postgresOf(job.dataDir);
  expect(cluster.length).toBeGreaterThan(1);

  signalGroup(job.pid, "SIGINT");
  // The second press, once the first is being handled.
  for (const deadline = Date.now() + 30_000; !job.output().includes("stopping: draining tasks") && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  signalGroup(job.pid, "SIGINT");
  const { code } = await exitOf(job);
  expect(code, job.output()).toBe(130);
  for (const deadline = Date.now() + 30_000; cluster.some((pid) => statOf(pid) !== undefined) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(cluster.filter((pid) => statOf(pid) !== undefined)).toEqual([]);
  expect(postgresOf(job.dataDir)).toEqual([]);
});

it("a closed terminal (SIGHUP to the group) stops as gracefully as Ctrl-C, its Postgres included", async () => {
  const job = await startJob();
  await runningTask(job, "demo.sleep", { seconds: 600 });
  const cluster = postgresOf(job.dataDir);
  expect(cluster.length).toBeGreaterThan(1);

  signalGroup(job.pid, "SIGHUP");
  const { code, signal: by } = await exitOf(job);
  expect({ code, signal: by }, job.output()).toEqual({ code: 0, signal: null });
  expect(job.output()).toContain('"signal":"SIGHUP"');
  expect(job.output()).toContain('"msg":"stopped"');
  expect(cluster.filter((pid) => statOf(pid) !== undefined)).toEqual([]);
  expect(postgresOf(job.dataDir)).toEqual([]);
});

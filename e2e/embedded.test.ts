// The zero-configuration default: no DATABASE_URL, so the service runs its own Postgres with
// its data in SPOOL_DATA_DIR, which survives restarts, even a SIGKILL.
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, expect, it } from "vitest";
import { killAll, startService } from "./support/service.js";
import { finished } from "./support/tasks.js";

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "spool-e2e-embedded-"));
  await chmod(dataDir, 0o755); // the postgres user must reach it when tests run as root
});
afterAll(async () => {
  await killAll();
  const pid = postmasterPid();
  if (pid !== undefined) stopPostgres(pid);
  await rm(dataDir, { recursive: true, force: true });
});

function postmasterPid(): number | undefined {
  const file = join(dataDir, "pg", "postmaster.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8").split("\n")[0]) : undefined;
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
  const env = { SPOOL_DATA_DIR: dataDir, SPOOL_WORKERS: "2" };
  let service = await startService(env);
  let client = new SpoolClient(service.address);
  const task = await client.createTask("demo.echo", "kept");
  expect(await finished(client, task.id)).toMatchObject({ state: "succeeded", result: "kept" });
  client.close();
  expect(await service.kill("SIGTERM")).toBe(0);
  const firstPid = postmasterPid();
  expect(firstPid === undefined || !alive(firstPid)).toBe(true);

  // Restart: same data.
  service = await startService(env);
  client = new SpoolClient(service.address);
  expect(await client.getTask(task.id)).toMatchObject({ state: "succeeded", result: "kept" });
  const pending = await client.createTask("demo.echo", "after the crash", { runAt: new Date(Date.now() + 1500) });
  client.close();

  // SIGKILL leaves Postgres running; the next start adopts it instead of failing on the lock.
  await service.kill("SIGKILL");
  const orphan = postmasterPid();
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

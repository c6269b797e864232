// AdminService/ListWorkers from outside: two built replicas, one asked about both. A busy
// thread shows its task, a thread terminated for ignoring its cancel shows the restart and the
// failure, a SIGKILLed replica is shown as lost and then leaves the list; the `spool workers`
// command prints the same; and the call needs the admin role.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, SpoolError, type Replica } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { until } from "./support/tasks.js";

const bin = fileURLToPath(new URL("../sdk/bin/spool.js", import.meta.url));
const database = useTestDatabase();
const tokens = { root: "token-of-root-0123456789abcdef", olga: "token-of-olga-0123456789abcdef" };
let dir: string;
let a: ServiceProcess;
let b: ServiceProcess;
let root: SpoolClient;
let olga: SpoolClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-e2e-workers-"));
  const tokensFile = join(dir, "tokens.json");
  await writeFile(
    tokensFile,
    JSON.stringify([
      { token: tokens.root, subject: "root", tenant: "ops", roles: ["admin"] },
      { token: tokens.olga, subject: "olga", tenant: "ops", roles: ["operator"] },
    ]),
  );
  const env = {
    DATABASE_URL: database.url,
    SPOOL_AUTH_TOKENS_FILE: tokensFile,
    SPOOL_DEMO_KINDS: "true",
    SPOOL_WORKERS: "2",
    SPOOL_CANCEL_GRACE_MS: "300",
    SPOOL_LEASE_RENEW_MS: "200",
    SPOOL_LEASE_TTL_MS: "2000",
  };
  a = await startService({ ...env, SPOOL_QUEUES: "a" });
  b = await startService({ ...env, SPOOL_QUEUES: "b" });
  root = new SpoolClient(a.address, { token: tokens.root });
  olga = new SpoolClient(a.address, { token: tokens.olga });
});

afterAll(async () => {
  root.close();
  olga.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** Asks replica A until `done` holds of what it lists (bounded: about 20 s). */
async function listedUntil(done: (replicas: Replica[]) => boolean): Promise<Replica[]> {
  let replicas = await root.workers.list();
  for (let i = 0; i < 200 && !done(replicas); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    replicas = await root.workers.list();
  }
  return replicas;
}

const pidOf = (service: ServiceProcess) => service.child.pid as number;
const named = (replicas: Replica[], service: ServiceProcess) => replicas.find((r) => r.name.endsWith(`:${pidOf(service)}`));

describe("ListWorkers", () => {
  it("shows every replica, its queues and kinds, and what its threads run, from any replica", async () => {
    const sleeper = await root.createTask("demo.sleep", { seconds: 60 }, { queue: "b" });
    await until(root, sleeper.id, (task) => task.state === "running");
    const replicas = await listedUntil((list) => named(list, b)?.threads.some((t) => t.task?.id === sleeper.id) === true);
    expect(replicas.length).toBe(2);
    const replicaB = named(replicas, b)!;
    expect(replicaB).toMatchObject({ state: "live", queues: ["b"], version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(replicaB.kinds).toEqual(expect.arrayContaining(["demo.echo", "demo.sleep", "demo.spin"]));
    expect(replicaB.threads.map((t) => t.index)).toEqual([0, 1]);
    const busy = replicaB.threads.find((t) => t.task?.id === sleeper.id)!;
    expect(busy).toMatchObject({ state: "busy", task: { kind: "demo.sleep", attempt: 1 } });
    expect(Math.abs(busy.task!.startedAt.getTime() - (await root.getTask(sleeper.id)).startedAt!.getTime())).toBeLessThan(1000);
    expect(named(replicas, a)).toMatchObject({ state: "live", queues: ["a"] });
    await root.cancelTask(sleeper.id);
  });

  it("counts a thread's runs and shows why it was replaced", async () => {
    const spin = await root.createTask("demo.spin", { ms: 60_000 }, { queue: "b" });
    await until(root, spin.id, (task) => task.state === "running");
    await root.cancelTask(spin.id);
    await until(root, spin.id, (task) => task.state === "cancelled");
    const replicas = await listedUntil((list) => named(list, b)?.threads.some((t) => t.restarted !== undefined && t.state === "idle") === true);
    const thread = named(replicas, b)!.threads.find((t) => t.restarted !== undefined)!;
    expect(thread.restarted!.reason).toMatch(/^terminated: its run ignored its abort signal \(cancelled\)/);
    expect(thread.failed).toBeGreaterThanOrEqual(1);
    const echo = await root.createTask("demo.echo", "hi", { queue: "b" });
    await until(root, echo.id, (task) => task.state === "succeeded");
    const after = await listedUntil((list) => (named(list, b)?.threads.reduce((sum, t) => sum + t.completed, 0) ?? 0) >= 1);
    expect(named(after, b)!.threads.reduce((sum, t) => sum + t.completed, 0)).toBeGreaterThanOrEqual(1);
  });

  it("is refused to an operator, naming the role it needs", async () => {
    const error = await olga.workers.list().then(
      () => undefined,
      (e: unknown) => e as SpoolError,
    );
    expect(error).toBeInstanceOf(SpoolError);
    expect(error!.code).toBe("permission_denied");
    expect(error!.message).toBe("ListWorkers needs the admin role; olga holds only the operator role");
  });

  it("prints the same through `spool workers`, as a table and as JSON", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [bin, ...args],
          { env: { PATH: process.env.PATH ?? "", SPOOL_ADDRESS: a.address, SPOOL_TOKEN: tokens.root }, timeout: 30_000 },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const json = await run(["workers", "--json"]);
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as { name: string; state: string; threads: unknown[] });
    expect(lines.map((l) => l.name).sort()).toEqual([named(await root.workers.list(), a)!.name, named(await root.workers.list(), b)!.name].sort());
    expect(lines.every((l) => l.state === "live" && l.threads.length === 2)).toBe(true);
    const table = await run(["workers"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`:${pidOf(b)}  LIVE`);
    expect(table.stdout).toMatch(/THREAD\s+STATE\s+TASK\s+KIND/);
    expect(table.stdout).toContain("queues: b");
  });

  it("shows a SIGKILLed replica as lost, then no more once it is reaped", async () => {
    const idB = named(await root.workers.list(), b)!.id;
    await b.kill("SIGKILL");
    const lost = await listedUntil((list) => list.find((r) => r.id === idB)?.state === "lost");
    expect(lost.find((r) => r.id === idB)?.state).toBe("lost");
    const gone = await listedUntil((list) => list.every((r) => r.id !== idB));
    expect(gone.map((r) => r.id)).not.toContain(idB);
    expect(named(gone, a)?.state).toBe("live");
  });
});

// RetryTask through a real replica (gRPC on loopback, Postgres, worker threads) and the SDK,
// with auth on: tenant "acme" has two submitters (alice, bob) and an operator (olga); tenant
// "globex" a submitter (eve); the admin (root) lives in tenant "ops".
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../config.js";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, fixturesDir, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
const people = {
  alice: { tenant: "acme", roles: ["submitter"] },
  bob: { tenant: "acme", roles: ["submitter"] },
  olga: { tenant: "acme", roles: ["operator"] },
  eve: { tenant: "globex", roles: ["submitter"] },
  root: { tenant: "ops", roles: ["admin"] },
} as const;
type Person = keyof typeof people;
const tokenOf = (who: Person) => `token-of-${who}-0123456789abcdef`;

let dir: string;
let spool: TestSpool;
const clients: SpoolClient[] = [];

/** Every replica of this file: auth from the tokens file, the demo kinds and the fixture. */
function start(overrides: Partial<Config> = {}): Promise<TestSpool> {
  return startTestSpool(database.url, {
    auth: { mode: "auto", tokensFile: join(dir, "tokens.json"), clientCertsFile: undefined, jwt: undefined },
    demoKinds: true,
    taskModules: [join(fixturesDir, "retry.ts")],
    ...overrides,
  });
}

function client(who: Person, replica = spool): SpoolClient {
  const made = new SpoolClient(`127.0.0.1:${replica.spool.port}`, { token: tokenOf(who) });
  clients.push(made);
  return made;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-retry-"));
  const entries = Object.entries(people).map(([who, { tenant, roles }]) => ({ token: tokenOf(who as Person), subject: who, tenant, roles }));
  await writeFile(join(dir, "tokens.json"), JSON.stringify(entries));
  spool = await start();
});
afterAll(async () => {
  for (const made of clients) made.close();
  await spool?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ended = (client: SpoolClient, id: string) => client.waitForTask(id, { timeoutMs: 20_000 });

async function refusal(call: Promise<unknown>): Promise<SpoolError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SpoolError);
  return error as SpoolError;
}

/** A task of alice's that failed for good: its file did not exist. */
async function failedTask(owner: SpoolClient, path = join(dir, `missing-${Math.random()}`)): Promise<Task> {
  const task = await owner.createTask(
    "test.fails-until-file",
    { path },
    { maxAttempts: 1, queue: "retries", priority: 5, timeoutMs: 30_000, labels: { team: "ops" }, idempotencyKey: `k-${Math.random()}`, concurrencyKey: "customer-1", backoff: { baseMs: 2000 } },
  );
  const done = await ended(owner, task.id);
  expect(done.state).toBe("failed");
  return done;
}

describe("RetryTask", () => {
  it("runs a failed task again as a new task linked to it, which succeeds; the old one stays as it was", async () => {
    const alice = client("alice");
    const path = join(dir, "appears-later");
    const old = await failedTask(alice, path);
    await writeFile(path, "now it exists");

    const retry = await alice.retryTask(old.id);
    expect(retry.id).not.toBe(old.id);
    // Pending, or already running when a thread was idle (start on create).
    expect([["pending", 0], ["running", 1]]).toContainEqual([retry.state, retry.attempt]);
    expect(retry).toMatchObject({
      retryOf: old.id,
      kind: old.kind,
      input: old.input,
      queue: "retries",
      priority: 5,
      maxAttempts: 1,
      timeoutMs: 30_000,
      labels: { team: "ops" },
      concurrencyKey: "customer-1",
      backoff: old.backoff,
      tenant: "acme",
      createdBy: "alice",
      idempotencyKey: undefined,
      error: undefined,
      failures: [],
    });
    expect(await alice.getTask(retry.id)).toMatchObject({ retryOf: old.id });
    expect(await ended(alice, retry.id)).toMatchObject({ state: "succeeded", result: { found: path }, attempt: 1 });
    expect(await alice.getTask(old.id)).toEqual(old);
    // Retrying the old task again makes one more new task, linked to it too.
    const again = await alice.retryTask(old.id);
    expect(again.retryOf).toBe(old.id);
  });

  it("takes a cancelled task; an operator retries its tenant's tasks, an admin any tenant's: the task stays in the old tenant", async () => {
    const bob = client("bob");
    const cancelled = await bob.cancelTask((await bob.createTask("demo.echo", 1, { runAt: new Date(Date.now() + 3_600_000) })).id, "not now");
    expect(cancelled.state).toBe("cancelled");
    const byOlga = await client("olga").retryTask(cancelled.id);
    expect(byOlga).toMatchObject({ retryOf: cancelled.id, tenant: "acme", createdBy: "olga", input: 1 });
    const byRoot = await client("root").retryTask(cancelled.id);
    expect(byRoot).toMatchObject({ retryOf: cancelled.id, tenant: "acme", createdBy: "root" });
    expect(await ended(bob, cancelled.id)).toEqual(cancelled);
  });

  it("refuses a task that has not ended or that succeeded: FAILED_PRECONDITION naming its state", async () => {
    const alice = client("alice");
    const pending = await alice.createTask("demo.echo", null, { runAt: new Date(Date.now() + 3_600_000) });
    const running = await alice.createTask("demo.sleep", { seconds: 60 });
    const succeeded = await ended(alice, (await alice.createTask("demo.echo", "done")).id);
    await eventually(async () => ((await alice.getTask(running.id)).state === "running" ? true : undefined), 20_000, "the sleep to run");
    for (const [task, state] of [
      [pending, "PENDING"],
      [running, "RUNNING"],
      [succeeded, "SUCCEEDED"],
    ] as const) {
      const error = await refusal(alice.retryTask(task.id));
      expect(error.code).toBe("failed_precondition");
      expect(error.message).toMatch(new RegExp(`^task ${task.id} is ${state}: only a FAILED, CANCELLED or DROPPED task can be retried`));
    }
    await alice.cancelTask(running.id);
    await alice.cancelTask(pending.id);
  });

  it("answers NOT_FOUND for a task the caller cannot see, as for one that does not exist", async () => {
    const old = await failedTask(client("alice"));
    const missing = "01890000-0000-7000-8000-000000000000";
    const expected = await refusal(client("alice").retryTask(missing));
    expect(expected).toMatchObject({ code: "not_found", message: `task ${missing} not found` });
    for (const who of ["bob", "eve"] as const) {
      const error = await refusal(client(who).retryTask(old.id));
      expect(error).toMatchObject({ code: "not_found", message: `task ${old.id} not found` });
    }
    // Nothing was created for them.
    expect((await client("olga").listTasksPage({ kinds: ["test.fails-until-file"] })).tasks.filter((t) => t.retryOf === old.id)).toEqual([]);
  });

  it("answers UNAUTHENTICATED without credentials", async () => {
    const anonymous = new SpoolClient(`127.0.0.1:${spool.spool.port}`);
    clients.push(anonymous);
    expect((await refusal(anonymous.retryTask("01890000-0000-7000-8000-000000000000"))).code).toBe("unauthenticated");
  });

  it("answers INVALID_ARGUMENT naming the id for one that is not a task id", async () => {
    for (const id of ["", "nope", "01890000-0000-7000-8000-00000000000g"]) {
      const error = await refusal(client("alice").retryTask(id));
      expect(error.code).toBe("invalid_argument");
      expect(error.message).toMatch(/^id: /);
    }
  });

  it("counts the new task against the old task's tenant's quota, not the caller's", async () => {
    const capped = await start({ quotas: { maxPending: 1, createRate: 0, createBurst: 1 } });
    try {
      const eve = client("eve", capped);
      const old = await failedTask(eve);
      // globex's one pending task. The replica may still count the failed one as pending for a
      // second: with a key, the SDK waits the delay the refusal asks for and tries again.
      await eve.createTask("demo.echo", null, { runAt: new Date(Date.now() + 3_600_000), idempotencyKey: "the-one-pending" });
      const error = await refusal(client("root", capped).retryTask(old.id));
      expect(error.code).toBe("resource_exhausted");
      expect(error.message).toMatch(/^tenant "globex" has 1 pending tasks and may have at most 1/);
    } finally {
      await capped.stop();
    }
  });
});

// GetActivity through a real replica (gRPC on loopback, Postgres, worker threads) and the SDK,
// with auth on: tasks of tenant "acme" succeed, fail, retry and are cancelled, and the counts
// show up in the window's last minutes. Operators see their own tenant only; an admin any. A
// stopping replica stores its last counts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError, type ActivityBucket } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../config.js";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
const people = {
  alice: { tenant: "acme", roles: ["submitter"] },
  olga: { tenant: "acme", roles: ["operator"] },
  gina: { tenant: "globex", roles: ["operator"] },
  root: { tenant: "ops", roles: ["admin"] },
  ivan: { tenant: "initech", roles: ["submitter"] },
} as const;
type Person = keyof typeof people;
const tokenOf = (who: Person) => `token-of-${who}-0123456789abcdef`;

let dir: string;
let spool: TestSpool;
const clients: SpoolClient[] = [];

function client(who: Person, replica = spool): SpoolClient {
  const made = new SpoolClient(`127.0.0.1:${replica.spool.port}`, { token: tokenOf(who) });
  clients.push(made);
  return made;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-activity-"));
  const entries = Object.entries(people).map(([who, { tenant, roles }]) => ({ token: tokenOf(who as Person), subject: who, tenant, roles }));
  await writeFile(join(dir, "tokens.json"), JSON.stringify(entries));
  // The main replica leaves the queue "solo" to the replica the shutdown test starts.
  spool = await start({ activityFlushMs: 100, queues: ["default", "mail", "reports"] });
});

function start(overrides: Partial<Config>): Promise<TestSpool> {
  return startTestSpool(database.url, {
    auth: { mode: "auto", tokensFile: join(dir, "tokens.json"), clientCertsFile: undefined, jwt: undefined },
    demoKinds: true,
    ...overrides,
  });
}
afterAll(async () => {
  for (const made of clients) made.close();
  await spool?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function refusal(call: Promise<unknown>): Promise<SpoolError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SpoolError);
  return error as SpoolError;
}

const total = (buckets: ActivityBucket[]) => {
  const sum = { succeeded: 0, failed: 0, retried: 0, cancelled: 0 };
  for (const b of buckets) {
    sum.succeeded += b.succeeded;
    sum.failed += b.failed;
    sum.retried += b.retried;
    sum.cancelled += b.cancelled;
  }
  return sum;
};

/** What acme's tasks below add up to, in all its queues. */
const acmeTotal = { succeeded: 2, failed: 1, retried: 1, cancelled: 1 };

describe("GetActivity", () => {
  beforeAll(async () => {
    const alice = client("alice");
    const ended = (id: string) => alice.waitForTask(id, { timeoutMs: 20_000 });
    const echoes = await Promise.all([1, 2].map((n) => alice.createTask("demo.echo", n, { queue: "mail" })));
    // Fails twice: the first attempt is retried (no backoff), the second fails for good.
    const failing = await alice.createTask(
      "demo.sleep",
      { seconds: 0, fail: true },
      { queue: "mail", maxAttempts: 2, backoff: { baseMs: 0, jitter: 0 } },
    );
    const long = await alice.createTask("demo.sleep", { seconds: 600 }, { queue: "reports" });
    await eventually(async () => ((await alice.getTask(long.id)).state === "running" ? true : undefined), 20_000, "the long task to run");
    await alice.cancelTask(long.id, "not needed");
    const states = await Promise.all([...echoes, failing, long].map(async (t) => (await ended(t.id)).state));
    expect(states).toEqual(["succeeded", "succeeded", "failed", "cancelled"]);
  });

  it("counts the attempts that ended, by outcome, in the last minutes, per tenant and per queue", async () => {
    const olga = client("olga");
    // Counts reach the database within a flush interval: wait for them, not for time.
    const buckets = await eventually(async () => {
      const window = await olga.queues.activity({ minutes: 5 });
      return JSON.stringify(total(window)) === JSON.stringify(acmeTotal) ? window : undefined;
    }, 20_000, "acme's activity");
    expect(buckets).toHaveLength(5);
    // Whole minutes, one apart, oldest first, the last one the current minute.
    const starts = buckets.map((b) => b.start.getTime());
    expect(starts.every((start) => start % 60_000 === 0)).toBe(true);
    expect(starts.slice(1).map((start, i) => start - starts[i]!)).toEqual([60_000, 60_000, 60_000, 60_000]);
    expect(Date.now() - starts.at(-1)!).toBeGreaterThanOrEqual(0);
    expect(Date.now() - starts.at(-1)!).toBeLessThan(60_000 + 5_000);
    // The tasks just ran: their counts are in the last two minutes (a minute may have turned).
    expect(total(buckets.slice(-2))).toEqual(acmeTotal);

    expect(total(await olga.queues.activity({ queue: "mail", minutes: 5 }))).toEqual({ succeeded: 2, failed: 1, retried: 1, cancelled: 0 });
    expect(total(await olga.queues.activity({ queue: "reports", minutes: 5 }))).toEqual({ succeeded: 0, failed: 0, retried: 0, cancelled: 1 });
    expect(total(await olga.queues.activity({ queue: "nothing-here", minutes: 5 }))).toEqual({ succeeded: 0, failed: 0, retried: 0, cancelled: 0 });
    // 0 minutes: the default hour.
    const hour = await olga.queues.activity();
    expect(hour).toHaveLength(60);
    expect(total(hour)).toEqual(acmeTotal);
  });

  it("shows an operator its own tenant only; an admin any tenant", async () => {
    const gina = client("gina");
    const denied = await refusal(gina.queues.activity({ tenant: "acme" }));
    expect(denied.code).toBe("permission_denied");
    expect(total(await gina.queues.activity({ minutes: 5 }))).toEqual({ succeeded: 0, failed: 0, retried: 0, cancelled: 0 });
    expect(total(await gina.queues.activity({ tenant: "globex", minutes: 5 }))).toEqual({ succeeded: 0, failed: 0, retried: 0, cancelled: 0 });

    const root = client("root");
    expect(total(await root.queues.activity({ tenant: "acme", minutes: 5 }))).toEqual(acmeTotal);
    expect(total(await root.queues.activity({ minutes: 5 }))).toEqual({ succeeded: 0, failed: 0, retried: 0, cancelled: 0 });
    // The operator role is needed, as for every queue RPC.
    expect((await refusal(client("alice").queues.activity())).code).toBe("permission_denied");
  });

  it("refuses a window out of range, a bad queue name and the tenant \"*\", naming the field", async () => {
    const olga = client("olga");
    for (const minutes of [1441, -1]) {
      const error = await refusal(olga.queues.activity({ minutes }));
      expect(error.code).toBe("invalid_argument");
      expect(error.message).toMatch(/^minutes: /);
    }
    expect(await olga.queues.activity({ minutes: 1440 })).toHaveLength(1440);
    expect((await refusal(olga.queues.activity({ queue: "no spaces" }))).message).toMatch(/^queue: /);
    expect((await refusal(client("root").queues.activity({ tenant: "*" }))).message).toMatch(/^tenant: /);
  });

  it("stores a stopping replica's last counts before it stops", async () => {
    // No flush for 10 minutes: only the one at shutdown can store the count. It alone serves
    // the queue "solo", so the task runs there.
    const other = await start({ activityFlushMs: 600_000, queues: ["solo"] });
    try {
      const ivan = client("ivan", other);
      const task = await ivan.createTask("demo.echo", 1, { queue: "solo" });
      expect((await ivan.waitForTask(task.id, { timeoutMs: 20_000 })).state).toBe("succeeded");
    } finally {
      await other.stop();
    }
    const initech = await client("root").queues.activity({ tenant: "initech", minutes: 5 });
    expect(total(initech)).toEqual({ succeeded: 1, failed: 0, retried: 0, cancelled: 0 });
  });
});

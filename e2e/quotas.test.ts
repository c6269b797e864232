// Quotas, from outside: the built service with a tokens file, two tenants (acme: alice;
// globex: eve), driven through the SDK. One tenant at its limits slows no other: its pending
// tasks are capped, its creates are rate-limited, and its backlog does not push another
// tenant's task behind it.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished } from "./support/tasks.js";

const database = useTestDatabase();
let dir: string;
let tokensFile: string;
const clients: SpoolClient[] = [];
const tokens = { alice: "token-of-alice-0123456789abcdef", eve: "token-of-eve-0123456789abcdef" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-e2e-quotas-"));
  tokensFile = join(dir, "tokens.json");
  await writeFile(
    tokensFile,
    JSON.stringify([
      { token: tokens.alice, subject: "alice", tenant: "acme", roles: ["operator"] },
      { token: tokens.eve, subject: "eve", tenant: "globex", roles: ["operator"] },
    ]),
  );
});

afterAll(async () => {
  for (const client of clients) client.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** A service with these settings, and a client for each tenant. */
async function serve(env: Record<string, string>) {
  const service = await startService({
    DATABASE_URL: database.url,
    SPOOL_AUTH_TOKENS_FILE: tokensFile,
    SPOOL_DEMO_KINDS: "true",
    ...env,
  });
  const as = (token: string) => {
    const client = new SpoolClient(service.address, { token });
    clients.push(client);
    return client;
  };
  return { service, alice: as(tokens.alice), eve: as(tokens.eve) };
}

async function failure(call: Promise<unknown>): Promise<SpoolError> {
  try {
    await call;
  } catch (error) {
    return SpoolError.from(error);
  }
  throw new Error("the call succeeded");
}

const later = () => new Date(Date.now() + 3_600_000);

describe("a tenant's pending tasks are capped (SPOOL_TENANT_MAX_PENDING)", () => {
  let service: ServiceProcess;
  let alice: SpoolClient;
  let eve: SpoolClient;
  beforeAll(async () => {
    ({ service, alice, eve } = await serve({ SPOOL_TENANT_MAX_PENDING: "20" }));
  });
  afterAll(() => service.kill("SIGTERM"));

  it("refuses creates past the cap with RESOURCE_EXHAUSTED, whole, and only for that tenant", async () => {
    // Tasks for later stay pending: the count cannot change under the test.
    const held = await alice.createTasks(Array.from({ length: 20 }, () => ({ kind: "demo.echo", runAt: later() })));
    const one = await failure(alice.createTask("demo.echo", 1));
    expect(one.code).toBe("resource_exhausted");
    expect(one.message).toBe(
      'tenant "acme" has 20 pending tasks and may have at most 20 (SPOOL_TENANT_MAX_PENDING); retry in 1 s',
    );
    // The delay also travels as google.rpc.RetryInfo, which the SDK reads.
    expect(one.retryAfterMs).toBe(1000);
    // A batch larger than the cap can never pass, and says so.
    const batch = await failure(alice.createTasks(Array.from({ length: 21 }, () => ({ kind: "demo.echo" }))));
    expect(batch.message).toContain("21 tasks at once is more than tenant \"acme\" may have pending (20");
    // Nothing of the refused creates was stored.
    const pages = await alice.listTasksPage({ pageSize: 100 });
    expect(pages.tasks).toHaveLength(20);
    // globex is another tenant, with its own room.
    expect((await eve.createTasks(Array.from({ length: 20 }, () => ({ kind: "demo.echo", runAt: later() })))).length).toBe(20);

    // Room comes back as tasks leave the pending state (here, cancelled): a fresh count
    // (at most a second old, pending-cap.ts) admits the next create.
    for (const task of held.slice(0, 5)) await alice.cancelTask(task.id);
    for (let attempt = 0; ; attempt++) {
      const result = await alice.createTask("demo.echo", "again").then(
        (task) => task,
        (error: unknown) => SpoolError.from(error),
      );
      if (!(result instanceof SpoolError)) break;
      expect(result.code).toBe("resource_exhausted");
      expect(attempt).toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

describe("creates are rate-limited per tenant (SPOOL_TENANT_CREATE_RATE)", () => {
  let service: ServiceProcess;
  let alice: SpoolClient;
  let eve: SpoolClient;
  beforeAll(async () => {
    ({ service, alice, eve } = await serve({ SPOOL_TENANT_CREATE_RATE: "1", SPOOL_TENANT_CREATE_BURST: "5" }));
  });
  afterAll(() => service.kill("SIGTERM"));

  it("admits a burst, then refuses with RESOURCE_EXHAUSTED and a retry delay, for that tenant only", async () => {
    const five = () => Array.from({ length: 5 }, () => ({ kind: "demo.echo", runAt: later() }));
    await alice.createTasks(five());
    // The bucket refills at 1 a second: 5 more could pass only 5 s after the first five.
    const refused = await failure(alice.createTasks(five()));
    expect(refused.code).toBe("resource_exhausted");
    expect(refused.message).toMatch(/^tenant "acme" creates tasks faster than the 1 a second it may \(SPOOL_TENANT_CREATE_RATE\); retry in \d+(\.\d)? s$/);
    // Five tokens at one a second: about five seconds (less the time since the first five).
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(5000);
    // Another tenant has its own bucket.
    await eve.createTasks(five());
  });
});

describe("one tenant's backlog does not starve another's claims", () => {
  let service: ServiceProcess;
  let alice: SpoolClient;
  let eve: SpoolClient;
  beforeAll(async () => {
    ({ service, alice, eve } = await serve({ SPOOL_WORKERS: "1" }));
  });
  afterAll(() => service.kill("SIGTERM"));

  it("runs the other tenant's task after a turn, not after the whole backlog", async () => {
    // acme queues 200 tasks of 0.2 s each (40 s of work on one thread), at a higher priority.
    const backlog = await alice.createTasks(
      Array.from({ length: 200 }, () => ({ kind: "demo.sleep", input: { seconds: 0.2 }, priority: 10 })),
    );
    // Once acme's tasks are running, globex creates one.
    await finished(alice, backlog[0]!.id);
    const theirs = await eve.createTask("demo.echo", "mine");
    const done = await finished(eve, theirs.id);
    expect(done.state).toBe("succeeded");
    // In one queue, first come first served, it would have waited for all 200. Taking turns,
    // it waited for acme's tasks already claimed on this replica, a few at most.
    let acmeDone = 0;
    for await (const task of alice.listTasks({ states: ["succeeded"], pageSize: 1000 })) if (task.tenant === "acme") acmeDone++;
    expect(acmeDone).toBeLessThan(100);
  });
});

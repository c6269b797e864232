// Queues, from outside: built replicas with a tokens file, driven through the SDK. Queues
// appear with their first task; an operator pauses, resumes and limits them; a paused queue
// starts nothing; a replica serves only its SPOOL_QUEUES; and a queue's concurrency limit
// holds across three replicas racing, sampled from the database while they run.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError, type Task } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished, until } from "./support/tasks.js";

const database = useTestDatabase();
let dir: string;
let tokensFile: string;
let sql: postgres.Sql;
const clients: SpoolClient[] = [];
const tokens = {
  olga: "token-of-olga-0123456789abcdef", // operator of acme
  sam: "token-of-sam-0123456789abcdef", // submitter of acme
  root: "token-of-root-0123456789abcdef", // admin
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-e2e-queues-"));
  tokensFile = join(dir, "tokens.json");
  await writeFile(
    tokensFile,
    JSON.stringify([
      { token: tokens.olga, subject: "olga", tenant: "acme", roles: ["operator"] },
      { token: tokens.sam, subject: "sam", tenant: "acme", roles: ["submitter"] },
      { token: tokens.root, subject: "root", tenant: "ops", roles: ["admin"] },
    ]),
  );
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await killAll();
  await sql.end();
  await rm(dir, { recursive: true, force: true });
});

function serve(env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startService({ DATABASE_URL: database.url, SPOOL_AUTH_TOKENS_FILE: tokensFile, SPOOL_DEMO_KINDS: "true", ...env });
}

function as(service: ServiceProcess, token: string): SpoolClient {
  const client = new SpoolClient(service.address, { token });
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<SpoolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpoolError);
  return error as SpoolError;
}

describe("QueueService", () => {
  let service: ServiceProcess;
  let olga: SpoolClient;
  beforeAll(async () => {
    service = await serve();
    olga = as(service, tokens.olga);
  });
  // The next tests need replicas of their own only.
  afterAll(() => service.kill("SIGTERM"));

  it("shows a queue from its first task, with its depth, to operators only", async () => {
    await olga.createTasks([
      { kind: "demo.echo", queue: "reports", runAt: new Date(Date.now() + 3_600_000) },
      { kind: "demo.echo", queue: "reports", runAt: new Date(Date.now() + 3_600_000) },
    ]);
    const reports = (await olga.queues.list()).find((q) => q.name === "reports");
    expect(reports).toMatchObject({
      tenant: "acme",
      paused: false,
      concurrencyLimit: undefined,
      retentionMs: 7 * 24 * 3600_000,
      depth: { pending: 0, scheduled: 2, running: 0 },
      oldestPendingAgeMs: 0,
    });
    const sam = as(service, tokens.sam);
    const denied = await failure(sam.queues.list());
    expect(denied.code).toBe("permission_denied");
    expect(denied.message).toBe("ListQueues needs the operator role; sam holds only the submitter role");
    // Another tenant's queues are an admin's to see.
    expect((await failure(olga.queues.list({ tenant: "ops" }))).code).toBe("permission_denied");
    const root = as(service, tokens.root);
    expect((await root.queues.list({ tenant: "*" })).map((q) => `${q.tenant}/${q.name}`)).toContain("acme/reports");
  });

  it("refuses bad settings, naming the field", async () => {
    const message = async (p: Promise<unknown>) => {
      const error = await failure(p);
      expect(error.code).toBe("invalid_argument");
      return error.message;
    };
    expect(await message(olga.queues.update("api", { concurrencyLimit: -1 }))).toMatch(/^concurrency_limit: -1 is out of range 0\.\.100000/);
    expect(await message(olga.queues.update("api", { keyConcurrencyLimit: 100_001 }))).toMatch(/^key_concurrency_limit: /);
    expect(await message(olga.queues.update("api", { retentionMs: 1000 }))).toBe("retention: must be from 1 minute to 10 years");
    expect(await message(olga.queues.update("bad name", { concurrencyLimit: 1 }))).toMatch(/^name: "bad name" must be 1 to 64/);
    expect(await message(olga.queues.pause("nul\u0000"))).toMatch(/^name: /);
    expect(await message(olga.queues.pause(""))).toBe("name: is required");
    expect(await message(olga.queues.pause("x", { tenant: "\u0000" }))).toMatch(/^tenant: must not contain a NUL/);
  });

  it("pages through the queues, a page's token good only for its own listing", async () => {
    for (const name of ["page-a", "page-b", "page-c", "page-d", "page-e"]) await olga.queues.update(name, { concurrencyLimit: 7 });
    const names: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await olga.queues.listPage({ pageSize: 2, pageToken });
      expect(page.queues.length).toBeLessThanOrEqual(2);
      names.push(...page.queues.map((q) => q.name));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken && pages < 100);
    expect(names.filter((n) => n.startsWith("page-"))).toEqual(["page-a", "page-b", "page-c", "page-d", "page-e"]);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual((await olga.queues.list()).map((q) => q.name));

    const first = await olga.queues.listPage({ pageSize: 1 });
    const root = as(service, tokens.root);
    const refused = await failure(root.queues.listPage({ tenant: "*", pageToken: first.nextPageToken }));
    expect(refused.code).toBe("invalid_argument");
    expect(refused.message).toBe("page_token: was issued for another tenant; start again without it");
    expect((await failure(olga.queues.listPage({ pageToken: "garbage" }))).message).toBe("page_token: is not a token this service issued");
    expect((await failure(olga.queues.listPage({ pageSize: 1001 }))).message).toBe("page_size: 1001 is out of range 1..1000");
  });

  it("sets and removes limits, and sets a queue up ahead of its first task", async () => {
    const set = await olga.queues.update("later", { concurrencyLimit: 4, keyConcurrencyLimit: 1, retentionMs: 3_600_000 });
    expect(set).toMatchObject({ name: "later", concurrencyLimit: 4, keyConcurrencyLimit: 1, retentionMs: 3_600_000, depth: { pending: 0 } });
    // Unset fields are kept; null removes a limit.
    expect(await olga.queues.update("later", { concurrencyLimit: null })).toMatchObject({ concurrencyLimit: undefined, keyConcurrencyLimit: 1 });
  });

  it("starts nothing of a paused queue, and runs its tasks once resumed", async () => {
    expect(await olga.queues.pause("held")).toMatchObject({ name: "held", paused: true });
    const held = await olga.createTask("demo.echo", "held", { queue: "held" });
    // A task of another queue, created after it, runs: the scheduler had its chance.
    const other = await olga.createTask("demo.echo", "other", { queue: "free" });
    expect((await finished(olga, other.id)).state).toBe("succeeded");
    expect((await olga.getTask(held.id)).state).toBe("pending");
    expect((await olga.queues.list()).find((q) => q.name === "held")).toMatchObject({ paused: true, depth: { pending: 1 } });
    expect(await olga.queues.resume("held")).toMatchObject({ paused: false });
    expect((await finished(olga, held.id)).state).toBe("succeeded");
  });
});

describe("a replica serves the queues it is given (SPOOL_QUEUES)", () => {
  it("leaves other queues' tasks to other replicas", async () => {
    const onlyMail = await serve({ SPOOL_QUEUES: "mail,alerts" });
    const client = as(onlyMail, tokens.olga);
    const pdf = await client.createTask("demo.echo", "pdf", { queue: "pdf" });
    const mail = await client.createTask("demo.echo", "mail", { queue: "mail" });
    expect((await finished(client, mail.id)).state).toBe("succeeded");
    expect((await client.getTask(pdf.id)).state).toBe("pending");
    // A replica that serves every queue takes it.
    const any = await serve();
    expect((await finished(as(any, tokens.olga), pdf.id)).state).toBe("succeeded");
    await Promise.all([onlyMail.kill("SIGTERM"), any.kill("SIGTERM")]);
  });
});

describe("a queue's concurrency limit holds across the cluster", () => {
  it("never runs more than the limit at once while three replicas race, nor more than one per key", async () => {
    const replicas = await Promise.all([1, 2, 3].map(() => serve({ SPOOL_WORKERS: "4" })));
    const olga = as(replicas[0]!, tokens.olga);
    await olga.queues.update("api", { concurrencyLimit: 3, keyConcurrencyLimit: 1 });
    // 36 short tasks over 6 keys: room for 3 at once by the queue, 1 per key.
    const created = await olga.createTasks(
      Array.from({ length: 36 }, (_, i) => ({ kind: "demo.sleep", input: { seconds: 0.15 }, queue: "api", concurrencyKey: `customer-${i % 6}` })),
    );
    let most = 0;
    let mostPerKey = 0;
    const ids = created.map((t) => t.id);
    for (;;) {
      const [row] = await sql<{ running: number; per_key: number | null; left: number }[]>`
        select (select count(*) from spool.tasks where id = any(${ids}::uuid[]) and state = 'running')::int as running,
          (select max(n) from (select count(*)::int as n from spool.tasks where id = any(${ids}::uuid[]) and state = 'running'
            group by concurrency_key) k) as per_key,
          (select count(*) from spool.tasks where id = any(${ids}::uuid[]) and finished_at is null)::int as left`;
      most = Math.max(most, row!.running);
      mostPerKey = Math.max(mostPerKey, row!.per_key ?? 0);
      if (row!.left === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(most).toBeLessThanOrEqual(3);
    expect(mostPerKey).toBe(1);
    expect(most).toBeGreaterThan(1); // the replicas did run tasks side by side
    const tasks: Task[] = await Promise.all(ids.map((id) => until(olga, id, (t) => t.finishedAt !== undefined)));
    expect(tasks.every((t) => t.state === "succeeded")).toBe(true);
    // The next test needs replicas of its own only.
    await Promise.all(replicas.map((replica) => replica.kill("SIGTERM")));
  });
});

describe("a queue's concurrency limit holds while a replica crashes", () => {
  it("starts nothing in the place of a SIGKILLed replica's tasks until they are taken back", async () => {
    const lease = { SPOOL_LEASE_RENEW_MS: "200", SPOOL_LEASE_TTL_MS: "1500", SPOOL_WORKERS: "2" };
    const doomed = await serve(lease);
    const olga = as(doomed, tokens.olga);
    await olga.queues.update("crash", { concurrencyLimit: 2 });
    // The doomed replica alone: it takes the first two.
    const created = await olga.createTasks(Array.from({ length: 4 }, () => ({ kind: "demo.sleep", input: { seconds: 3 }, queue: "crash", maxAttempts: 3 })));
    const ids = created.map((t) => t.id);
    const running = async () =>
      (await sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where id = any(${ids}::uuid[]) and state = 'running'`)[0]!.n;
    await until(olga, ids[0]!, (t) => t.state === "running");
    expect(await running()).toBe(2);
    await doomed.kill("SIGKILL");
    // A survivor with free threads: its tasks still count (RUNNING) until the reaper takes them.
    const survivor = await serve(lease);
    let most = 0;
    for (;;) {
      const [row] = await sql<{ running: number; left: number }[]>`
        select count(*) filter (where state = 'running')::int as running, count(*) filter (where finished_at is null)::int as left
        from spool.tasks where id = any(${ids}::uuid[])`;
      most = Math.max(most, row!.running);
      if (row!.left === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(most).toBeLessThanOrEqual(2);
    const ended = await Promise.all(ids.map((id) => finished(as(survivor, tokens.olga), id)));
    expect(ended.every((t) => t.state === "succeeded")).toBe(true);
    // The two that ran on the doomed replica ran again (attempt 2) once taken back.
    expect(ended.filter((t) => t.attempt === 2)).toHaveLength(2);
  });
});

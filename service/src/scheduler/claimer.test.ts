// Claims through the Claimer, against a real Postgres: paused queues, the queues a replica
// serves, queues taking turns in a tenant, and concurrency limits across racing claimers.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { testKinds } from "../test-support/claim.js";
import { connect, type Database } from "../store/database.js";
import { insertTasks } from "../store/insert-tasks.js";
import { renewLease } from "../store/leases.js";
import { changeQueue, ensureQueues } from "../store/queues.js";
import { recordAttempts } from "../store/record-attempts.js";
import { ignoredNotices } from "../test-support/notices.js";
import { Claimer } from "./claimer.js";
import type { ClaimedTask } from "../store/claim.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 12 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs, spool.queues`);

async function claimer(queues?: string[], agingMs = 60_000): Promise<Claimer> {
  const owner = randomUUID();
  await renewLease(database.sql, { id: owner, name: `test:${owner.slice(0, 8)}` }, 60_000);
  // On the shared pool, not the claim connection: the claimers race as replicas do.
  return Object.assign(new Claimer({ sql: database.sql, owner, queues, agingMs, notices: ignoredNotices }), { owner });
}

const claim = async (c: Claimer, limit: number) => (await c.claim(limit, testKinds)).tasks;
const queuesOf = (tasks: ClaimedTask[]) => tasks.map((t) => (t.input as { q: string }).q);

async function addTasks(queue: string, n: number, extra: Partial<Parameters<typeof newTask>[0]> = {}) {
  const tasks = Array.from({ length: n }, (_, i) => newTask({ queue, input: { q: queue, i }, ...extra }));
  await ensureQueues(database.sql, [{ tenant: tasks[0]!.tenant, name: queue }]);
  return insertTasks(database.sql, tasks);
}

async function succeed(owner: string, tasks: ClaimedTask[]) {
  await recordAttempts(database.sql, owner, [], tasks.map((t) => ({ id: t.id, attempt: t.attempt, outcome: "succeeded", resultJson: "null" })));
}

describe("Claimer", () => {
  it("starts nothing of a paused queue, and everything again once it is resumed", async () => {
    await addTasks("mail", 3);
    await addTasks("pdf", 2);
    await changeQueue(database.sql, "default", "mail", { paused: true });
    const c = await claimer();
    c.queuesChanged();
    expect(queuesOf(await claim(c, 10)).sort()).toEqual(["pdf", "pdf"]);
    expect(await claim(c, 10)).toEqual([]);
    await changeQueue(database.sql, "default", "mail", { paused: false });
    expect(queuesOf(await claim(c, 10))).toEqual(["mail", "mail", "mail"]);
  });

  it("takes only from the queues the replica serves (SPOOL_QUEUES)", async () => {
    await addTasks("mail", 2);
    await addTasks("pdf", 2);
    const c = await claimer(["pdf"]);
    expect(queuesOf(await claim(c, 10))).toEqual(["pdf", "pdf"]);
    expect(await claim(c, 10)).toEqual([]);
  });

  it("lets a tenant's queues take turns: a long queue does not hold back a short one", async () => {
    await addTasks("bulk", 100, { priority: 9 });
    await addTasks("urgent", 1);
    const c = await claimer();
    expect(queuesOf(await claim(c, 2)).sort()).toEqual(["bulk", "urgent"]);
    // One at a time too: the order of queues is drawn for each claim.
    await database.sql`truncate spool.tasks`;
    await addTasks("bulk", 100, { priority: 9 });
    await addTasks("urgent", 1);
    const taken: string[] = [];
    for (let i = 0; i < 40 && !taken.includes("urgent"); i++) taken.push(...queuesOf(await claim(c, 1)));
    expect(taken).toContain("urgent");
  });

  it("never has more running than a queue's concurrency limit, across claimers racing", async () => {
    await addTasks("api", 40);
    await changeQueue(database.sql, "default", "api", { concurrencyLimit: 3 });
    const claimers = await Promise.all(Array.from({ length: 6 }, () => claimer()));
    for (const c of claimers) c.queuesChanged(); // as the q: notice of the change does
    const running = async () => (await database.sql`select count(*)::int as n from spool.tasks where state = 'running'`)[0]!.n as number;
    for (let round = 0; round < 8; round++) {
      const claims = await Promise.all(claimers.map((c) => c.claim(5, testKinds)));
      const claimed = claims.map((c) => c.tasks);
      // The one that took the queue's room says it held tasks back: it claims again as its tasks end.
      expect(claims.some((c) => c.held && c.tasks.length === 3)).toBe(true);
      // All six raced for the queue; together they took exactly its limit.
      expect(claimed.flat()).toHaveLength(3);
      expect(await running()).toBe(3);
      // Each claimer finishes what it took: room for the next round.
      await Promise.all(claimers.map((c, i) => succeed((c as Claimer & { owner: string }).owner, claimed[i]!)));
    }
    expect(await running()).toBe(0);
  });

  it("runs at most key_concurrency_limit tasks per concurrency key; tasks without a key are not limited by it", async () => {
    await addTasks("per-customer", 5, { concurrencyKey: "acme" });
    await addTasks("per-customer", 5, { concurrencyKey: "globex" });
    await addTasks("per-customer", 2);
    await changeQueue(database.sql, "default", "per-customer", { keyConcurrencyLimit: 1 });
    const c = await claimer();
    c.queuesChanged();
    const first = await claim(c, 20);
    const keys = await database.sql<{ key: string | null }[]>`
      select concurrency_key as key from spool.tasks where id = any(${first.map((t) => t.id)}::uuid[]) order by key`;
    expect(keys.map((k) => k.key)).toEqual(["acme", "globex", null, null]);
    expect(await claim(c, 20)).toEqual([]);
    await succeed((c as Claimer & { owner: string }).owner, first);
    expect(await claim(c, 20)).toHaveLength(2); // the next of each key
  });

  it("locks the limited queues only while one has work: a claim that locks none says when one has a task due", async () => {
    await addTasks("mail", 1);
    const c = await claimer();
    const plain = await c.claim(10, testKinds);
    expect(queuesOf(plain.tasks)).toEqual(["mail"]);
    await changeQueue(database.sql, "default", "api", { concurrencyLimit: 5 });
    await addTasks("api", 2);
    // Without a notice of the change: the plain claim takes nothing of the limited queue,
    // says it has work, and asks to be made again at once.
    const first = await c.claim(10, testKinds);
    expect(first.tasks).toEqual([]);
    expect(first).toMatchObject({ limitedDue: true, more: true });
    const second = await c.claim(10, testKinds);
    expect(queuesOf(second.tasks)).toEqual(["api", "api"]);
  });

  it("takes nothing of a limited queue it cannot lock, and the rest all the same", async () => {
    await addTasks("api", 3);
    await addTasks("mail", 2);
    await changeQueue(database.sql, "default", "api", { concurrencyLimit: 10 });
    const c = await claimer();
    await database.sql.begin(async (tx) => {
      await tx`select 1 from spool.queues where name = 'api' for update`; // another claim holds it
      expect(queuesOf(await claim(c, 10)).sort()).toEqual(["mail", "mail"]);
    });
    expect(queuesOf(await claim(c, 10))).toEqual(["api", "api", "api"]);
  });

  it("does not let a flood of higher priorities hold a task back forever (priority aging)", async () => {
    // The low-priority task has waited past the aging threshold; a flood of priority 9 tasks
    // keeps coming, each claim taking one task, as a replica with one free thread does.
    await addTasks("flood", 1, { priority: -5, runAt: new Date(Date.now() - 5000) });
    const c = await claimer(undefined, 1000);
    let claims = 0;
    for (; claims < 300; claims++) {
      await addTasks("flood", 2, { priority: 9 });
      const [task] = await claim(c, 1);
      if ((task?.priority ?? 0) < 0) break;
    }
    // A tenth of claims go to aged tasks: about 10 claims; 300 in a row without would happen
    // once in 10^13.
    expect(claims).toBeLessThan(300);
  });

});

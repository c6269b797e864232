import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { agedShare, claimTasks, lastServed, unclaimTasks } from "./claim.js";
import { claimAs, claimWithLease, testKinds } from "../test-support/claim.js";
import { renewLease } from "./leases.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { readLogs } from "./logs.js";
import { recordAttempts, type AttemptFinish, type NewLogLine } from "./record-attempts.js";
import { getTask } from "./read-tasks.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs`);

const finishAttempts = (owner: string, finishes: AttemptFinish[]) => recordAttempts(database.sql, owner, [], finishes);
const insertLogs = (owner: string, lines: NewLogLine[]) => recordAttempts(database.sql, owner, lines, []);

describe("claimTasks", () => {
  it("hands each task to exactly one of many concurrent claimers", async () => {
    await insertTasks(database.sql, Array.from({ length: 300 }, () => newTask()));
    const owners = Array.from({ length: 6 }, () => randomUUID());
    const claimed: string[] = [];
    await Promise.all(
      owners.map(async (owner) => {
        for (;;) {
          const batch = await claimWithLease(database.claims, 7, owner);
          if (batch.length === 0) return;
          claimed.push(...batch.map((t) => t.id));
        }
      }),
    );
    expect(claimed).toHaveLength(300);
    expect(new Set(claimed).size).toBe(300);
  });

  it("takes higher priority first, then the oldest run_at", async () => {
    const past = new Date(Date.now() - 60_000);
    const [a, b, c, d] = await insertTasks(database.sql, [
      newTask({ input: "a" }),
      newTask({ input: "b", priority: 5 }),
      newTask({ input: "c", runAt: past }),
      newTask({ input: "d", priority: -1 }),
    ]);
    const order: unknown[] = [];
    for (let i = 0; i < 4; i++) order.push(...(await claimWithLease(database.claims, 1, randomUUID())).map((t) => t.input));
    expect(order).toEqual(["b", "c", "a", "d"]);
    expect([a, b, c, d].every((x) => x?.created)).toBe(true);
  });

  it("lets tenants take turns: a tenant's backlog does not push another's task behind it", async () => {
    const past = new Date(Date.now() - 60_000);
    // acme's 500 tasks are all older and higher in priority than globex's and initech's.
    await insertTasks(database.sql, Array.from({ length: 500 }, (_, i) => newTask({ tenant: "acme", input: i, priority: 9, runAt: past })));
    await insertTasks(database.sql, [newTask({ tenant: "globex", input: "g1" }), newTask({ tenant: "globex", input: "g2" })]);
    await insertTasks(database.sql, [newTask({ tenant: "initech", input: "i1" })]);
    const first = await claimWithLease(database.claims, 4, randomUUID());
    // One turn each, then a second turn: acme's first two, and globex's first two (in its order).
    expect(first.map((t) => [t.tenant, t.input]).sort()).toEqual(
      [["acme", 0], ["acme", 1], ["globex", "g1"], ["initech", "i1"]].sort(),
    );
    // A tenant's own tasks keep their order: acme's come in priority, then run_at order.
    const rest = await claimWithLease(database.claims, 1000, randomUUID());
    expect(rest.filter((t) => t.tenant === "acme").map((t) => t.input)).toEqual(Array.from({ length: 498 }, (_, i) => i + 2));
    expect(rest.filter((t) => t.tenant !== "acme").map((t) => t.input)).toEqual(["g2"]);
  });

  it("goes round every tenant even one task at a time, starting after the tenant served last", async () => {
    // acme's tasks are older and of higher priority: neither lets it take every turn.
    const past = new Date(Date.now() - 60_000);
    await insertTasks(database.sql, Array.from({ length: 10 }, () => newTask({ tenant: "acme", priority: 9, runAt: past })));
    await insertTasks(database.sql, [newTask({ tenant: "globex" }), newTask({ tenant: "initech" })]);
    const owner = randomUUID();
    let after = "";
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const claimed = await claimWithLease(database.claims, 1, owner, testKinds, after);
      served.push(...claimed.map((t) => t.tenant));
      after = lastServed(claimed, after);
    }
    expect(served).toEqual(["acme", "globex", "initech", "acme", "acme"]);
  });

  it("gives the aged share to the tasks that waited longest past the aging threshold, whatever their priority", async () => {
    const longAgo = new Date(Date.now() - 120_000);
    await insertTasks(database.sql, [
      newTask({ input: "old-low", priority: -9, runAt: longAgo }),
      newTask({ input: "older-mid", priority: 1, runAt: new Date(longAgo.getTime() - 1000) }),
      newTask({ input: "new-low", priority: -9 }),
    ]);
    await insertTasks(database.sql, Array.from({ length: 5 }, (_, i) => newTask({ input: `high-${i}`, priority: 9 })));
    const owner = randomUUID();
    // Without an aged share: priority order.
    const plain = await claimAs(database.claims, { limit: 1, owner, kinds: testKinds, aged: 0, agingMs: 60_000 });
    expect(plain.tasks.map((t) => t.input)).toEqual(["high-0"]);
    // With one: the longest-waiting aged task first (older-mid waited longer than old-low),
    // then priority order for the rest of the share.
    const aged = await claimAs(database.claims, { limit: 3, owner, kinds: testKinds, aged: 2, agingMs: 60_000 });
    expect(aged.tasks.map((t) => t.input).sort()).toEqual(["high-1", "old-low", "older-mid"]);
    // new-low has not waited past the threshold: it is not aged.
    const next = await claimAs(database.claims, { limit: 1, owner, kinds: testKinds, aged: 1, agingMs: 60_000 });
    expect(next.tasks.map((t) => t.input)).toEqual(["high-2"]);
  });

  it("agedShare is a tenth of a claim, the remainder drawn at random", () => {
    expect(agedShare(0, 0)).toBe(0);
    expect(agedShare(1, 0.05)).toBe(1);
    expect(agedShare(1, 0.5)).toBe(0);
    expect(agedShare(25, 0.4)).toBe(3);
    expect(agedShare(25, 0.6)).toBe(2);
    expect(agedShare(500, 0.99)).toBe(50);
  });

  it("lastServed names the tenant a claim served last", () => {
    const of = (...tenants: string[]) => tenants.map((tenant) => ({ tenant }));
    expect(lastServed(of(), "b")).toBe("b");
    expect(lastServed(of("a", "b", "c"), "")).toBe("c");
    // From after "b": c, then a wrapped round, then b.
    expect(lastServed(of("a", "b", "c"), "b")).toBe("b");
    expect(lastServed(of("a", "c"), "b")).toBe("a");
    // Second turns come after every first turn.
    expect(lastServed(of("a", "a", "c"), "b")).toBe("a");
  });

  it("fills a claim from the tenants that have tasks when the others have fewer than their share", async () => {
    await insertTasks(database.sql, Array.from({ length: 50 }, () => newTask({ tenant: "acme" })));
    await insertTasks(database.sql, [newTask({ tenant: "globex" })]);
    // A third tenant's task is for later: it takes no share of the claim.
    await insertTasks(database.sql, [newTask({ tenant: "initech", runAt: new Date(Date.now() + 3_600_000) })]);
    const owner = randomUUID();
    const claimed: string[] = [];
    // A claim may take fewer than asked while more are due (claim.ts): here globex's one task
    // leaves 29 of its share of 30 unused. The scheduler asks again at once.
    const first = await claimWithLease(database.claims, 60, owner);
    expect(first).toHaveLength(31);
    claimed.push(...first.map((t) => t.tenant));
    claimed.push(...(await claimWithLease(database.claims, 60, owner)).map((t) => t.tenant));
    expect(claimed.length).toBe(51);
    expect(claimed.filter((t) => t === "globex")).toHaveLength(1);
  });

  it("does not take a task before its run_at, and says when the next one is due", async () => {
    const runAt = new Date(Date.now() + 60_000);
    await insertTasks(database.sql, [newTask({ runAt })]);
    const claim = await claimAs(database.claims, { limit: 10, owner: randomUUID(), kinds: testKinds });
    expect(claim).toEqual({ tasks: [], more: false, held: false, limitedDue: false, nextDueAt: runAt.getTime() });
  });

  it("gives back an unstarted claim without spending its attempt", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask()]);
    const owner = randomUUID();
    const [claim] = await claimWithLease(database.claims, 1, owner);
    expect(claim?.attempt).toBe(1);
    await unclaimTasks(database.sql, owner, [{ id: claim!.id, attempt: 1 }]);
    const task = await getTask(database.db, inserted!.task.id);
    expect(task).toMatchObject({ state: "pending", attempt: 0, startedAt: null });
  });

  it("takes only the kinds the replica has handlers for, and says when those are due", async () => {
    const runAt = new Date(Date.now() + 60_000);
    const [other] = await insertTasks(database.sql, [newTask({ kind: "added.in.next.release" }), newTask({ kind: "added.in.next.release", runAt })]);
    const [mine] = await insertTasks(database.sql, [newTask()]);
    const claim = await claimAs(database.claims, { limit: 10, owner: randomUUID(), kinds: testKinds });
    expect(claim.tasks.map((c) => c.id)).toEqual([mine!.task.id]);
    expect(claim.nextDueAt).toBeUndefined();
    expect(await getTask(database.db, other!.task.id)).toMatchObject({ state: "pending", attempt: 0 });
    // A replica that has the kind takes the due one, and learns when the other is due.
    const next = await claimAs(database.claims, { limit: 10, owner: randomUUID(), kinds: ["added.in.next.release"] });
    expect(next.tasks.map((c) => c.id)).toEqual([other!.task.id]);
    expect(next.nextDueAt).toBe(runAt.getTime());
  });

  it("takes nothing for an owner whose lease is not live", async () => {
    await insertTasks(database.sql, [newTask()]);
    const owner = { id: randomUUID(), name: "cut-off" };
    const claim = () => claimTasks(database.claims, { limit: 10, owner: owner.id, kinds: testKinds }).then((c) => c.tasks);
    expect(await claim()).toEqual([]); // never had one
    await renewLease(database.sql, owner, 10_000);
    await database.sql`update spool.replicas set expires_at = now() - interval '1 second', renewed_at = now() - interval '2 seconds' where id = ${owner.id}`;
    expect(await claim()).toEqual([]); // expired
    await renewLease(database.sql, owner, 10_000);
    expect(await claim()).toHaveLength(1);
  });
});

describe("fencing", () => {
  it("ignores the outcome and the log lines of an attempt that lost its claim", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask({ maxAttempts: 3 })]);
    const id = inserted!.task.id;
    const first = randomUUID();
    await claimWithLease(database.claims, 1, first);
    // The first attempt is interrupted (a shutdown gives its number back) and a second
    // replica takes the task over, as attempt 1 again: the owner is what fences it then.
    await finishAttempts(first, [{ id, attempt: 1, outcome: "interrupted" }]);
    const second = randomUUID();
    const [claim] = await claimWithLease(database.claims, 1, second);
    expect(claim).toMatchObject({ id, attempt: 1 });

    // Late writes of the first owner change nothing...
    expect(await finishAttempts(first, [{ id, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify("stale") }])).toEqual([]);
    await insertLogs(first, [{ taskId: id, attempt: 1, seq: 1, level: "info", message: "stale", time: Date.now() }]);
    // ...nor can the current owner write for an attempt that is not the running one.
    expect(await finishAttempts(second, [{ id, attempt: 2, outcome: "succeeded", resultJson: JSON.stringify("stale") }])).toEqual([]);

    await insertLogs(second, [{ taskId: id, attempt: 1, seq: 1, level: "info", message: "fresh", time: Date.now() }]);
    const [done] = await finishAttempts(second, [{ id, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify("fresh") }]);
    expect(done).toMatchObject({ id, state: "succeeded" });
    expect(await getTask(database.db, id)).toMatchObject({ state: "succeeded", result: "fresh", attempt: 1 });
    expect((await readLogs(database.sql, id, 0, 10)).map((l) => l.message)).toEqual(["fresh"]);
  });

  it("ends a task whose cancel was requested CANCELLED, whatever its failure", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask({ maxAttempts: 5 })]);
    const id = inserted!.task.id;
    const owner = randomUUID();
    await claimWithLease(database.claims, 1, owner);
    await database.sql`update spool.tasks set cancel_requested = true, cancel_reason = 'stop' where id = ${id}`;
    await finishAttempts(owner, [{ id, attempt: 1, outcome: "failed", error: { type: "Error", message: "boom" } }]);
    expect(await getTask(database.db, id)).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "stop" } });
  });

  it("requeues an interrupted task with its attempt given back, even when it had none left", async () => {
    const [one, three] = await insertTasks(database.sql, [newTask({ maxAttempts: 1 }), newTask({ maxAttempts: 3 })]);
    const owner = randomUUID();
    await claimWithLease(database.claims, 2, owner);
    const shutdown = { type: "Shutdown", message: "stopping" };
    const finished = await finishAttempts(owner, [
      { id: one!.task.id, attempt: 1, outcome: "interrupted", error: shutdown },
      { id: three!.task.id, attempt: 1, outcome: "interrupted", error: shutdown },
    ]);
    expect(Object.fromEntries(finished.map((f) => [f.id, f.state]))).toEqual({ [one!.task.id]: "pending", [three!.task.id]: "pending" });
    for (const id of [one!.task.id, three!.task.id]) {
      expect(await getTask(database.db, id)).toMatchObject({ attempt: 0, failures: [{ attempt: 1, type: "Shutdown" }] });
    }
  });
  it("ends a final failure (a NonRetryableError) FAILED with attempts left, unless a cancel was requested", async () => {
    const [left, cancelled] = await insertTasks(database.sql, [newTask({ maxAttempts: 3 }), newTask({ maxAttempts: 3 })]);
    const owner = randomUUID();
    await claimWithLease(database.claims, 2, owner);
    await database.sql`update spool.tasks set cancel_requested = true, cancel_reason = 'stop' where id = ${cancelled!.task.id}`;
    const error = { type: "CardDeclined", message: "for good" };
    const finished = await finishAttempts(owner, [
      { id: left!.task.id, attempt: 1, outcome: "failed_final", error },
      { id: cancelled!.task.id, attempt: 1, outcome: "failed_final", error },
    ]);
    expect(Object.fromEntries(finished.map((f) => [f.id, f.state]))).toEqual({ [left!.task.id]: "failed", [cancelled!.task.id]: "cancelled" });
    const failed = await getTask(database.db, left!.task.id);
    expect(failed).toMatchObject({ state: "failed", attempt: 1, error, failures: [{ attempt: 1, type: "CardDeclined" }] });
    expect(failed?.finishedAt).toBeDefined();
  });
});

describe("recordAttempts", () => {
  it("stores lines and outcomes in one statement", async () => {
    const [retried, ended] = await insertTasks(database.sql, [newTask({ maxAttempts: 2 }), newTask({ maxAttempts: 1 })]);
    const owner = randomUUID();
    await claimWithLease(database.claims, 2, owner);
    {
      const time = Date.now();
      const finished = await recordAttempts(
        database.sql,
        owner,
        [
          { taskId: retried!.task.id, attempt: 1, seq: 1, level: "warn", message: "about to fail", time },
          { taskId: ended!.task.id, attempt: 1, seq: 1, level: "info", message: "done", time },
        ],
        [
          { id: retried!.task.id, attempt: 1, outcome: "failed", error: { type: "Error", message: "boom" } },
          { id: ended!.task.id, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify({ ok: true }) },
        ],
      );
      expect(Object.fromEntries(finished.map((f) => [f.id, f.state]))).toEqual({
        [retried!.task.id]: "pending",
        [ended!.task.id]: "succeeded",
      });
      const retry = finished.find((f) => f.id === retried!.task.id)!;
      expect(retry.runAt).toBeGreaterThan(time + 500); // backoff of the first retry: 1 s +-25%
      const lines = await database.sql<{ n: number }[]>`select count(*)::int as n from spool.task_logs where task_id in ${database.sql([retried!.task.id, ended!.task.id])}`;
      expect(lines[0]!.n).toBe(2);
    }
  });
});

describe("schema invariants", () => {
  it("refuses a terminal task without finished_at, and a running one without an owner", async () => {
    const [inserted] = await insertTasks(database.sql, [newTask()]);
    const id = inserted!.task.id;
    await expect(database.sql`update spool.tasks set state = 'succeeded' where id = ${id}`).rejects.toThrow(/tasks_finished_iff_terminal/);
    await expect(database.sql`update spool.tasks set state = 'running', started_at = now() where id = ${id}`).rejects.toThrow(/tasks_owner_iff_running/);
  });
});

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { claimTasks } from "./claim.js";
import { testKinds } from "../test-support/claim.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { reapExpiredLeases, releaseLease, renewLease } from "./leases.js";
import { listen } from "./notify.js";
import { recordAttempts } from "./record-attempts.js";
import { getTask } from "./read-tasks.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs, spool.replicas`);

const replica = () => ({ id: randomUUID(), name: `test:${Math.floor(Math.random() * 1e6)}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ends the replica's lease now, as if it had stopped renewing it: by the database's clock,
 * so no test waits for time to pass (a short TTL and a sleep failed on a loaded machine,
 * when the claim itself came after the TTL).
 */
async function expireLease(owner: { id: string }) {
  await database.sql`update spool.replicas set renewed_at = now() - interval '2 seconds', expires_at = now() - interval '1 second'
    where id = ${owner.id}`;
}

async function runningTasks(owner: { id: string; name: string }, ttlMs: number, ...maxAttempts: number[]) {
  await renewLease(database.sql, owner, ttlMs);
  const inserted = await insertTasks(database.sql, maxAttempts.map((n) => newTask({ maxAttempts: n })));
  await claimTasks(database.sql, { limit: inserted.length, owner: owner.id, kinds: testKinds }).then((c) => c.tasks);
  return inserted.map((i) => i.task.id);
}

describe("leases", () => {
  it("takes back the tasks of an expired lease: PENDING if attempts remain, else DROPPED, each failure kept", async () => {
    const lost = replica();
    const [retryable, last] = await runningTasks(lost, 60_000, 3, 1);
    expect(await reapExpiredLeases(database.sql)).toEqual([]);
    await expireLease(lost);

    const reaped = await reapExpiredLeases(database.sql);
    expect(Object.fromEntries(reaped.map((r) => [r.id, [r.state, r.lostBy]]))).toEqual({
      [retryable!]: ["pending", lost.name],
      [last!]: ["dropped", lost.name],
    });
    const requeued = await getTask(database.db, retryable!);
    expect(requeued).toMatchObject({ state: "pending", attempt: 1, error: { type: "LeaseExpired" } });
    expect(requeued!.error!.message).toContain(`replica ${lost.name} stopped renewing its lease`);
    expect(requeued!.runAt.getTime()).toBeLessThanOrEqual(Date.now()); // a first lost attempt is retried at once
    expect(requeued!.failures).toEqual([{ attempt: 1, type: "LeaseExpired", message: requeued!.error!.message, at: expect.any(String) }]);
    expect(await getTask(database.db, last!)).toMatchObject({ state: "dropped", finishedAt: expect.any(Date) });
    // The expired row is gone, and nothing is reaped twice.
    expect(await database.sql`select 1 from spool.replicas where id = ${lost.id}`).toHaveLength(0);
    expect(await reapExpiredLeases(database.sql)).toEqual([]);
  });

  it("fences the old owner: its result and lines are refused, and its renewal reports the lease lost", async () => {
    const lost = replica();
    const [id] = await runningTasks(lost, 60_000, 3);
    await expireLease(lost);
    await reapExpiredLeases(database.sql);

    const stale = await recordAttempts(
      database.sql,
      lost.id,
      [{ taskId: id!, attempt: 1, seq: 1, level: "info", message: "late", time: Date.now() }],
      [{ id: id!, attempt: 1, outcome: "succeeded", resultJson: JSON.stringify("stale") }],
    );
    expect(stale).toEqual([]);
    await recordAttempts(database.sql, lost.id, [], [], [{ taskId: id!, attempt: 1, fraction: 0.9, message: "stale", time: Date.now() }]);
    expect(await getTask(database.db, id!)).toMatchObject({ state: "pending", result: null, progress: null });
    expect(await database.sql`select 1 from spool.task_logs where task_id = ${id!}`).toHaveLength(0);
    expect((await renewLease(database.sql, lost, 10_000)).created).toBe(true); // had to be created again
    expect((await renewLease(database.sql, lost, 10_000)).created).toBe(false);
  });

  it("keeps the tasks of a lease renewed in time", async () => {
    const live = replica();
    const [id] = await runningTasks(live, 2000, 3);
    const expiry = async () => (await database.sql<{ at: Date }[]>`select expires_at as at from spool.replicas where id = ${live.id}`)[0]!.at;
    for (let i = 0; i < 4; i++) {
      const before = await expiry();
      await sleep(50);
      await renewLease(database.sql, live, 2000);
      expect((await expiry()).getTime()).toBeGreaterThan(before.getTime()); // each renewal moves the expiry on
      expect(await reapExpiredLeases(database.sql)).toEqual([]);
    }
    expect(await getTask(database.db, id!)).toMatchObject({ state: "running", attempt: 1 });
  });

  it("takes back at once the tasks of a released lease, and those of an owner that never had one", async () => {
    const gone = replica();
    const [released] = await runningTasks(gone, 10_000, 2);
    await releaseLease(database.sql, gone.id);
    const [inserted] = await insertTasks(database.sql, [newTask({ maxAttempts: 2 })]);
    const stranger = replica();
    await renewLease(database.sql, stranger, 10_000);
    await claimTasks(database.sql, { limit: 1, owner: stranger.id, kinds: testKinds }).then((c) => c.tasks);
    await database.sql`delete from spool.replicas where id = ${stranger.id}`; // as if it never had one

    const reaped = await reapExpiredLeases(database.sql);
    expect(reaped.map((r) => r.id).sort()).toEqual([released!, inserted!.task.id].sort());
    expect(reaped.every((r) => r.state === "pending" && r.lostBy === null)).toBe(true);
  });

  it("backs off before retrying a task that was lost more than once", async () => {
    const first = replica();
    const [id] = await runningTasks(first, 60_000, 3);
    await expireLease(first);
    await reapExpiredLeases(database.sql);
    const second = replica();
    await renewLease(database.sql, second, 60_000);
    expect(await claimTasks(database.sql, { limit: 1, owner: second.id, kinds: testKinds }).then((c) => c.tasks)).toMatchObject([{ id, attempt: 2 }]);
    await expireLease(second);
    await reapExpiredLeases(database.sql);
    const task = await getTask(database.db, id!);
    // retry_delay(1): 1 s +-25% after the reap (the time of the second failure), by the database's clock.
    const waitMs = task!.runAt.getTime() - new Date(task!.failures[1]!.at).getTime();
    expect(waitMs).toBeGreaterThanOrEqual(750);
    expect(waitMs).toBeLessThanOrEqual(1250);
    expect(task!.failures.map((f) => [f.attempt, f.type])).toEqual([
      [1, "LeaseExpired"],
      [2, "LeaseExpired"],
    ]);
  });

  it("ends CANCELLED a lost task whose cancel was requested", async () => {
    const lost = replica();
    const [id] = await runningTasks(lost, 60_000, 3);
    await database.sql`update spool.tasks set cancel_requested = true, cancel_reason = 'not needed' where id = ${id!}`;
    await expireLease(lost);
    await reapExpiredLeases(database.sql);
    expect(await getTask(database.db, id!)).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "not needed" } });
  });

  it("never hands one task to two reapers running at once, and wakes the others up", async () => {
    const lost = replica();
    const ids = await runningTasks(lost, 60_000, ...Array.from({ length: 200 }, () => 3));
    const notices: string[] = [];
    const listener = await listen(
      database.sql,
      (n) => {
        if (n.type === "tasks") notices.push(...n.ids);
      },
      () => {},
    );
    await expireLease(lost);
    const results = await Promise.all([1, 2, 3, 4].map(() => reapExpiredLeases(database.sql)));
    const reaped = results.flat().map((r) => r.id);
    expect(reaped.sort()).toEqual([...ids].sort());
    await expect.poll(() => new Set(notices).size, { timeout: 10_000 }).toBe(ids.length);
    expect(new Set(notices)).toEqual(new Set(ids));
    await listener.unlisten();
  });
});

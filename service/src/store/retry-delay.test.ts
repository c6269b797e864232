// The wait before a task's next attempt: spool.retry_delay(attempt, backoff) (migration 0011)
// computes what backoffDelayMs (@spool/proto) computes, from the task's own backoff; NULL
// means the defaults; and both statements that send a task back to PENDING after a failure
// (recordAttempts, the reaper) use it.
import { randomUUID } from "node:crypto";
import { backoffDelayMs, defaultBackoff, type Backoff } from "@spool/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { claimWithLease } from "../test-support/claim.js";
import type { NewTask, Task } from "../domain/task.js";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { reapExpiredLeases, renewLease } from "./leases.js";
import { getTask } from "./read-tasks.js";
import { recordAttempts } from "./record-attempts.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 4 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs, spool.replicas`);

/** spool.retry_delay in ms, `samples` times. */
async function sqlDelays(attempt: number, backoff: Backoff | null, samples = 1): Promise<number[]> {
  const rows = await database.sql<{ ms: number }[]>`
    select extract(epoch from spool.retry_delay(${attempt}::int, ${backoff === null ? null : JSON.stringify(backoff)}::text::jsonb))::float8 * 1000 as ms
    from generate_series(1, ${samples})`;
  return rows.map((row) => row.ms);
}

describe("spool.retry_delay(attempt, backoff)", () => {
  it("computes backoffDelayMs's formula: base * factor^(attempt-1), at most max", async () => {
    const policies: Backoff[] = [
      { baseMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0 },
      { baseMs: 250, factor: 3, maxMs: 20_000, jitter: 0 },
      { baseMs: 0, factor: 10, maxMs: 0, jitter: 0 },
      { baseMs: 86_400_000, factor: 10, maxMs: 604_800_000, jitter: 0 },
      { baseMs: 1500, factor: 1, maxMs: 1500, jitter: 0 },
    ];
    for (const policy of policies) {
      for (const attempt of [1, 2, 3, 7, 100]) {
        const [ms] = await sqlDelays(attempt, policy);
        // An interval holds microseconds.
        expect(ms, `${JSON.stringify(policy)} after attempt ${attempt}`).toBeCloseTo(backoffDelayMs(policy, attempt - 1), 2);
      }
    }
    // Far past any max_attempts, it still gives the cap rather than overflowing.
    expect(await sqlDelays(100_000, { baseMs: 1000, factor: 10, maxMs: 5000, jitter: 0 })).toEqual([5000]);
  });

  it("spreads the wait by the jitter, between (1 - jitter) and (1 + jitter) times, as the helper does", async () => {
    const policy: Backoff = { baseMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.5 };
    const delays = await sqlDelays(3, policy, 500);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(6000);
    expect(Math.min(...delays)).toBeLessThan(3000); // both halves of the range are used
    expect(Math.max(...delays)).toBeGreaterThan(5000);
    expect(backoffDelayMs(policy, 2, () => 0)).toBe(2000);
    expect(backoffDelayMs(policy, 2, () => 1)).toBe(6000);
  });

  it("takes NULL for the defaults (1 s doubling, at most 1 h, +-25%), as does the old one-argument form", async () => {
    for (const attempt of [1, 4, 20]) {
      const expected = Math.min(defaultBackoff.maxMs, defaultBackoff.baseMs * 2 ** (attempt - 1));
      const delays = [
        ...(await sqlDelays(attempt, null, 50)),
        ...(await database.sql<{ ms: number }[]>`
          select extract(epoch from spool.retry_delay(${attempt}::int))::float8 * 1000 as ms from generate_series(1, 50)`).map((r) => r.ms),
      ];
      for (const ms of delays) {
        expect(ms).toBeGreaterThanOrEqual(expected * 0.75 - 0.001);
        expect(ms).toBeLessThanOrEqual(expected * 1.25 + 0.001);
      }
    }
  });
});

async function inserted(task: NewTask): Promise<Task> {
  const [result] = await insertTasks(database.sql, [task]);
  return result!.task;
}

describe("a failed attempt waits by its task's backoff", () => {
  const backoff: Backoff = { baseMs: 60_000, factor: 3, maxMs: 600_000, jitter: 0 };
  /** run_at minus the time the failure was recorded (now() of the same statement), in ms. */
  const waitOf = async (id: string, failure: number) => {
    const task = (await getTask(database.db, id))!;
    return task.runAt.getTime() - new Date(task.failures[failure]!.at).getTime();
  };

  it("when the handler failed (recordAttempts)", async () => {
    const owner = randomUUID();
    const task = await inserted(newTask({ maxAttempts: 3, backoff }));
    for (const attempt of [1, 2]) {
      await database.sql`update spool.tasks set run_at = now() where id = ${task.id}`; // due again now
      expect(await claimWithLease(database.sql, 1, owner)).toMatchObject([{ id: task.id, attempt }]);
      await recordAttempts(database.sql, owner, [], [{ id: task.id, attempt, outcome: "failed", error: { type: "Error", message: "no" } }]);
      expect(await waitOf(task.id, attempt - 1)).toBe(backoff.baseMs * backoff.factor ** (attempt - 1));
    }
  });

  it("when its replica was lost a second time (the reaper)", async () => {
    const task = await inserted(newTask({ maxAttempts: 3, backoff }));
    for (const attempt of [1, 2]) {
      const owner = randomUUID();
      await database.sql`update spool.tasks set run_at = now() where id = ${task.id}`;
      expect(await claimWithLease(database.sql, 1, owner)).toMatchObject([{ id: task.id, attempt }]);
      // Its lease ran out.
      await database.sql`update spool.replicas set renewed_at = now() - interval '2 s', expires_at = now() - interval '1 s' where id = ${owner}`;
      expect(await reapExpiredLeases(database.sql)).toMatchObject([{ id: task.id, state: "pending" }]);
    }
    // The first lost attempt goes back at once; the second waits base * factor^0.
    expect(await waitOf(task.id, 1)).toBe(backoff.baseMs);
  });

  it("a task stored without one (NULL: the defaults) waits 1 s +-25% after its first failure", async () => {
    const owner = randomUUID();
    await renewLease(database.sql, { id: owner, name: "test" }, 60_000);
    const task = await inserted(newTask({ maxAttempts: 2 }));
    expect(await database.sql`select 1 from spool.tasks where id = ${task.id} and backoff is null`).toHaveLength(1);
    await claimWithLease(database.sql, 1, owner);
    await recordAttempts(database.sql, owner, [], [{ id: task.id, attempt: 1, outcome: "failed", error: { type: "Error", message: "no" } }]);
    const wait = await waitOf(task.id, 0);
    expect(wait).toBeGreaterThanOrEqual(750);
    expect(wait).toBeLessThanOrEqual(1250);
  });
});

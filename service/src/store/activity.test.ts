// The activity counters in the store: upserts add up across flushes and replicas, a window is
// zero-filled and oldest first, a tenant's window sums its queues, and old rows are pruned.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ActivityRow } from "../domain/activity.js";
import { useTestDatabase } from "../test-support/database.js";
import { addActivity, pruneActivity, readActivity } from "./activity.js";
import { connect, type Database } from "./database.js";

const testDb = useTestDatabase();
let database: Database;
let other: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 5 });
  other = connect(testDb.url, { max: 5 }); // a second replica's pool
});
afterAll(() => Promise.all([database.close(), other.close()]));
beforeEach(() => database.sql`truncate spool.task_activity`);

/** A fixed minute, so that windows do not depend on when the test runs. */
const last = new Date("2030-01-01T12:00:00Z");
const minute = (back: number) => new Date(last.getTime() - back * 60_000);
const row = (overrides: Partial<ActivityRow>): ActivityRow => ({
  tenant: "acme",
  queue: "mail",
  minute: last,
  succeeded: 0,
  failed: 0,
  retried: 0,
  cancelled: 0,
  ...overrides,
});
const counts = (succeeded: number, failed: number, retried: number, cancelled: number) => ({ succeeded, failed, retried, cancelled });

describe("addActivity", () => {
  it("adds up across two flushes and two replicas flushing the same keys at once", async () => {
    await addActivity(database.sql, [row({ succeeded: 3, failed: 1 }), row({ queue: "sms", retried: 2 })]);
    await Promise.all([
      addActivity(database.sql, [row({ succeeded: 2, cancelled: 1 }), row({ queue: "sms", retried: 1 })]),
      addActivity(other.sql, [row({ queue: "sms", succeeded: 5 }), row({ succeeded: 10, failed: 4, retried: 1 })]),
    ]);
    const stored = await database.sql`
      select queue, succeeded, failed, retried, cancelled from spool.task_activity order by queue`;
    expect(stored.map((r) => ({ ...r }))).toEqual([
      { queue: "mail", ...counts(15, 5, 1, 1) },
      { queue: "sms", ...counts(5, 0, 3, 0) },
    ]);
  });

  it("sums a key given twice in one flush, and refuses a minute that is not whole", async () => {
    await addActivity(database.sql, [row({ succeeded: 1 }), row({ succeeded: 2 })]);
    expect((await readActivity(database.sql, "acme", "mail", 1, last))[0]).toMatchObject(counts(3, 0, 0, 0));
    await expect(addActivity(database.sql, [row({ minute: new Date(last.getTime() + 1000) })])).rejects.toThrow(/task_activity_whole_minute/);
  });
});

describe("readActivity", () => {
  it("gives every minute of the window, oldest first, zeros where nothing ended", async () => {
    await addActivity(database.sql, [
      row({ minute: minute(0), succeeded: 1 }),
      row({ minute: minute(3), failed: 2 }),
      row({ minute: minute(5), succeeded: 9 }), // before the window
      row({ minute: new Date(last.getTime() + 60_000), succeeded: 9 }), // after it
    ]);
    const buckets = await readActivity(database.sql, "acme", "mail", 5, last);
    expect(buckets.map((b) => b.start)).toEqual([minute(4), minute(3), minute(2), minute(1), minute(0)]);
    expect(buckets.map((b) => [b.succeeded, b.failed, b.retried, b.cancelled])).toEqual([
      [0, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [1, 0, 0, 0],
    ]);
  });

  it("sums every queue of the tenant when no queue is given, and never another tenant's", async () => {
    await addActivity(database.sql, [
      row({ queue: "mail", succeeded: 1, retried: 1 }),
      row({ queue: "sms", succeeded: 2, cancelled: 1 }),
      row({ tenant: "globex", queue: "mail", succeeded: 100 }),
    ]);
    expect((await readActivity(database.sql, "acme", undefined, 1, last))[0]).toMatchObject(counts(3, 0, 1, 1));
    expect((await readActivity(database.sql, "acme", "sms", 1, last))[0]).toMatchObject(counts(2, 0, 0, 1));
    expect((await readActivity(database.sql, "initech", undefined, 1, last))[0]).toMatchObject(counts(0, 0, 0, 0));
  });

  it("ends the window with the database's current minute by default", async () => {
    const [{ now }] = (await database.sql`select date_trunc('minute', now()) as now`) as unknown as [{ now: Date }];
    await addActivity(database.sql, [row({ minute: now, succeeded: 4 })]);
    const buckets = await readActivity(database.sql, "acme", "mail", 60);
    expect(buckets).toHaveLength(60);
    // The minute may have turned since: then the row is in the last but one bucket.
    const at = buckets.findIndex((b) => b.start.getTime() === now.getTime());
    expect(at).toBeGreaterThanOrEqual(58);
    expect(buckets[at]).toMatchObject(counts(4, 0, 0, 0));
  });
});

describe("pruneActivity", () => {
  it("deletes rows older than 7 days, at most `limit` a call", async () => {
    const [{ now }] = (await database.sql`select date_trunc('minute', now()) as now`) as unknown as [{ now: Date }];
    const daysAgo = (days: number, extraMinutes = 0) => new Date(now.getTime() - days * 86_400_000 - extraMinutes * 60_000);
    await addActivity(database.sql, [
      row({ minute: daysAgo(8), succeeded: 1 }),
      row({ minute: daysAgo(7, 2), succeeded: 1 }),
      row({ minute: daysAgo(30), succeeded: 1 }),
      row({ minute: daysAgo(6), succeeded: 1 }),
      row({ minute: now, succeeded: 1 }),
    ]);
    expect(await pruneActivity(database.sql, 2)).toBe(2);
    expect(await pruneActivity(database.sql, 2)).toBe(1);
    expect(await pruneActivity(database.sql, 2)).toBe(0);
    const kept = await database.sql<{ minute: Date }[]>`select minute from spool.task_activity order by minute`;
    expect(kept.map((r) => r.minute)).toEqual([daysAgo(6), now]);
  });
});

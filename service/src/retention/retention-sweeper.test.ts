// Retention against a real Postgres: ended tasks past their queue's retention go, with their
// log lines and idempotency keys; everything else stays; a batch is bounded in tasks read and
// lines deleted; sweepers of several replicas share the work; the loop stops cleanly.
import { pino } from "pino";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TaskState } from "../domain/task.js";
import { connect, type Database } from "../store/database.js";
import { deleteExpired, lowestTaskId, retentionHorizon } from "../store/delete-expired.js";
import { insertTasks } from "../store/insert-tasks.js";
import { newTask } from "../test-support/factories.js";
import { useTestDatabase } from "../test-support/database.js";
import { pauseAfter, RetentionSweeper, type RetentionOptions } from "./retention-sweeper.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.task_logs, spool.queues`);

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const week = 7 * day;

interface Stored {
  state?: TaskState;
  queue?: string;
  tenant?: string;
  /** How long ago it was created (its id says so too). */
  createdAgo: number;
  /** How long ago it ended; ended tasks only. */
  endedAgo?: number;
  lines?: number;
  idempotencyKey?: string;
}

/** A task as it would be after living its life: created, and ended, that long ago. */
async function stored(task: Stored): Promise<string> {
  const createdAt = new Date(Date.now() - task.createdAgo);
  const id = uuidv7({ msecs: createdAt.getTime() });
  const state = task.state ?? "succeeded";
  const ended = state !== "pending" && state !== "running";
  await database.sql`
    insert into spool.tasks (id, kind, queue, state, input, attempt, max_attempts, timeout_ms, idempotency_key, tenant,
      created_at, run_at, finished_at)
    values (${id}, 'demo.echo', ${task.queue ?? "default"}, ${state}, null, ${ended ? 1 : 0}, 3, 1000, ${task.idempotencyKey ?? null},
      ${task.tenant ?? "default"}, ${createdAt}, ${createdAt}, ${ended ? new Date(Date.now() - task.endedAgo!) : null})`;
  const lines = task.lines ?? 0;
  if (lines > 0) {
    await database.sql`
      insert into spool.task_logs (task_id, seq, attempt, level, message, time)
      select ${id}, seq, 1, 'info', 'line ' || seq, now() from generate_series(1, ${lines}::int) seq`;
  }
  return id;
}

async function queue(name: string, retentionMs: number | null, tenant = "default"): Promise<void> {
  await database.sql`insert into spool.queues (tenant, name, retention_ms) values (${tenant}, ${name}, ${retentionMs})`;
}

async function remaining(): Promise<{ tasks: string[]; linesByTask: Record<string, number> }> {
  const tasks = (await database.sql<{ id: string }[]>`select id from spool.tasks order by id`).map((r) => r.id);
  const lines = await database.sql<{ id: string; n: number }[]>`select task_id as id, count(*)::int as n from spool.task_logs group by task_id`;
  return { tasks, linesByTask: Object.fromEntries(lines.map((r) => [r.id, r.n])) };
}

const sweepers: RetentionSweeper[] = [];
function sweeper(options: Partial<RetentionOptions> = {}): RetentionSweeper {
  const made = new RetentionSweeper({ sql: database.sql, defaultRetentionMs: week, log: pino({ level: "silent" }), busyPauseMs: 0, ...options });
  sweepers.push(made);
  return made;
}
afterAll(async () => {
  for (const made of sweepers) await made.stop();
});

describe("retention", () => {
  it("deletes ended tasks past their queue's retention, with their log lines, and keeps every other", async () => {
    await queue("unset", null);
    await queue("short", hour);
    await queue("long", 30 * day);
    const doomed = [
      await stored({ createdAgo: 9 * day, endedAgo: 8 * day, lines: 3, idempotencyKey: "k1" }), // default: 7 days
      await stored({ state: "failed", queue: "unset", createdAgo: 8 * day, endedAgo: 8 * day, lines: 3 }),
      await stored({ state: "dropped", queue: "short", createdAgo: 2 * hour, endedAgo: 2 * hour, lines: 3 }),
      await stored({ state: "cancelled", queue: "long", createdAgo: 40 * day, endedAgo: 31 * day, lines: 3 }),
    ];
    const kept = [
      await stored({ createdAgo: 10 * day, endedAgo: 6 * day, lines: 3 }), // created long ago, ended recently
      await stored({ state: "pending", createdAgo: 30 * day, lines: 3 }), // not ended, however old
      await stored({ state: "dropped", queue: "short", createdAgo: 2 * hour, endedAgo: 30 * minute, lines: 3 }),
      await stored({ state: "failed", queue: "long", createdAgo: 21 * day, endedAgo: 20 * day, lines: 3 }),
      // The short queue is acme's... of tenant "default": another tenant's queue of that name
      // has no row, and keeps the default.
      await stored({ queue: "short", tenant: "globex", createdAgo: 2 * day, endedAgo: 2 * day, lines: 3 }),
      await stored({ createdAgo: 1 * minute, endedAgo: 0, lines: 3 }),
    ];

    expect(await sweeper().sweep()).toMatchObject({ tasks: 4, lines: 12 });
    const left = await remaining();
    expect(left.tasks).toEqual([...kept].sort());
    expect(left.linesByTask).toEqual(Object.fromEntries(kept.map((id) => [id, 3])));
    expect(doomed.some((id) => left.tasks.includes(id))).toBe(false);
    // The idempotency key went with its task: it names a new task now.
    const [again] = await insertTasks(database.sql, [newTask({ idempotencyKey: "k1" })]);
    expect(again!.created).toBe(true);
    // A second pass finds nothing more.
    expect(await sweeper().sweep()).toMatchObject({ tasks: 0, lines: 0 });
  });

  it("with the default set to 0 keeps the tasks of queues without their own retention, and applies the others'", async () => {
    await queue("short", hour);
    const kept = await stored({ createdAgo: 400 * day, endedAgo: 400 * day });
    await stored({ queue: "short", createdAgo: 2 * hour, endedAgo: 2 * hour });
    expect(await sweeper({ defaultRetentionMs: 0 }).sweep()).toMatchObject({ tasks: 1 });
    expect((await remaining()).tasks).toEqual([kept]);
    await database.sql`truncate spool.queues`;
    expect(await retentionHorizon(database.sql, null)).toBeUndefined(); // nothing to do at all
  });

  it("reads at most a batch of tasks per statement, and the next batch goes on where it stopped", async () => {
    await queue("long", 30 * day);
    const old = [];
    for (let i = 0; i < 10; i++) {
      old.push(await stored({ queue: i % 2 === 0 ? "default" : "long", createdAgo: 9 * day - i, endedAgo: 8 * day }));
    }
    const before = (await retentionHorizon(database.sql, week))!;
    const batch = (after: string) =>
      deleteExpired(database.sql, { state: "succeeded", after, before, batch: 3, defaultRetentionMs: week, lineBudget: 1000 });
    const batches = [];
    let after = lowestTaskId;
    for (;;) {
      const result = await batch(after);
      batches.push(result);
      if (!result.more) break;
      after = result.next;
    }
    // 10 tasks read 3 at a time: 4 batches; the 5 of the long queue are read and kept.
    expect(batches.map((b) => [b.scanned, b.tasks])).toEqual([
      [3, 2],
      [3, 1],
      [3, 2],
      [1, 0],
    ]);
    expect((await remaining()).tasks).toEqual(old.filter((_, i) => i % 2 === 1));
  });

  it("deletes at most lineBudget log lines per statement: a task with more loses them over several, and its row goes last", async () => {
    const small = [await stored({ createdAgo: 9 * day, endedAgo: 8 * day, lines: 4 }), await stored({ createdAgo: 9 * day - 1, endedAgo: 8 * day, lines: 4 })];
    const big = await stored({ createdAgo: 9 * day - 2, endedAgo: 8 * day, lines: 25 });
    const before = (await retentionHorizon(database.sql, week))!;
    const batch = (after: string) =>
      deleteExpired(database.sql, { state: "succeeded", after, before, batch: 100, defaultRetentionMs: week, lineBudget: 10 });

    // The two small ones fit (8 lines); the big one is held for the next batch.
    const first = await batch(lowestTaskId);
    expect(first).toMatchObject({ tasks: 2, lines: 8, more: true, next: small[1] });
    // It loses 10 lines at a time while it has more than 10, keeping its row...
    const second = await batch(first.next);
    expect(second).toMatchObject({ tasks: 0, lines: 10, more: true, next: small[1] });
    expect(await remaining()).toEqual({ tasks: [big], linesByTask: { [big]: 15 } });
    expect(await batch(second.next)).toMatchObject({ tasks: 0, lines: 10, more: true });
    // ...then goes whole, with its last 5.
    expect(await batch(second.next)).toMatchObject({ tasks: 1, lines: 5, more: false });
    expect(await remaining()).toEqual({ tasks: [], linesByTask: {} });
  });

  it("shares the work between the sweepers of several replicas: each task is deleted once", async () => {
    await database.sql`
      insert into spool.tasks (id, kind, queue, state, attempt, max_attempts, timeout_ms, created_at, run_at, finished_at)
      select ('00000100-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'demo.echo', 'default', 'failed', 1, 1, 1000,
        now() - interval '30 days', now() - interval '30 days', now() - interval '30 days'
      from generate_series(1, 3000) n`;
    const totals = await Promise.all([0, 1, 2].map(() => sweeper({ batchSize: 100 }).sweep()));
    expect(totals.reduce((sum, t) => sum + t.tasks, 0)).toBe(3000);
    expect((await remaining()).tasks).toEqual([]);
  });

  it("runs passes on its own until stopped, and stops at once, even in the middle of a sleep", async () => {
    const id = await stored({ createdAgo: 9 * day, endedAgo: 8 * day, lines: 2 });
    const running = sweeper({ firstDelayMs: 0, idleMs: 60_000 });
    running.start();
    await expect.poll(async () => (await remaining()).tasks, { timeout: 10_000 }).toEqual([]);
    expect((await remaining()).linesByTask).toEqual({});
    // Now asleep for a minute: stop wakes it.
    await running.stop();
    // Stopped: nothing more is deleted.
    const after = await stored({ createdAgo: 9 * day, endedAgo: 8 * day });
    const idle = sweeper({ firstDelayMs: 3_600_000 });
    idle.start();
    await idle.stop();
    expect((await remaining()).tasks).toEqual([after]);
    expect(id).not.toBe(after);
  });
});

describe("pauseAfter", () => {
  it("deletes half the time while the replica is idle, a tenth while it runs tasks", () => {
    expect(pauseAfter(40, false, 100)).toBe(100);
    expect(pauseAfter(400, false, 100)).toBe(400);
    expect(pauseAfter(40, true, 100)).toBe(360);
    expect(pauseAfter(5, true, 100)).toBe(100);
  });
});

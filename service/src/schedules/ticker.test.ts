import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { ReadyTemplate, ScheduleSpec } from "../domain/schedule.js";
import { SpoolError } from "../errors.js";
import { connect, type Database } from "../store/database.js";
import { useTestDatabase } from "../test-support/database.js";
import { scheduleSpec } from "../test-support/factories.js";
import { eventually } from "../test-support/spool.js";
import { ScheduleBook } from "./schedule-book.js";
import { Ticker, type TickerOptions } from "./ticker.js";
import { noTaskEvents } from "../domain/task-events.js";

const testDb = useTestDatabase();
let database: Database;
let book: ScheduleBook;
const readyAsIs: ReadyTemplate = async (_tenant, template) => template;
const kinds = () => new Set(["demo.echo", "demo.gate"]);
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
  book = new ScheduleBook(database.sql, readyAsIs, kinds);
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.schedules, spool.tasks`);

/** Tickers of the test, each with a connection pool of its own (as replicas have), stopped after it. */
const running: { ticker: Ticker; db: Database }[] = [];
function startTicker(options: Partial<TickerOptions> = {}): Ticker {
  const db = connect(testDb.url, { max: 5 });
  const ticker = new Ticker({ sql: db.sql, kinds, ready: readyAsIs, log: pino({ level: "silent" }), events: noTaskEvents, ...options });
  ticker.start();
  running.push({ ticker, db });
  return ticker;
}
afterEach(async () => {
  for (const { ticker, db } of running.splice(0)) {
    await ticker.stop();
    await db.close();
  }
});

const create = (name: string, spec: Partial<ScheduleSpec> = {}) => book.create("default", name, scheduleSpec(spec), "creator", false);

/** scheduled_for of the schedule's tasks, in ms since the schedule's creation, in order. */
async function ticksOf(name: string): Promise<number[]> {
  const rows = await database.sql<{ offset: number }[]>`
    select (extract(epoch from t.scheduled_for - s.created_at) * 1000)::float8 as offset
    from spool.tasks t join spool.schedules s on s.tenant = t.tenant and s.name = t.schedule
    where t.schedule = ${name} order by t.scheduled_for`;
  return rows.map((r) => r.offset);
}
const taskCount = async (name: string) =>
  (await database.sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where schedule = ${name}`)[0]!.n;
const untilTasks = (name: string, atLeast: number, timeoutMs = 15_000) =>
  eventually(async () => ((await taskCount(name)) >= atLeast ? true : undefined), timeoutMs, `${atLeast} tasks of ${name}`);
/** Moves a schedule's creation and next tick back in time, as if every replica had been down. */
const moveBack = (name: string, seconds: number) =>
  database.sql`update spool.schedules set created_at = created_at - make_interval(secs => ${seconds}),
    next_run_at = next_run_at - make_interval(secs => ${seconds}) where name = ${name}`;
const consecutive = (n: number, from = 1) => Array.from({ length: n }, (_, i) => (from + i) * 1000);

describe("Ticker", () => {
  it("fires each tick exactly once while three tickers race on the same schedules", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    for (const name of names) await create(name);
    // 50 ticks of each are due at once (within the minute's grace), and more come every second.
    for (const name of names) await moveBack(name, 50);
    for (let i = 0; i < 3; i++) startTicker();
    for (const name of names) await untilTasks(name, 53);
    for (const { ticker } of running) await ticker.stop();

    for (const name of names) {
      const ticks = await ticksOf(name);
      expect(ticks, name).toEqual(consecutive(ticks.length));
      const [row] = await database.sql<{ last: number; next: number }[]>`
        select (extract(epoch from last_run_at - created_at) * 1000)::float8 as last,
               (extract(epoch from next_run_at - created_at) * 1000)::float8 as next
        from spool.schedules where name = ${name}`;
      expect(row).toEqual({ last: ticks.at(-1), next: ticks.at(-1)! + 1000 });
    }
    const tasks = await database.sql`select distinct tenant, created_by, kind from spool.tasks`;
    expect(tasks).toEqual([{ tenant: "default", created_by: "creator", kind: "demo.echo" }]);
  });

  it("follows the database's clock, not the replica's: a replica an hour ahead fires nothing early", async () => {
    await create("clock");
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 3_600_000 });
    try {
      startTicker();
      await untilTasks("clock", 3);
      const [row] = await database.sql<{ late: boolean }[]>`select bool_and(scheduled_for <= now()) as late from spool.tasks`;
      expect(row!.late).toBe(true);
      const ticks = await ticksOf("clock");
      expect(ticks).toEqual(consecutive(ticks.length));
    } finally {
      vi.useRealTimers();
    }
  });

  it("makes a delete wait for the tick in progress, and a deleted schedule never fires again", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    startTicker({
      ready: async (_tenant, template) => {
        if (template.kind === "demo.gate") {
          entered = true;
          await gate;
        }
        return template;
      },
    });
    await create("control");
    await create("gated", { task: { ...scheduleSpec().task, kind: "demo.gate" } });
    await eventually(async () => (entered ? true : undefined), 10_000, "the gated tick to start");

    const deleted = book.delete("default", "gated");
    // The delete waits on the row the tick holds.
    await eventually(
      async () => {
        const [row] = await database.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from spool.schedules%'`;
        return row!.n === 1 ? true : undefined;
      },
      10_000,
      "the delete to wait for the tick's lock",
    );
    release();
    await deleted;
    const fired = await taskCount("gated");
    expect(fired).toBe(1); // the tick in progress committed its task; tasks outlive their schedule

    const control = await taskCount("control");
    await untilTasks("control", control + 3);
    expect(await taskCount("gated")).toBe(fired);
    expect(await database.sql`select 1 from spool.schedules where name = 'gated'`).toHaveLength(0);
  });

  it("fires nothing while paused, and after a resume only from the next tick after it", async () => {
    startTicker();
    await create("control");
    await create("paused");
    await untilTasks("paused", 1);
    await book.pause("default", "paused");
    const before = await ticksOf("paused");
    const control = await taskCount("control");
    await untilTasks("control", control + 3);
    expect(await ticksOf("paused")).toEqual(before);

    const resumed = await book.resume("default", "paused");
    await untilTasks("paused", before.length + 2);
    const after = (await ticksOf("paused")).slice(before.length);
    const resumedAt = resumed.nextRunAt!.getTime() - resumed.createdAt.getTime();
    expect(after[0]).toBe(resumedAt);
    expect(after[0]! - before.at(-1)!).toBeGreaterThanOrEqual(3000); // the ticks while paused (2 at least) were skipped
    expect(after.slice(0, 2)).toEqual([resumedAt, resumedAt + 1000]);
  });

  it("catches up missed ticks as the policy says: all of the latest `limit`, then those on time", async () => {
    await create("all", { catchUp: "all", catchUpLimit: 5 });
    await create("once", { catchUp: "once" });
    await create("skip");
    for (const name of ["all", "once", "skip"]) await moveBack(name, 600);
    startTicker();
    for (const name of ["all", "once", "skip"]) await untilTasks(name, 62);
    const [all, once, skip] = (await Promise.all(["all", "once", "skip"].map(ticksOf))) as [number[], number[], number[]];
    // The on-time ticks: those of the last minute, consecutive up to now.
    const onTime = skip[0]! / 1000;
    expect(skip).toEqual(consecutive(skip.length, onTime));
    expect(onTime).toBeGreaterThan(500);
    expect(once[0]).toBe(once[1]! - 1000);
    expect(once.slice(1)).toEqual(consecutive(once.length - 1, once[1]! / 1000));
    expect(all.slice(0, 6)).toEqual(consecutive(6, all[5]! / 1000 - 5));
  });

  it("stores a catch-up of a large template in several statements, all of it or none", async () => {
    const input = "x".repeat(900_000); // 8 such tasks to a statement
    await create("large", { intervalMs: 10_000, catchUp: "all", catchUpLimit: 10, task: { ...scheduleSpec().task, input } });
    await moveBack("large", 700);
    startTicker();
    await untilTasks("large", 16); // 10 missed, 6 in the last minute
    const ticks = await ticksOf("large");
    expect(ticks).toHaveLength(16);
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(Array(15).fill(10_000));
    const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where schedule = 'large' and input = to_jsonb(${input}::text)`;
    expect(row!.n).toBe(16);
  });

  it("tries a tick the tenant's quotas refuse again, losing none, and says so each time", async () => {
    let refusals = 0;
    const lines: { level: number; msg: string; schedule?: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    startTicker({
      log,
      ready: async (_tenant, template) => {
        if (refusals < 3) {
          refusals++;
          throw new SpoolError("resource_exhausted", "tenant at its limit", { retryAfterMs: 300 });
        }
        return template;
      },
    });
    await create("quota");
    await untilTasks("quota", 3);
    expect(refusals).toBe(3);
    const ticks = await ticksOf("quota");
    expect(ticks).toEqual(consecutive(ticks.length)); // from the first tick on, none missing
    const warned = lines.filter((l) => l.level === 40 && /refused by the tenant's quotas/.test(l.msg));
    expect(warned.map((l) => l.schedule)).toEqual(["quota", "quota", "quota"]);
  });

  it("skips the ticks of a template its kind's schema no longer accepts, and goes on", async () => {
    let refused = 0;
    startTicker({
      ready: async () => {
        refused++;
        throw SpoolError.invalidArgument("task.input.to", "Invalid email address");
      },
    });
    const { schedule } = await create("broken");
    await eventually(async () => (refused >= 2 ? true : undefined), 10_000, "two refused ticks");
    const [row] = await database.sql<{ next: Date; last: Date | null }[]>`select next_run_at as next, last_run_at as last from spool.schedules where name = 'broken'`;
    expect(row!.next.getTime()).toBeGreaterThan(schedule.nextRunAt!.getTime());
    expect(row!.last).toBeNull();
    expect(await taskCount("broken")).toBe(0);
  });

  it("leaves schedules of kinds it has no handler for to replicas that have one", async () => {
    await create("other-kind", { task: { ...scheduleSpec().task, kind: "added.in.next.release" } });
    await create("control");
    startTicker();
    await untilTasks("control", 2);
    expect(await taskCount("other-kind")).toBe(0);
    startTicker({ kinds: () => new Set(["added.in.next.release"]) });
    await untilTasks("other-kind", 1);
  });
});

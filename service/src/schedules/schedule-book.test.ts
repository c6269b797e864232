import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ReadyTemplate } from "../domain/schedule.js";
import { SpoolError } from "../errors.js";
import { connect, type Database } from "../store/database.js";
import { listen, type Notice } from "../store/notify.js";
import { databaseNow } from "../store/schedules.js";
import { useTestDatabase } from "../test-support/database.js";
import { eventually } from "../test-support/spool.js";
import { scheduleSpec } from "../test-support/factories.js";
import { ScheduleBook } from "./schedule-book.js";

const testDb = useTestDatabase();
let database: Database;
let book: ScheduleBook;
const readyAsIs: ReadyTemplate = async (_tenant, template) => template;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
  book = new ScheduleBook(database.sql, readyAsIs, () => new Set(["demo.echo"]));
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.schedules, spool.tasks`);

const hourly = scheduleSpec({ cron: "0 * * * *", intervalMs: undefined, timeZone: "Europe/Berlin" });

describe("ScheduleBook.create", () => {
  it("stores a schedule whose next tick comes from the database's clock", async () => {
    const now = await databaseNow(database.sql);
    const { schedule, created } = await book.create("default", "reports/hourly", hourly, "ops@example.com", false);
    expect(created).toBe(true);
    expect(schedule).toMatchObject({ tenant: "default", name: "reports/hourly", cron: "0 * * * *", intervalMs: undefined, paused: false, createdBy: "ops@example.com", lastRunAt: null });
    expect(schedule.nextRunAt!.getTime() % 3_600_000).toBe(0);
    expect(schedule.nextRunAt!.getTime() - now.getTime()).toBeGreaterThan(0);
    expect(schedule.nextRunAt!.getTime() - now.getTime()).toBeLessThanOrEqual(3_600_000);
    expect(schedule.task).toEqual(hourly.task);
    // An interval's first tick is one interval after its creation.
    const { schedule: every } = await book.create("default", "every-second", scheduleSpec(), "ops", false);
    expect(every.nextRunAt!.getTime() - every.createdAt.getTime()).toBe(1000);
  });

  it("is idempotent for the same spec, whatever the order of labels, and whether paused or not", async () => {
    const spec = { ...hourly, task: { ...hourly.task, labels: { a: "1", b: "2" }, input: { x: 1, y: [1, 2] } } };
    const first = await book.create("default", "nightly", spec, "ops", false);
    await book.pause("default", "nightly");
    const again = await book.create("default", "nightly", { ...spec, task: { ...spec.task, labels: { b: "2", a: "1" }, input: { y: [1, 2], x: 1 } } }, "someone-else", false);
    expect(again.created).toBe(false);
    expect(again.schedule).toMatchObject({ name: "nightly", createdBy: "ops", paused: true, createdAt: first.schedule.createdAt });
  });

  it("refuses another spec under a taken name with ALREADY_EXISTS, naming what differs", async () => {
    await book.create("default", "nightly", hourly, "ops", false);
    const other = { ...hourly, cron: "0 3 * * *", task: { ...hourly.task, priority: 5 } };
    await expect(book.create("default", "nightly", other, "ops", false)).rejects.toMatchObject({
      code: "already_exists",
      message: expect.stringMatching(/^schedule "nightly" exists in tenant "default" with another cron, task: UpdateSchedule/),
    });
    // Names are per tenant.
    expect((await book.create("acme", "nightly", other, "ops", false)).created).toBe(true);
  });

  it("stays one schedule when many replicas register it at once at boot", async () => {
    const books = Array.from({ length: 8 }, () => new ScheduleBook(database.sql, readyAsIs, () => new Set(["demo.echo"])));
    const results = await Promise.all(books.map((b) => b.create("default", "boot", hourly, "ops", false)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.schedule.createdAt.getTime())).size).toBe(1);
  });

  it("creates a paused schedule with no next tick", async () => {
    const { schedule } = await book.create("default", "later", hourly, "ops", true);
    expect(schedule).toMatchObject({ paused: true, nextRunAt: null });
  });
});

describe("ScheduleBook reads and changes", () => {
  it("lists a tenant's schedules in name order, page by page", async () => {
    for (const name of ["b", "a", "c/1", "c/0", "B"]) await book.create("default", name, hourly, "ops", false);
    await book.create("acme", "a", hourly, "ops", false);
    const first = await book.list("default", undefined, 3);
    expect(first.map((s) => s.name)).toEqual(["B", "a", "b"]);
    expect((await book.list("default", "b", 3)).map((s) => s.name)).toEqual(["c/0", "c/1"]);
    expect((await book.list("acme", undefined, 10)).map((s) => s.tenant)).toEqual(["acme"]);
  });

  it("answers NOT_FOUND for a schedule of another tenant or none", async () => {
    await book.create("acme", "nightly", hourly, "ops", false);
    for (const call of [
      () => book.get("default", "nightly"),
      () => book.update("default", "nightly", hourly),
      () => book.delete("default", "nightly"),
      () => book.pause("default", "nightly"),
      () => book.resume("default", "nightly"),
      () => book.trigger("default", "nightly", "ops"),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "not_found", message: 'schedule "nightly" not found in tenant "default"' });
    }
  });

  it("update replaces the spec and computes the next tick again from now; interval ticks stay on the creation grid", async () => {
    const { schedule: created } = await book.create("default", "grid", scheduleSpec({ intervalMs: 3_600_000 }), "ops", false);
    const updated = await book.update("default", "grid", scheduleSpec({ intervalMs: 1000, task: { ...hourly.task, queue: "reports" } }));
    expect(updated).toMatchObject({ intervalMs: 1000, task: { queue: "reports" }, createdAt: created.createdAt, createdBy: "ops" });
    expect((updated.nextRunAt!.getTime() - created.createdAt.getTime()) % 1000).toBe(0);
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
    const toCron = await book.update("default", "grid", hourly);
    expect(toCron).toMatchObject({ cron: "0 * * * *", intervalMs: undefined });
    expect(toCron.nextRunAt!.getTime() % 3_600_000).toBe(0);
  });

  it("pause clears the next tick; resume sets it from now; both are idempotent", async () => {
    const { schedule } = await book.create("default", "p", hourly, "ops", false);
    const paused = await book.pause("default", "p");
    expect(paused).toMatchObject({ paused: true, nextRunAt: null });
    expect(await book.pause("default", "p")).toMatchObject({ paused: true, nextRunAt: null });
    const updated = await book.update("default", "p", { ...hourly, cron: "30 * * * *" });
    expect(updated).toMatchObject({ paused: true, nextRunAt: null }); // an update does not resume
    const resumed = await book.resume("default", "p");
    expect(resumed.paused).toBe(false);
    expect(resumed.nextRunAt!.getTime() % 3_600_000).toBe(30 * 60_000);
    expect(await book.resume("default", "p")).toEqual(resumed);
    expect(schedule.nextRunAt).not.toBeNull();
  });

  it("trigger creates one task now from the template, paused or not, and leaves the ticks alone", async () => {
    await book.create("default", "t", { ...hourly, task: { ...hourly.task, input: { report: "daily" }, labels: { team: "ops" } } }, "creator", true);
    const before = await databaseNow(database.sql);
    const task = await book.trigger("default", "t", "operator@example.com");
    expect(task).toMatchObject({
      kind: "demo.echo",
      input: { report: "daily" },
      labels: { team: "ops" },
      tenant: "default",
      createdBy: "operator@example.com",
      schedule: "t",
      state: "pending",
    });
    expect(task.scheduledFor!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    const twice = await Promise.all([book.trigger("default", "t", "a"), book.trigger("default", "t", "b")]);
    expect(new Set([task.id, ...twice.map((t) => t.id)]).size).toBe(3);
    expect(await book.get("default", "t")).toMatchObject({ paused: true, nextRunAt: null, lastRunAt: null });
  });

  it("trigger takes the next free millisecond when a tick already has its task at that one", async () => {
    await book.create("default", "busy", hourly, "ops", false);
    // Tasks already stand at the next three milliseconds of the database's clock.
    const now = (await database.sql<{ now: Date }[]>`select date_trunc('milliseconds', clock_timestamp()) as now`)[0]!.now;
    await database.sql`
      insert into spool.tasks (id, kind, queue, max_attempts, timeout_ms, tenant, created_by, schedule, scheduled_for, created_at, run_at)
      select gen_random_uuid(), 'demo.echo', 'default', 1, 1000, 'default', 'ops', 'busy', ${now}::timestamptz + make_interval(secs => i / 1000.0), now(), now()
      from generate_series(0, 400) as i`;
    const task = await book.trigger("default", "busy", "ops");
    expect(task.scheduledFor!.getTime()).toBeGreaterThan(now.getTime() + 400);
  });

  it("refuses to trigger a kind this replica has no handler for, and a template that no longer passes", async () => {
    await book.create("default", "gone", { ...hourly, task: { ...hourly.task, kind: "removed.kind" } }, "ops", false);
    await expect(book.trigger("default", "gone", "ops")).rejects.toMatchObject({ code: "failed_precondition" });
    const strict = new ScheduleBook(database.sql, async () => {
      throw SpoolError.invalidArgument("task.input.to", "Invalid email address");
    }, () => new Set(["demo.echo"]));
    await book.create("default", "strict", hourly, "ops", false);
    await expect(strict.trigger("default", "strict", "ops")).rejects.toMatchObject({
      code: "failed_precondition",
      message: 'schedule "strict": its template no longer passes: task.input.to: Invalid email address',
    });
  });

  it("announces every change on the notify channel", async () => {
    const notices: Notice[] = [];
    const listener = await listen(database.sql, (notice) => notices.push(notice), () => {});
    try {
      await book.create("default", "n", hourly, "ops", false);
      await book.pause("default", "n");
      await book.resume("default", "n");
      await book.update("default", "n", { ...hourly, cron: "5 * * * *" });
      await book.delete("default", "n");
      await eventually(async () => (notices.filter((n) => n.type === "schedules").length === 5 ? true : undefined), 5000, "5 schedule notices");
    } finally {
      await listener.unlisten();
    }
  });
});

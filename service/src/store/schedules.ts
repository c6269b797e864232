// Statements on spool.schedules. Times are the database's: `now` comes from the statement
// (truncated to the millisecond, the precision of ticks), never from a replica's clock.
//
// Row locks carry the guarantees:
//   - the ticker takes a due row FOR UPDATE SKIP LOCKED (lockDueSchedule) and, in the same
//     transaction, inserts the tick's tasks and moves next_run_at on (advanceSchedule): two
//     replicas never fire the same row at once, and neither waits for the other;
//   - every change of a schedule (update, pause, resume, delete, trigger) locks its row too,
//     so it waits for a tick in progress and the tick sees either the old row or the new one.
//     A delete that commits leaves no row for any ticker to take: it never fires again.
import type { Schedule, ScheduleSpec } from "../domain/schedule.js";
import type { TaskFields } from "../domain/task.js";
import type { Sql } from "./database.js";

const scheduleColumns = `s.tenant, s.name, s.cron, s.interval_ms as "intervalMs", s.time_zone as "timeZone", s.task,
  s.catch_up as "catchUp", s.catch_up_limit as "catchUpLimit", s.paused, s.next_run_at as "nextRunAt",
  s.last_run_at as "lastRunAt", s.created_by as "createdBy", s.created_at as "createdAt", s.updated_at as "updatedAt"`;

interface ScheduleRow extends Omit<Schedule, "cron" | "intervalMs"> {
  cron: string | null;
  intervalMs: number | null;
}

const fromRow = (row: ScheduleRow): Schedule => ({ ...row, cron: row.cron ?? undefined, intervalMs: row.intervalMs ?? undefined });

/** The template as stored: every field present (concurrencyKey null when unset), so equal templates are equal jsonb. */
function templateJson(task: TaskFields): string {
  return JSON.stringify({ ...task, input: task.input ?? null, concurrencyKey: task.concurrencyKey ?? null });
}

/** A template read back: concurrencyKey undefined when unset, as in a TaskFields. */
function readTemplate(stored: unknown): TaskFields {
  const task = stored as TaskFields & { concurrencyKey: string | null };
  return { ...task, concurrencyKey: task.concurrencyKey ?? undefined };
}

const withTemplate = (schedule: Schedule): Schedule => ({ ...schedule, task: readTemplate(schedule.task) });

/** The database's now, to the millisecond (the transaction's start, constant within it). */
export async function databaseNow(sql: Sql): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`select date_trunc('milliseconds', now()) as now`;
  return row!.now;
}

/**
 * The tick a trigger of the schedule stands for: the database's wall clock now, to the
 * millisecond, or the first millisecond after the schedule's tasks at or after it (a tick
 * fired at that very millisecond, or an earlier trigger within it). With the schedule's row
 * locked (as every tick and trigger locks it) the slot stays free until the insert.
 */
export async function triggerSlot(sql: Sql, tenant: string, name: string): Promise<Date> {
  const [row] = await sql<{ at: Date }[]>`
    select greatest(c.now, (select max(t.scheduled_for) + interval '1 millisecond' from spool.tasks t
                             where t.tenant = ${tenant} and t.schedule = ${name} and t.scheduled_for >= c.now)) as at
    from (select date_trunc('milliseconds', clock_timestamp()) as now) c`;
  return row!.at;
}

export interface NewScheduleRow {
  tenant: string;
  name: string;
  spec: ScheduleSpec;
  paused: boolean;
  nextRunAt: Date | null;
  createdBy: string;
  /** Also the anchor of an interval's ticks. */
  createdAt: Date;
}

/** Inserts the schedule unless its name is taken in its tenant: then undefined. */
export async function insertSchedule(sql: Sql, row: NewScheduleRow): Promise<Schedule | undefined> {
  const { spec } = row;
  const [inserted] = await sql<ScheduleRow[]>`
    insert into spool.schedules as s
      (tenant, name, cron, interval_ms, time_zone, task, catch_up, catch_up_limit, paused, next_run_at, created_by, created_at, updated_at)
    values (${row.tenant}, ${row.name}, ${spec.cron ?? null}, ${spec.intervalMs ?? null}, ${spec.timeZone}, ${templateJson(spec.task)}::text::jsonb,
      ${spec.catchUp}, ${spec.catchUpLimit}, ${row.paused}, ${row.nextRunAt}, ${row.createdBy}, ${row.createdAt}, ${row.createdAt})
    on conflict (tenant, name) do nothing
    returning ${sql.unsafe(scheduleColumns)}`;
  return inserted && withTemplate(fromRow(inserted));
}

/** The schedule, locked FOR UPDATE when `lock` (waiting for a tick in progress); undefined if none. */
export async function readSchedule(sql: Sql, tenant: string, name: string, lock = false): Promise<Schedule | undefined> {
  const [row] = await sql<ScheduleRow[]>`
    select ${sql.unsafe(scheduleColumns)} from spool.schedules s
    where s.tenant = ${tenant} and s.name = ${name} ${lock ? sql`for update` : sql``}`;
  return row && withTemplate(fromRow(row));
}

/** Up to `limit` of the tenant's schedules named after `afterName`, in name order (byte order). */
export async function listSchedules(sql: Sql, tenant: string, afterName: string | undefined, limit: number): Promise<Schedule[]> {
  const rows = await sql<ScheduleRow[]>`
    select ${sql.unsafe(scheduleColumns)} from spool.schedules s
    where s.tenant = ${tenant} ${afterName === undefined ? sql`` : sql`and s.name collate "C" > ${afterName}`}
    order by s.name collate "C"
    limit ${limit}`;
  return rows.map((row) => withTemplate(fromRow(row)));
}

/** Replaces the spec and next tick of a schedule (locked by the caller); updated_at is now. */
export async function updateScheduleSpec(sql: Sql, tenant: string, name: string, spec: ScheduleSpec, nextRunAt: Date | null): Promise<Schedule> {
  const [row] = await sql<ScheduleRow[]>`
    update spool.schedules s set
      cron = ${spec.cron ?? null}, interval_ms = ${spec.intervalMs ?? null}, time_zone = ${spec.timeZone},
      task = ${templateJson(spec.task)}::text::jsonb, catch_up = ${spec.catchUp}, catch_up_limit = ${spec.catchUpLimit},
      next_run_at = ${nextRunAt}, updated_at = now()
    where s.tenant = ${tenant} and s.name = ${name}
    returning ${sql.unsafe(scheduleColumns)}`;
  return withTemplate(fromRow(row!));
}

/** Pauses (next_run_at null) or resumes (next_run_at given) a schedule locked by the caller. */
export async function setPaused(sql: Sql, tenant: string, name: string, paused: boolean, nextRunAt: Date | null): Promise<Schedule> {
  const [row] = await sql<ScheduleRow[]>`
    update spool.schedules s set paused = ${paused}, next_run_at = ${paused ? null : nextRunAt}
    where s.tenant = ${tenant} and s.name = ${name}
    returning ${sql.unsafe(scheduleColumns)}`;
  return withTemplate(fromRow(row!));
}

/** Deletes the schedule (waiting for a tick in progress); false if there was none. */
export async function deleteSchedule(sql: Sql, tenant: string, name: string): Promise<boolean> {
  const rows = await sql`delete from spool.schedules s where s.tenant = ${tenant} and s.name = ${name} returning s.name`;
  return rows.length > 0;
}

/** A schedule this replica's ticker may not take for now (it failed lately). */
export interface ScheduleKey {
  tenant: string;
  name: string;
}

/**
 * The ticker's take: one due schedule (next_run_at <= now) of a kind in `kinds`, not in
 * `excluded`, locked FOR UPDATE SKIP LOCKED, earliest first; with the transaction's now.
 */
export async function lockDueSchedule(
  sql: Sql,
  kinds: readonly string[],
  excluded: readonly ScheduleKey[],
): Promise<{ schedule: Schedule; now: Date } | undefined> {
  const [row] = await sql<(ScheduleRow & { now: Date })[]>`
    select ${sql.unsafe(scheduleColumns)}, date_trunc('milliseconds', now()) as now from spool.schedules s
    where s.next_run_at <= now() and s.task->>'kind' = any(${kinds}::text[])
      ${excluded.length === 0 ? sql`` : sql`and (s.tenant, s.name) not in (select * from unnest(${excluded.map((k) => k.tenant)}::text[], ${excluded.map((k) => k.name)}::text[]))`}
    order by s.next_run_at
    limit 1
    for update skip locked`;
  if (!row) return undefined;
  const { now, ...schedule } = row;
  return { schedule: withTemplate(fromRow(schedule)), now };
}

/** Moves a fired schedule (locked by the caller) on: its next tick, and the last one fired if any. */
export async function advanceSchedule(sql: Sql, tenant: string, name: string, nextRunAt: Date | null, lastRunAt: Date | undefined): Promise<void> {
  await sql`
    update spool.schedules s set next_run_at = ${nextRunAt}, last_run_at = coalesce(${lastRunAt ?? null}::timestamptz, s.last_run_at)
    where s.tenant = ${tenant} and s.name = ${name}`;
}

/**
 * How many ms until the next schedule of a kind in `kinds` (not in `excluded`) is due, by the
 * database's clock: the ticker sleeps that long. Rounded up, so 0 or less means due now
 * (locked rows are seen too: a tick in progress elsewhere). Null when none is due at all.
 */
export async function nextDue(sql: Sql, kinds: readonly string[], excluded: readonly ScheduleKey[]): Promise<{ waitMs: number | null }> {
  const [row] = await sql<{ waitMs: number | null }[]>`
    select ceil(extract(epoch from (
      select min(s.next_run_at) from spool.schedules s
      where s.next_run_at is not null and s.task->>'kind' = any(${kinds}::text[])
        ${excluded.length === 0 ? sql`` : sql`and (s.tenant, s.name) not in (select * from unnest(${excluded.map((k) => k.tenant)}::text[], ${excluded.map((k) => k.name)}::text[]))`}
    ) - now()) * 1000)::float8 as "waitMs"`;
  return row!;
}

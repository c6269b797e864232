// Activity counters (spool.task_activity): attempts ended per (tenant, queue, minute) and
// outcome. Throughput and failure rate over time are read from here, never by counting
// spool.tasks, so a chart of the last hour costs the same with 10 rows in tasks or 10 million.
//
// addActivity: adds a replica's counts, in one statement for all its keys.
// Parameters: rows of (tenant, queue, minute, succeeded, failed, retried, cancelled); minute a
// whole minute. A key may appear more than once: its counts are summed first.
// Guarantees:
//   - counts add up: INSERT ... ON CONFLICT DO UPDATE adds each row to what is stored, so
//     replicas flushing the same keys, at once or one after the other, lose nothing and count
//     nothing twice (one statement, so all of a flush or none of it);
//   - rows are written in key order, so two replicas upserting overlapping keys at once wait
//     for each other at worst, and never deadlock;
//   - cost: one row per key (a replica holds a few per queue it ran tasks of in the last
//     flush interval), whatever the task rate.
//
// readActivity: the window of `minutes` whole minutes ending with the current one (by the
// database's clock, date_trunc('minute', now())), or with `lastMinute` when given, oldest
// first, one bucket per minute, minutes without a row as zeros.
// Parameters: tenant; queue (undefined: every queue of the tenant); minutes; lastMinute.
// Guarantees: exactly `minutes` buckets; one range scan of the primary key (one queue) or of
// task_activity_tenant_minute_idx (the whole tenant), reading only the window's rows.
//
// pruneActivity: deletes up to `limit` rows older than activityLimits.keepMs (by the
// database's clock) through task_activity_minute_idx; returns how many it deleted, so that a
// caller that gets `limit` back knows more are left.
import type { ActivityBucket, ActivityRow } from "../domain/activity.js";
import { activityLimits } from "../domain/activity.js";
import type { Sql } from "./database.js";

/** Adds the counts to what is stored (see the header). */
export async function addActivity(sql: Sql, rows: readonly ActivityRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (row: ActivityRow) => T) => rows.map(pick);
  await sql`
    insert into spool.task_activity as a (tenant, queue, minute, succeeded, failed, retried, cancelled)
    select tenant, queue, minute, sum(succeeded), sum(failed), sum(retried), sum(cancelled)
    from unnest(${column((r) => r.tenant)}::text[], ${column((r) => r.queue)}::text[],
      ${column((r) => r.minute.toISOString())}::timestamptz[], ${column((r) => r.succeeded)}::bigint[],
      ${column((r) => r.failed)}::bigint[], ${column((r) => r.retried)}::bigint[], ${column((r) => r.cancelled)}::bigint[])
      as r(tenant, queue, minute, succeeded, failed, retried, cancelled)
    group by tenant, queue, minute
    order by tenant, queue, minute
    on conflict (tenant, queue, minute) do update set
      succeeded = a.succeeded + excluded.succeeded,
      failed = a.failed + excluded.failed,
      retried = a.retried + excluded.retried,
      cancelled = a.cancelled + excluded.cancelled`;
}

/** The window's buckets, oldest first, zeros included (see the header). */
export async function readActivity(
  sql: Sql,
  tenant: string,
  queue: string | undefined,
  minutes: number,
  lastMinute?: Date,
): Promise<ActivityBucket[]> {
  return sql<ActivityBucket[]>`
    with w as (
      select date_trunc('minute', coalesce(${lastMinute?.toISOString() ?? null}::timestamptz, now())) as last
    ), w2 as (
      select last - (${minutes}::int - 1) * interval '1 minute' as first, last from w
    ), counted as (
      select a.minute, sum(a.succeeded) as succeeded, sum(a.failed) as failed, sum(a.retried) as retried,
        sum(a.cancelled) as cancelled
      from spool.task_activity a, w2
      where a.tenant = ${tenant} and (${queue === undefined} or a.queue = ${queue ?? ""})
        and a.minute between w2.first and w2.last
      group by a.minute
    )
    select m.minute as start, coalesce(c.succeeded, 0)::bigint as succeeded, coalesce(c.failed, 0)::bigint as failed,
      coalesce(c.retried, 0)::bigint as retried, coalesce(c.cancelled, 0)::bigint as cancelled
    from w2 cross join generate_series(w2.first, w2.last, interval '1 minute') as m(minute)
    left join counted c on c.minute = m.minute
    order by m.minute`;
}

/** Deletes up to `limit` rows past activityLimits.keepMs; returns how many (see the header). */
export async function pruneActivity(sql: Sql, limit = 10_000): Promise<number> {
  const deleted = await sql`
    delete from spool.task_activity
    where (tenant, queue, minute) in (
      select tenant, queue, minute from spool.task_activity
      where minute < now() - ${activityLimits.keepMs}::bigint * interval '1 millisecond'
      limit ${limit})`;
  return deleted.count;
}

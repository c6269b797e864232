// Retention statements: ended tasks, with their log lines, are deleted once they have been
// ended for longer than their queue keeps them (spool.queues.retention_ms; no row, or NULL:
// the default, SPOOL_RETENTION_MS). The sweeper (retention/) runs them in small batches.
//
// retentionHorizon: the id below which every deletable task lies. An ended task was created
//   before it ended, and its id (UUIDv7) holds its creation time; so a task that ended before
//   now - R was created before then too, and its id sorts below the first id of that
//   millisecond, for R the shortest retention of any queue. The scan then walks only the
//   part of an index that can hold candidates, however many tasks are kept. (Ids carry the
//   creating replica's clock: a replica ahead of the database only delays the deletion of
//   its tasks by as much.)
//
// deleteExpired: one batch, in one statement.
// Parameters: the ended state whose part of tasks_ended_state_idx (state, id) to walk; the
// range (after, before) of ids; the batch size; the default retention (null: keep the tasks
// of queues without their own); the most log lines the batch may delete.
// Guarantees:
//   - it reads at most `batch` index entries, the next ones after `after` in id order, so a
//     batch is bounded however many of them are kept (a queue with a longer retention, a task
//     created long ago that ended recently); `next` says where the following batch starts;
//   - of those, it deletes the tasks that ended before now - their queue's retention, each
//     with all its log lines (task_logs has no foreign key: the lines go in the same
//     statement, so none is ever left without its task), and nothing else: idempotency keys
//     are a column of the task, and go with it;
//   - it locks what it deletes FOR UPDATE SKIP LOCKED: sweepers of several replicas never
//     wait for each other, and each row is deleted once. Nothing else writes an ended task;
//   - it deletes at most `lineBudget` log lines: tasks are taken whole, in id order, while
//     their lines fit. A first task that alone has more loses its newest `lineBudget` lines,
//     and keeps its row (and `next` comes back to it) until its lines fit: a task is never
//     deleted before its last line.
// The line count of a task is read as its highest seq (one probe of the primary key), which
// is at least the count.
import { firstTaskIdAt } from "../domain/task-id.js";
import type { TaskState } from "../domain/task.js";
import type { Sql } from "./database.js";

export type EndedState = Extract<TaskState, "succeeded" | "failed" | "cancelled" | "dropped">;
export const endedStates: readonly EndedState[] = ["succeeded", "failed", "cancelled", "dropped"];

/** Below every task id. */
export const lowestTaskId = "00000000-0000-0000-0000-000000000000";

/**
 * The id below which every deletable task lies (see the header), by the database's clock;
 * undefined when no queue has a retention (the default is off, and no queue sets its own).
 */
export async function retentionHorizon(sql: Sql, defaultRetentionMs: number | null): Promise<string | undefined> {
  const [row] = await sql<{ nowMs: number; shortestMs: number | null }[]>`
    select (extract(epoch from now()) * 1000)::float8 as "nowMs",
      least((select min(retention_ms) from spool.queues), ${defaultRetentionMs}::bigint)::float8 as "shortestMs"`;
  if (row!.shortestMs === null) return undefined;
  return firstTaskIdAt(new Date(row!.nowMs - row!.shortestMs));
}

export interface ExpiredBatch {
  /** Index entries read (at most the batch size: fewer means the range is done). */
  scanned: number;
  /** Where the next batch starts (its `after`). */
  next: string;
  /** Whether ids of the range are left to read. */
  more: boolean;
  tasks: number;
  lines: number;
}

export interface ExpiredBatchOptions {
  state: EndedState;
  after: string;
  before: string;
  batch: number;
  defaultRetentionMs: number | null;
  lineBudget: number;
}

export async function deleteExpired(sql: Sql, o: ExpiredBatchOptions): Promise<ExpiredBatch> {
  if (!endedStates.includes(o.state)) throw new Error(`not an ended state: ${o.state}`);
  // The state is written into the statement, not sent as a parameter: only then can the
  // planner see that the partial index on ended tasks applies, in every plan it caches. The
  // range is a row comparison on (state, id), which only that index can serve: with `id > x`
  // the planner took the primary key, filtering on the state, which reads every row between
  // two of the state's (measured: 3 rows read per row wanted; without bound in a stretch of
  // other states, or of tasks pending since long ago).
  const state = sql.unsafe(`'${o.state}'::spool.task_state`);
  const [row] = await sql<{ scanned: number; last: string | null; held: string | null; beforeHeld: string | null; tasks: number; lines: number }[]>`
    with scanned as materialized (
      select id from spool.tasks
      where state = ${state} and (state, id) > (${state}, ${o.after}::uuid) and (state, id) < (${state}, ${o.before}::uuid)
      order by state, id limit ${o.batch}
    ), due as materialized (
      select t.id, (select coalesce(max(l.seq), 0) from spool.task_logs l where l.task_id = t.id) as lines
      from spool.tasks t
      join scanned s on s.id = t.id
      left join spool.queues q on q.tenant = t.tenant and q.name = t.queue
      where t.state = ${state}
        and t.finished_at < now() - coalesce(q.retention_ms, ${o.defaultRetentionMs}::bigint) * interval '1 millisecond'
      for update of t skip locked
    ), taken as materialized (
      select id, lines, sum(lines) over (order by id) as running from due
    ), held as materialized (
      -- The first task whose lines do not fit what the batch may still delete.
      select id, lines from taken where running > ${o.lineBudget} order by id limit 1
    ), whole as materialized (
      select id from taken where running <= ${o.lineBudget}
    ), trimmed as (
      delete from spool.task_logs l using held h
      where not exists (select 1 from whole) and l.task_id = h.id and l.seq > h.lines - ${o.lineBudget}
      returning 1
    ), lines_gone as (
      delete from spool.task_logs l using whole w where l.task_id = w.id returning 1
    ), tasks_gone as (
      delete from spool.tasks t using whole w where t.id = w.id returning 1
    )
    select
      (select count(*) from scanned)::int as scanned,
      (select id from scanned order by id desc limit 1) as last,
      (select id from held) as held,
      (select s.id from scanned s where s.id < (select id from held) order by s.id desc limit 1) as "beforeHeld",
      (select count(*) from tasks_gone)::int as tasks,
      ((select count(*) from lines_gone) + (select count(*) from trimmed))::int as lines`;
  const { scanned, last, held, beforeHeld, tasks, lines } = row!;
  // A held task is read again by the next batch: it starts just before it.
  if (held !== null) return { scanned, next: beforeHeld ?? o.after, more: true, tasks, lines };
  return { scanned, next: last ?? o.after, more: scanned === o.batch, tasks, lines };
}

// claimTasks: takes up to `limit` due tasks for this replica in one statement.
//
// Parameters: $1 limit, $2 owner (this replica's id), $3 kinds (those it has handlers for).
// Guarantees:
//   - only PENDING tasks whose run_at has passed (by the database clock) are taken, highest
//     priority first, then oldest run_at, then oldest id (the tasks_pending_claim_idx order);
//   - only tasks of the given kinds: in a rolling deploy that adds a kind, replicas that lack
//     its handler leave its tasks to those that have it, instead of failing their attempts;
//   - nothing is taken unless the owner's lease is live (spool.replicas): a replica that was
//     cut off and whose lease expired claims nothing until it has renewed it;
//   - FOR UPDATE SKIP LOCKED: replicas claiming at once never take the same task and never
//     wait for each other;
//   - each claimed task is RUNNING, owned by $2, with attempt incremented: the new attempt
//     number is the fencing token that every later write of this attempt must present;
//   - a `t:` notice with the claimed ids goes out in the same transaction (WatchTask);
//   - the rows come back in claim order (compareClaims).
import type { Sql } from "./database.js";
import { channel, idPayloads } from "./notify.js";

export interface ClaimedTask {
  id: string;
  kind: string;
  input: unknown;
  attempt: number;
  timeoutMs: number;
  priority: number;
  /** Epoch ms. */
  runAt: number;
  /** Highest log seq already stored for the task (lines of earlier attempts). */
  lastLogSeq: number;
}

/** Claim order: higher priority first, then earlier run_at, then older id. */
export function compareClaims(a: ClaimedTask, b: ClaimedTask): number {
  return b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export async function claimTasks(sql: Sql, limit: number, owner: string, kinds: readonly string[]): Promise<ClaimedTask[]> {
  // `id = any(array(...))`, not a join with the picked rows: the planner does not trust a
  // CTE's small row count and would hash-join it with a scan of the whole table.
  const claimed = await sql<ClaimedTask[]>`
    with claimed as (
      update spool.tasks t
      set state = 'running', attempt = t.attempt + 1, started_at = now(), owner = ${owner}
      where t.id = any(array(
        select id from spool.tasks
        where state = 'pending' and run_at <= now() and kind = any(${kinds as string[]}::text[])
          and exists (select 1 from spool.replicas r where r.id = ${owner} and r.expires_at > now())
        order by priority desc nulls last, run_at, id
        limit ${limit}
        for update skip locked
      ))
      returning t.id, t.kind, t.input, t.attempt, t.timeout_ms as "timeoutMs", t.priority,
        (extract(epoch from t.run_at) * 1000)::float8 as "runAt",
        -- Lines exist only if an earlier attempt ran (a failed one, or one given back at
        -- shutdown: both leave an entry in failures).
        case when t.attempt > 1 or t.failures <> '[]'::jsonb
          then (select coalesce(max(l.seq), 0) from spool.task_logs l where l.task_id = t.id)
          else 0
        end as "lastLogSeq"
    ), sent as (
      -- WatchTask followers, on any replica, learn that these tasks now run.
      select pg_notify(${channel}, payload) from (${idPayloads(sql, "t:", "claimed")}) p
    )
    select claimed.* from claimed, (select count(*) from sent) s`;
  // UPDATE ... RETURNING keeps no order.
  return claimed.sort(compareClaims);
}

/** When the next pending task of these kinds is due (epoch ms), or undefined when none is. */
export async function nextDueTime(sql: Sql, kinds: readonly string[]): Promise<number | undefined> {
  const [row] = await sql<{ at: number | null }[]>`
    select (extract(epoch from min(run_at)) * 1000)::float8 as at
    from spool.tasks where state = 'pending' and kind = any(${kinds as string[]}::text[])`;
  return row?.at ?? undefined;
}

/**
 * unclaimTasks: gives back claimed tasks that never started here (e.g. the local backlog at
 * shutdown): PENDING again, in their old place in the queue (run_at unchanged, so due at
 * once), and the attempt they had not used is returned.
 * Fenced like every attempt write: only tasks this owner still runs with these attempts.
 */
export async function unclaimTasks(sql: Sql, owner: string, claims: readonly { id: string; attempt: number }[]): Promise<void> {
  if (claims.length === 0) return;
  await sql`
    with v as (
      select * from json_to_recordset(${sql.json(claims as never)}::json) as v(id uuid, attempt int)
    ), upd as (
      update spool.tasks t set state = 'pending', attempt = t.attempt - 1, owner = null,
        started_at = case when t.attempt = 1 then null else t.started_at end
      from v where t.id = v.id and t.attempt = v.attempt and t.state = 'running' and t.owner = ${owner}
      returning t.id
    )
    select pg_notify(${channel}, 'w:' || (extract(epoch from now()) * 1000)::bigint) from upd limit 1`;
}

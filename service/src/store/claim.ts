// claimTasks: takes up to `limit` due tasks for this replica in one statement.
//
// Parameters: $1 limit, $2 owner (this replica's id), $3 kinds (those it has handlers for),
// $4 after: the tenant this replica served last (lastServed of its previous claim; "" at first).
// Guarantees:
//   - only PENDING tasks whose run_at has passed (by the database clock) are taken;
//   - tenants take turns: each tenant with due tasks offers its first ones (highest priority,
//     then oldest run_at, then oldest id: the tasks_pending_claim_idx order within a tenant),
//     and the claim takes every tenant's first task before any tenant's second. Within a
//     turn, tenants go in name order starting after `after`, so claims smaller than the
//     number of tenants (one free thread at a time) still go round all of them. A tenant
//     with a million pending tasks delays another's next task by one turn, not a million.
//     Priority orders a tenant's own tasks; it does not jump other tenants' turns;
//   - only tasks of the given kinds: in a rolling deploy that adds a kind, replicas that lack
//     its handler leave its tasks to those that have it, instead of failing their attempts;
//   - nothing is taken unless the owner's lease is live (spool.replicas): a replica that was
//     cut off and whose lease expired claims nothing until it has renewed it;
//   - FOR UPDATE SKIP LOCKED: replicas claiming at once never take the same task and never
//     wait for each other;
//   - each claimed task is RUNNING, owned by $2, with attempt incremented: the new attempt
//     number is the fencing token that every later write of this attempt must present;
//   - a `t:` notice with the claimed ids goes out in the same transaction (WatchTask);
//   - the rows come back in claim order (compareClaims) within each tenant.
// Cost: the tenants with pending tasks are found by skipping through the index's first
// column (one probe per tenant); each with a due task offers ceil(limit / such tenants)
// tasks, so a claim locks at most limit + tenants rows. With tenants of uneven backlogs a
// claim may take fewer than `limit` while more are due; the scheduler then claims again at
// once. (A tenant's tasks due later are read past in its part of the index, as they were in
// the global one before tenants: many future tasks at a high priority slow every claim.)
import type { Sql } from "./database.js";
import { channel, idPayloads } from "./notify.js";

export interface ClaimedTask {
  id: string;
  /** Whose task it is: the scheduler's backlog takes turns between tenants too. */
  tenant: string;
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

export async function claimTasks(
  sql: Sql,
  limit: number,
  owner: string,
  kinds: readonly string[],
  after = "",
): Promise<ClaimedTask[]> {
  // `id = any(array(...))`, not a join with the picked rows: the planner does not trust a
  // CTE's small row count and would hash-join it with a scan of the whole table.
  const claimed = await sql<ClaimedTask[]>`
    with recursive tenants as (
      -- A loose index scan: the first tenant with pending tasks, then the next after it...
      (select tenant from spool.tasks where state = 'pending' order by tenant limit 1)
      union all
      select (select p.tenant from spool.tasks p where p.state = 'pending' and p.tenant > tenants.tenant
              order by p.tenant limit 1)
      from tenants where tenants.tenant is not null
    ), due as (
      -- Those with a task to run now: a tenant whose tasks are all for later takes no share.
      select tenant from tenants
      where tenant is not null and exists (
        select 1 from spool.tasks d
        where d.state = 'pending' and d.tenant = tenants.tenant and d.run_at <= now()
          and d.kind = any(${kinds as string[]}::text[]))
    ), share as (
      select ceil(${limit}::float8 / greatest(count(*), 1))::int as n from due
    ), offered as (
      select o.id, due.tenant,
        row_number() over (partition by due.tenant order by o.priority desc nulls last, o.run_at, o.id) as turn
      from due, lateral (
        select id, priority, run_at from spool.tasks
        where state = 'pending' and tenant = due.tenant and run_at <= now()
          and kind = any(${kinds as string[]}::text[])
        order by priority desc nulls last, run_at, id
        limit (select n from share)
        for update skip locked
      ) o
      where exists (select 1 from spool.replicas r where r.id = ${owner} and r.expires_at > now())
    ), claimed as (
      update spool.tasks t
      set state = 'running', attempt = t.attempt + 1, started_at = now(), owner = ${owner}
      -- id = any(array(...)), not a join with the picked rows: the planner does not trust a
      -- CTE's small row count and would hash-join it with a scan of the whole table.
      where t.id = any(array(
        select id from offered order by turn, tenant <= ${after}, tenant limit ${limit}
      ))
      returning t.id, t.tenant, t.kind, t.input, t.attempt, t.timeout_ms as "timeoutMs", t.priority,
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

/**
 * The tenant served last by a claim made with `after`, to pass as the next claim's `after`:
 * the claim's order is by turn, then by tenant name from after `after` round to it, and a
 * tenant with n tasks in the claim had turns 1..n. So the last is, among the tenants with
 * the most tasks in the claim, the last in that rotation. `after` itself when none was claimed.
 */
export function lastServed(claimed: readonly { tenant: string }[], after: string): string {
  const counts = new Map<string, number>();
  for (const { tenant } of claimed) counts.set(tenant, (counts.get(tenant) ?? 0) + 1);
  const most = Math.max(0, ...counts.values());
  // Rotation position: tenants after `after` first, in name order, then the others.
  const later = (a: string, b: string) => (a > after) !== (b > after) ? b > after : a > b;
  let last: string | undefined;
  for (const [tenant, count] of counts) if (count === most && (last === undefined || later(tenant, last))) last = tenant;
  return last ?? after;
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

// Queues: a queue is a (tenant, name) pair. Its row in spool.queues is added when its first
// task is created (ensureQueues, once per replica and queue) and holds the settings that
// apply across the cluster: paused, concurrency_limit, key_concurrency_limit, retention.
//
// Changing settings (changeQueue) takes spool.queues in ACCESS EXCLUSIVE mode for the few
// ms of its transaction. Every claim reads spool.queues, so it holds ACCESS SHARE on it
// until it commits, and Postgres takes a statement's table locks before its snapshot. So:
//   - the change waits for the claims in flight, which decided under the old settings;
//   - a claim that starts meanwhile waits for the change and then reads the new settings;
// and once changeQueue returns, no claim anywhere starts a task under the old settings: a
// paused queue starts nothing more, and a new or lower limit holds for every later start.
// (Tasks already running are not touched: they finish.)
import { queueCountCap, type Queue, type QueueChange, type QueuePage } from "../domain/queue.js";
import type { Pool, Sql } from "./database.js";
import { notifyQueuesChanged } from "./notify.js";

/** Adds the rows of queues that have none yet. */
export async function ensureQueues(sql: Sql, queues: readonly { tenant: string; name: string }[]): Promise<void> {
  if (queues.length === 0) return;
  await sql`
    insert into spool.queues (tenant, name)
    select * from unnest(${queues.map((q) => q.tenant)}::text[], ${queues.map((q) => q.name)}::text[])
    on conflict do nothing`;
}

/**
 * A page of the queues of `tenant` (every tenant's when undefined) in (tenant, name) order,
 * with their depth; only the one of that name when `name` is given. Each figure is a bounded
 * read: the counts stop at queueCountCap, the running count reads the running set, and the
 * oldest due task is found with one probe per priority level (tasks_pending_claim_idx is in
 * run_at order within a level; a min() over the queue read every pending task).
 */
export async function listQueues(
  sql: Sql,
  tenant: string | undefined,
  options: { name?: string; page?: QueuePage } = {},
): Promise<Queue[]> {
  const { name, page } = options;
  const after = page?.after;
  return sql<Queue[]>`
    select q.tenant, q.name, q.paused, q.concurrency_limit as "concurrencyLimit",
      q.key_concurrency_limit as "keyConcurrencyLimit", q.retention_ms as "retentionMs",
      (select count(*) from (select 1 from spool.tasks t where t.state = 'pending' and t.tenant = q.tenant
        and t.queue = q.name and t.run_at <= now() limit ${queueCountCap}) c)::int as pending,
      (select count(*) from (select 1 from spool.tasks t where t.state = 'pending' and t.tenant = q.tenant
        and t.queue = q.name and t.run_at > now() limit ${queueCountCap}) c)::int as scheduled,
      (select count(*) from spool.tasks t where t.state = 'running' and t.tenant = q.tenant and t.queue = q.name)::int as running,
      coalesce((
        with recursive levels(priority) as (
          (select t.priority from spool.tasks t where t.state = 'pending' and t.tenant = q.tenant and t.queue = q.name
           order by t.priority desc nulls last limit 1)
          union all
          select (select t.priority from spool.tasks t
                  where t.state = 'pending' and t.tenant = q.tenant and t.queue = q.name and t.priority < l.priority
                  order by t.priority desc nulls last limit 1)
          from levels l where l.priority is not null
        )
        select extract(epoch from now() - min(first.run_at)) * 1000 from levels l cross join lateral (
          select t.run_at from spool.tasks t
          where t.state = 'pending' and t.tenant = q.tenant and t.queue = q.name and t.priority = l.priority
            and t.run_at <= now()
          order by t.run_at limit 1) first
      ), 0)::float8 as "oldestPendingAgeMs"
    from spool.queues q
    where (${tenant === undefined} or q.tenant = ${tenant ?? ""}) and (${name === undefined} or q.name = ${name ?? ""})
      and (${after === undefined} or (q.tenant, q.name) > (${after?.tenant ?? ""}, ${after?.name ?? ""}))
    order by q.tenant, q.name
    limit ${page?.limit ?? 1}`;
}

/** One queue with its depth; undefined if it has no row. */
export async function getQueue(sql: Sql, tenant: string, name: string): Promise<Queue | undefined> {
  const [queue] = await listQueues(sql, tenant, { name });
  return queue;
}

/**
 * Applies the change to the queue (adding its row if it has none) and tells every replica.
 * Once it returns, every claim decides under the new settings (see the header).
 */
export async function changeQueue(sql: Pool, tenant: string, name: string, change: QueueChange): Promise<void> {
  const set = (key: keyof QueueChange) => change[key] !== undefined;
  await sql.begin(async (tx) => {
    await tx`lock table spool.queues in access exclusive mode`;
    await tx`
      insert into spool.queues as q (tenant, name, paused, concurrency_limit, key_concurrency_limit, retention_ms)
      values (${tenant}, ${name}, ${change.paused ?? false}, ${change.concurrencyLimit ?? null},
        ${change.keyConcurrencyLimit ?? null}, ${change.retentionMs ?? null})
      on conflict (tenant, name) do update set
        paused = case when ${set("paused")} then excluded.paused else q.paused end,
        concurrency_limit = case when ${set("concurrencyLimit")} then excluded.concurrency_limit else q.concurrency_limit end,
        key_concurrency_limit = case when ${set("keyConcurrencyLimit")} then excluded.key_concurrency_limit else q.key_concurrency_limit end,
        retention_ms = case when ${set("retentionMs")} then excluded.retention_ms else q.retention_ms end,
        updated_at = now()`;
    await notifyQueuesChanged(tx);
  });
}

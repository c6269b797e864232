// claimTasks: takes up to `limit` due tasks for this replica in one statement.
//
// Parameters (ClaimRequest): limit; owner (this replica's id); kinds (those it has handlers
// for); after (the tenant this replica served last: lastServed of its previous claim; "" at
// first); queues (the queues it serves, SPOOL_QUEUES; undefined: all); aged and agingMs
// (priority aging, below). The limited queues it may take from are those whose spool.queues
// rows this transaction locked before it (lockLimitedQueues, which names them in the
// transaction's setting spool.claim_locked); outside such a transaction, none.
// Guarantees:
//   - only PENDING tasks whose run_at has passed (by the database clock) are taken, of the
//     given kinds (a replica without a kind's handler leaves its tasks to those with it), in
//     the queues it serves, and none of a paused queue;
//   - tenants take turns: each tenant with due tasks offers its first ones and the claim takes
//     every tenant's first task before any tenant's second. Within a turn, tenants go in name
//     order starting after `after`, so claims smaller than the number of tenants (one free
//     thread at a time) still go round all of them. A tenant with a million pending tasks
//     delays another's next task by one turn, not a million;
//   - within a tenant, its queues take turns the same way (in an order drawn at random for
//     each claim, so one-at-a-time claims reach every queue); within a queue, tasks go by
//     priority, then run_at, then id (tasks_pending_claim_idx). Priority never jumps queues
//     or tenants;
//   - priority aging (ClaimRequest.aged, agingMs): a task that has waited agingMs past its
//     run_at is aged, and each queue's share gives up to `aged` places to aged tasks first,
//     oldest first (the oldest due task of each priority level, one probe each); the rest go
//     by priority. With a tenth of every claim aged (agedShare), a flood of higher priorities
//     slows a task but never holds it back forever: aged tasks leave in the order they came;
//   - concurrency limits hold across the cluster: a queue with concurrency_limit N never has
//     more than N tasks RUNNING (claimed and not ended, wherever: a task waiting in a
//     replica's local backlog counts), and with key_concurrency_limit K never more than K
//     running with one concurrency_key. A limited
//     queue is claimed from only in a transaction that holds its row (lockLimitedQueues, a
//     statement before this one), so claims of one limited queue are serial, and this
//     statement's snapshot, taken after that lock, sees every task claimed before. Running
//     tasks of a crashed replica count until they are taken back, so a crash never frees
//     room early. A key-limited queue is read at most keyLookahead (64 + 4n) tasks deep for
//     keys with room: behind a longer run of one key at its limit, other keys wait;
//   - nothing is taken unless the owner's lease is live (spool.replicas);
//   - FOR UPDATE SKIP LOCKED: replicas claiming at once never take the same task and never
//     wait for each other;
//   - each claimed task is RUNNING, owned by the owner, with attempt incremented: the new
//     attempt number is the fencing token that every later write of this attempt must present;
//   - it sends no notice: the caller announces the claimed ids once committed (Claimer, for
//     WatchTask followers; notify.ts says why);
//   - `more` is true when some queue offered all the tasks its share allowed: more may be due;
//     `held` when a limited queue kept due tasks back; `limitedDue` when a limited queue this
//     claim could not take from has a task due; `nextDueAt` when the next one comes due.
// Cost: (tenant, queue) pairs with pending tasks are found by skipping through the first two
// columns of tasks_pending_claim_idx (one probe per pair), and each pair's priority levels by
// skipping through the third (one probe per level). Within a level the index is in run_at
// order, so a queue's due tasks are a range of it: tasks due later are never read, however
// many (100,000 future tasks cost a claim 43 ms when they were). Each pair with a due task
// offers its share from each level, so a claim locks at most (limit + pairs) * levels rows
// (plus the lookahead of key-limited queues). Running tasks of limited queues are counted
// from the running set, which is at most the cluster's threads. The next due time is one
// probe per level of the served queues, so future tasks of other queues are never read.
// Plan: made once per connection (database.ts, plannedOnceSettings), and claim-plan.test.ts checks
// that a plan made on an empty table stays bounded on a full one.
import type { Sql } from "./database.js";
import { channel } from "./notify.js";

export interface ClaimedTask {
  id: string;
  /** Whose task it is: the scheduler's backlog takes turns between tenants too. */
  tenant: string;
  queue: string;
  kind: string;
  input: unknown;
  attempt: number;
  timeoutMs: number;
  priority: number;
  /** Epoch ms. */
  runAt: number;
  /** Highest log seq already stored for the task (lines of earlier attempts). */
  lastLogSeq: number;
  /** The creating call's trace context, if it was traced. */
  traceparent: string | null;
}

/** Claim order: higher priority first, then earlier run_at, then older id. */
export function compareClaims(a: ClaimedTask, b: ClaimedTask): number {
  return b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface ClaimRequest {
  limit: number;
  owner: string;
  kinds: readonly string[];
  after?: string;
  queues?: readonly string[];
  /** How many of each queue's share go to aged tasks first (agedShare); default 0. */
  aged?: number;
  /** A task that has waited this long past its run_at is aged. */
  agingMs?: number;
}

/** SPOOL_PRIORITY_AGING_MS's default. */
export const defaultAgingMs = 60_000;

/** The fraction of claimed tasks that go to aged tasks first. */
export const agedFraction = 0.1;

/**
 * The aged share of a claim of `limit`: a tenth of it, with the remainder drawn at random,
 * so that over many claims (even of one task each) a tenth of the tasks claimed are aged ones.
 */
export function agedShare(limit: number, random = Math.random()): number {
  const exact = limit * agedFraction;
  return Math.floor(exact) + (random < exact - Math.floor(exact) ? 1 : 0);
}

export interface QueueKey {
  tenant: string;
  name: string;
}

export interface Claim {
  tasks: ClaimedTask[];
  /** Some queue gave all its share: claiming again may find more due. */
  more: boolean;
  /**
   * A limited queue kept due tasks back (no room left, or keys at their limit): claim again
   * once a task ends.
   */
  held: boolean;
  /** A limited queue whose row this claim did not lock has a task due (lockLimitedQueues). */
  limitedDue: boolean;
  /**
   * When the next pending task of the queues this claim could take from comes due (epoch ms),
   * if any is due later. Tasks due already but not taken (locked by another claim, a queue at
   * its limit, a key at its limit) are not a reason to claim again: a task ending, a queue
   * change, or the poll interval is.
   */
  nextDueAt: number | undefined;
}

/** How deep a key-limited queue is read for tasks whose key has room, when n are wanted: base + n * perTask. */
const keyLookahead = { base: 64, perTask: 4 };

type ClaimRow = ClaimedTask & { more: boolean; held: boolean; limitedDue: boolean; nextDueAt: number | null };

export async function claimTasks(sql: Sql, request: ClaimRequest): Promise<Claim> {
  return claimFromRows(await claimQuery(sql, request));
}

/** The claim statement, not yet run: to pipeline it after lockLimitedQueues in one transaction. */
export function claimQuery(sql: Sql, request: ClaimRequest) {
  const { limit, owner, after = "", queues, aged = 0, agingMs = defaultAgingMs } = request;
  const kinds = request.kinds as string[];
  return sql<ClaimRow[]>`
    with recursive units as (
      -- A loose index scan: the first (tenant, queue) with pending tasks, then the next...
      (select tenant, queue from spool.tasks where state = 'pending' order by tenant, queue limit 1)
      union all
      select n.tenant, n.queue from units u cross join lateral (
        select p.tenant, p.queue from spool.tasks p
        where p.state = 'pending' and (p.tenant, p.queue) > (u.tenant, u.queue)
        order by p.tenant, p.queue limit 1) n
    ), served as (
      -- The queues this replica serves that are not paused; takeable unless limited and not
      -- held by this transaction.
      select u.tenant, u.queue, q.concurrency_limit as lim, q.key_concurrency_limit as key_lim,
        (q.concurrency_limit is null and q.key_concurrency_limit is null)
          or (u.tenant, u.queue) in (select k->>0, k->>1
                from json_array_elements(nullif(current_setting('spool.claim_locked', true), '')::json) k) as takeable,
        -- The priority levels of the queue's pending tasks, highest first, by skipping through
        -- tasks_pending_claim_idx (one probe each). Carried with the queue as an array, so
        -- that its share (offered) walks its own levels: a scan of every queue's levels per
        -- share made a claim over 1,000 limited queues take 275 ms.
        array(
          with recursive plevels(priority) as (
            (select t.priority from spool.tasks t
             where t.state = 'pending' and t.tenant = u.tenant and t.queue = u.queue
             order by t.priority desc nulls last limit 1)
            union all
            select (select t.priority from spool.tasks t
                    where t.state = 'pending' and t.tenant = u.tenant and t.queue = u.queue and t.priority < l.priority
                    order by t.priority desc nulls last limit 1)
            from plevels l where l.priority is not null
          )
          select priority from plevels where priority is not null
        ) as prios
      from units u left join spool.queues q on q.tenant = u.tenant and q.name = u.queue
      where not coalesce(q.paused, false)
        and (${queues === undefined} or u.queue = any(${(queues ?? []) as string[]}::text[]))
    ), settings as (
      -- The queues this replica may take from now.
      select tenant, queue, lim, key_lim, prios from served where takeable
    ), levels as (
      -- Each served queue's priority levels, a row each. Within a level the index is in run_at
      -- order, so "due now" is a range of it: a queue's tasks due later are never read past.
      select s.tenant, s.queue, lv.priority from served s cross join lateral unnest(s.prios) as lv(priority)
    ), due as (
      -- The served queues with a task of these kinds due now: a range of one of their levels.
      -- A lateral probe with LIMIT, which the planner keeps per level (an EXISTS it turned
      -- into a semi-join over the whole table: 80 ms with 100,000 future tasks).
      select distinct l.tenant, l.queue from levels l cross join lateral (
        select 1 from spool.tasks d
        where d.state = 'pending' and d.tenant = l.tenant and d.queue = l.queue and d.priority = l.priority
          and d.run_at <= now() and d.kind = any(${kinds}::text[])
        -- In index order, so the planner walks the level's range rather than the table
        -- (it believes many rows match and a sequential scan finds one sooner).
        order by d.run_at, d.id
        limit 1
      ) hit
    ), running as (
      -- Running tasks of the limited queues, by key: at most the cluster's threads.
      select r.tenant, r.queue, r.concurrency_key as key, count(*)::int as n
      from spool.tasks r
      where r.state = 'running'
        and (r.tenant, r.queue) in (select tenant, queue from settings where lim is not null or key_lim is not null)
      group by 1, 2, 3
    ), open as (
      -- Those with a task to run now, and room for it.
      select s.*, s.lim - coalesce((select sum(r.n) from running r where r.tenant = s.tenant and r.queue = s.queue), 0)::int as free
      from settings s
      where (s.tenant, s.queue) in (select tenant, queue from due)
    ), room as (
      select * from open where free is null or free > 0
    ), shares as (
      -- Each tenant's share of the claim, split between its queues, within their room.
      select r.tenant, r.queue, r.lim, r.key_lim, r.free, r.prios,
        least(
          ceil(ceil(${limit}::float8 / (select count(distinct tenant) from room)) / count(*) over (partition by r.tenant)),
          coalesce(r.free, ${limit}::int)
        )::int as n
      from room r
    ), offered as (
      select c.id, s.tenant, s.queue, s.n, s.lim, s.key_lim, s.free,
        count(*) over (partition by s.tenant, s.queue) as offered_n,
        row_number() over (partition by s.tenant, s.queue order by c.aged desc, c.priority desc nulls last, c.run_at, c.id) as qturn
      from shares s cross join lateral (
        select k.id, k.priority, k.run_at, k.aged from (
          select w.*, row_number() over (partition by w.concurrency_key
              order by w.aged desc, w.priority desc nulls last, w.run_at, w.id) as key_turn
          from (
            -- A task both aged and among the first by priority counts once, as aged.
            select distinct on (u.id) u.* from (
              select * from (
                -- Aged: the oldest due task of each priority level that has waited past
                -- agingMs, oldest first, up to the claim's aged share (priority aging).
                select head.id, head.priority, head.run_at, head.concurrency_key, true as aged
                from unnest(s.prios) as l(priority) cross join lateral (
                  select t.id, t.priority, t.run_at, t.concurrency_key from spool.tasks t
                  where t.state = 'pending' and t.tenant = s.tenant and t.queue = s.queue and t.priority = l.priority
                    and t.run_at <= now() - ${agingMs}::int * interval '1 millisecond' and t.kind = any(${kinds}::text[])
                  order by t.run_at, t.id limit 1
                  for update skip locked
                ) head
                where ${aged}::int > 0
                order by head.run_at, head.id
                limit least(${aged}::int, s.n)
              ) aged_heads
              union all
              select * from (
                -- By priority: each level's due tasks in run_at order, levels from the top.
                select c.id, c.priority, c.run_at, c.concurrency_key, false as aged
                from unnest(s.prios) as l(priority) cross join lateral (
                  select t.id, t.priority, t.run_at, t.concurrency_key from spool.tasks t
                  where t.state = 'pending' and t.tenant = s.tenant and t.queue = s.queue and t.priority = l.priority
                    and t.run_at <= now() and t.kind = any(${kinds}::text[])
                  order by t.run_at, t.id
                  limit case when s.key_lim is null then s.n else ${keyLookahead.base}::int + s.n * ${keyLookahead.perTask}::int end
                  for update skip locked
                ) c
                order by c.priority desc, c.run_at, c.id
                limit case when s.key_lim is null then s.n else ${keyLookahead.base}::int + s.n * ${keyLookahead.perTask}::int end
              ) by_priority
            ) u
            order by u.id, u.aged desc
          ) w
        ) k
        where s.key_lim is null or k.concurrency_key is null
          or k.key_turn + coalesce((select r.n from running r
                where r.tenant = s.tenant and r.queue = s.queue and r.key = k.concurrency_key), 0) <= s.key_lim
        order by k.aged desc, k.priority desc nulls last, k.run_at, k.id
        limit s.n
      ) c
      where s.n > 0 and exists (select 1 from spool.replicas r where r.id = ${owner} and r.expires_at > now())
    ), turns as (
      -- A tenant's queues take turns: its k-th task is the k-th in (queue turn, queue) order.
      select id, tenant, queue, n, qturn,
        row_number() over (partition by tenant order by qturn, md5(queue || ${String(Math.random())}::text)) as turn
      from offered
    ), picked as (
      select id from turns order by turn, tenant <= ${after}::text, tenant limit ${limit}::int
    ), claimed as (
      update spool.tasks t
      set state = 'running', attempt = t.attempt + 1, started_at = now(), owner = ${owner}
      -- id = any(array(...)), not a join with the picked rows: the planner does not trust a
      -- CTE's small row count and would hash-join it with a scan of the whole table.
      where t.id = any(array(select id from picked))
      returning t.id, t.tenant, t.queue, t.kind, t.input, t.traceparent, t.attempt, t.timeout_ms as "timeoutMs", t.priority,
        (extract(epoch from t.run_at) * 1000)::float8 as "runAt",
        -- Lines exist only if an earlier attempt ran (a failed one, or one given back at
        -- shutdown: both leave an entry in failures).
        case when t.attempt > 1 or t.failures <> '[]'::jsonb
          then (select coalesce(max(l.seq), 0) from spool.task_logs l where l.task_id = t.id)
          else 0
        end as "lastLogSeq"
    )
    select claimed.*,
      -- More may be due: some queue offered its whole share, or more was offered than taken.
      (select count(*) from offered) > ${limit}::int
        or exists (select 1 from offered o group by o.tenant, o.queue, o.n having count(*) >= o.n) as more,
      -- A limited queue kept tasks back: it used all its room, or keys at their limit held
      -- some back. Its next task can start when one of its running tasks ends.
      -- Three cases, each one pass (counting offered once per open queue took 80 ms over
      -- 1,000 limited queues): a queue already at its limit (no room at all); a queue whose
      -- offers used all its room, or were held back by keys; a queue with a share whose keys
      -- held every task back (nothing offered).
      exists (select 1 from open o where o.lim is not null and o.free <= 0)
        or exists (select 1 from offered f
          where (f.lim is not null and f.free <= f.offered_n) or (f.key_lim is not null and f.offered_n < f.n))
        or exists (select 1 from shares sh where sh.key_lim is not null and sh.n > 0
          and (sh.tenant, sh.queue) not in (select o.tenant, o.queue from offered o)) as held,
      -- A limited queue this claim could not take from (its row not locked here) has a task
      -- due: the next claim should be one that locks the limited queues (Claimer).
      exists (select 1 from served s where not s.takeable and (s.tenant, s.queue) in (select tenant, queue from due)) as "limitedDue",
      -- When the next task of the queues considered comes due (by this statement's clock, so
      -- that a task due a moment after it is not missed): the time to claim again. The first
      -- future task of each level of the served queues, a limited one not locked here included
      -- (its task coming due is a reason to claim, with the locks): one probe per level, in
      -- run_at order within it, so the future tasks of queues this replica does not serve, or
      -- that are paused, are never read (a scan of all pending tasks in run_at order read
      -- 100,000 of them when it was planned for an empty table).
      (select extract(epoch from min(nx.run_at)) * 1000 from levels l cross join lateral (
        select f.run_at from spool.tasks f
        where f.state = 'pending' and f.tenant = l.tenant and f.queue = l.queue and f.priority = l.priority
          and f.run_at > now() and f.kind = any(${kinds}::text[])
        -- run_at alone: with id too, the tasks sharing the first run_at were all read and
        -- sorted (100,000 due at the same instant: 33 ms).
        order by f.run_at
        limit 1
      ) nx)::float8 as "nextDueAt"
    -- One row even when nothing was claimed, for more and nextDueAt.
    from (select 1) one left join claimed on true`;
}

/** The Claim of the claim statement's rows. */
export function claimFromRows(rows: readonly ClaimRow[]): Claim {
  const [first] = rows;
  const tasks: ClaimedTask[] = rows
    .filter((row) => row.id !== null)
    .map(({ more: _, held: __, limitedDue: ___, nextDueAt: ____, ...task }) => task);
  // UPDATE ... RETURNING keeps no order.
  tasks.sort(compareClaims);
  return {
    tasks,
    more: first?.more ?? false,
    held: first?.held ?? false,
    limitedDue: first?.limitedDue ?? false,
    nextDueAt: first?.nextDueAt ?? undefined,
  };
}

/**
 * Locks the rows of the limited, unpaused queues no other claim holds, and names them in the
 * transaction's setting spool.claim_locked, which the claim that follows in the same
 * transaction reads: claims of one limited queue are serial. A statement of its own, before
 * the claim, because the claim's snapshot must be taken after the locks are held; the two can
 * still be sent together (pipelined), since the claim needs nothing back from this one.
 */
export function lockLimitedQueues(tx: Sql, queues: readonly string[] | undefined) {
  return tx`
    select set_config('spool.claim_locked', coalesce(json_agg(json_build_array(l.tenant, l.name))::text, '[]'), true)
    from (
      select tenant, name from spool.queues
      where (concurrency_limit is not null or key_concurrency_limit is not null) and not paused
        and (${queues === undefined} or name = any(${(queues ?? []) as string[]}::text[]))
      for update skip locked
    ) l`;
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

// Leases (the spool.replicas table): a replica owns its running attempts only while its row
// has not expired. All times are the database's clock.
//
// renewLease: creates or extends this replica's row. It says whether the row had to be
//   created: after the first call, that means a reaper had taken the row, and with it every
//   attempt this replica was running. It also returns the running attempts of this replica
//   whose cancel was requested: a `c:` notice can be missed (a reconnect, a dropped
//   connection), and this re-read bounds how long such a cancel waits to one renewal. And it
//   returns the attempts recorded as this replica's that started more than `staleAfterMs`
//   ago, for the replica to check against what it really runs: a claim whose reply was lost
//   (the primary failed between commit and answer) leaves tasks RUNNING under a live lease
//   that no thread runs, and nothing else would ever take them back.
// reapExpiredLeases: deletes expired rows and takes back every RUNNING task whose owner has
//   no live row (expired, deleted, or never there), in one statement:
//   - fencing: each task goes back with owner = null, so nothing the old owner writes for
//     that attempt is accepted any more (record-attempts.ts matches attempt and owner);
//   - next state from spool.next_state('lost', ...): PENDING if attempts remain (in its old
//     place in the queue after a first lost attempt, then after the retry backoff), else
//     DROPPED; CANCELLED if a cancel was requested. The attempt's error ({ type:
//     LeaseExpired }) is stored and appended to failures;
//   - rows being written right now are skipped (SKIP LOCKED) and seen by the next pass;
//     reapers of several replicas never take the same task twice;
//   - the `t:` and `w:` wake-ups go out in the same transaction.
import type { ReplicaRecord, ReplicaView } from "../domain/replica-view.js";
import { failureTypes } from "../domain/task.js";
import type { Sql } from "./database.js";
import { channel, idPayloads } from "./notify.js";

export interface Renewal {
  /** The row had to be (re)created. */
  created: boolean;
  /** Tasks this replica runs whose cancel was requested. */
  cancelRequested: string[];
  /** Attempts recorded as this replica's that started more than staleAfterMs ago. */
  owned: { id: string; attempt: number }[];
}

/** Creates or renews the lease (see the header). */
export async function renewLease(
  sql: Sql,
  replica: { id: string; name: string },
  ttlMs: number,
  staleAfterMs = ttlMs,
  /** What the replica says of itself (spool.replicas.view); undefined: left as it is. */
  view?: ReplicaView,
): Promise<Renewal> {
  const viewJson = view === undefined ? null : JSON.stringify(view);
  const [row] = await sql<Renewal[]>`
    with renewed as (
      insert into spool.replicas (id, name, expires_at, view)
      values (${replica.id}, ${replica.name}, now() + ${ttlMs} * interval '1 millisecond', coalesce(${viewJson}::text::jsonb, '{}'))
      on conflict (id) do update set renewed_at = now(), expires_at = excluded.expires_at,
        view = coalesce(${viewJson}::text::jsonb, spool.replicas.view)
      returning (xmax = 0) as created
    )
    select created,
      array(
        select id::text from spool.tasks where state = 'running' and owner = ${replica.id} and cancel_requested
      ) as "cancelRequested",
      coalesce((
        select json_agg(json_build_object('id', id, 'attempt', attempt)) from spool.tasks
        where state = 'running' and owner = ${replica.id} and started_at < now() - ${staleAfterMs} * interval '1 millisecond'
      ), '[]') as owned
    from renewed`;
  return row!;
}

/**
 * Every replica with a row, live or lost (its lease expired, or two renewals late, and not
 * reaped yet), in name order, with what it last said of itself.
 */
export async function listReplicas(sql: Sql): Promise<ReplicaRecord[]> {
  const rows = await sql<(Omit<ReplicaRecord, "view"> & { view: Partial<ReplicaView> })[]>`
    select id, name, view,
      (extract(epoch from started_at) * 1000)::float8 as "startedAt",
      (extract(epoch from renewed_at) * 1000)::float8 as "renewedAt",
      (extract(epoch from expires_at) * 1000)::float8 as "expiresAt",
      expires_at <= now()
        or renewed_at < now() - 2 * coalesce((view->>'renewMs')::float8, 0) * interval '1 millisecond'
          and view ? 'renewMs' as lost
    from spool.replicas
    order by name, id`;
  return rows.map((row) => ({ ...row, view: row.view.version === undefined ? undefined : (row.view as ReplicaView) }));
}

/** Gives the lease up (clean shutdown): whatever this replica still owns is reaped at once. */
export async function releaseLease(sql: Sql, id: string): Promise<void> {
  await sql`delete from spool.replicas where id = ${id}`;
}

export interface ReapedTask {
  id: string;
  state: string;
  attempt: number;
  /** The replica that lost it, when its row still said who it was. */
  lostBy: string | null;
}

export async function reapExpiredLeases(sql: Sql): Promise<ReapedTask[]> {
  return sql<ReapedTask[]>`
    with expired as (
      delete from spool.replicas where expires_at < now() returning id
    ), lost as (
      -- The statement's snapshot still sees the rows deleted above: their expiry tells.
      select t.id, r.name as "lostBy", case
          when t.cancel_requested then jsonb_build_object('type', 'Cancelled', 'message', coalesce(t.cancel_reason, 'cancelled'))
          else jsonb_build_object('type', ${failureTypes.leaseExpired}::text, 'message',
            case when r.id is null then 'the replica running the attempt is gone (its lease expired)'
            else format('replica %s stopped renewing its lease (last renewed %s)', r.name, r.renewed_at) end)
        end as error
      from spool.tasks t
      left join spool.replicas r on r.id = t.owner
      where t.state = 'running' and (r.id is null or r.expires_at < now())
      for update of t skip locked
    ), reaped as (
      update spool.tasks t set
        state = spool.next_state('lost', t.cancel_requested, t.attempt, t.max_attempts),
        error = lost.error,
        failures = t.failures || spool.failure_entry(t.attempt, lost.error),
        owner = null,
        finished_at = case when spool.next_state('lost', t.cancel_requested, t.attempt, t.max_attempts) = 'pending'
          then null else now() end,
        -- A first lost attempt is retried at once, in its old place in the queue (run_at
        -- unchanged): it was due, and recovery should not send it behind every task created
        -- since. Later ones back off, so that a task that takes its replica down with it
        -- cannot crash one replica after another in a tight loop.
        run_at = case when spool.next_state('lost', t.cancel_requested, t.attempt, t.max_attempts) <> 'pending' then t.run_at
          when t.attempt = 1 then t.run_at
          else now() + spool.retry_delay(t.attempt - 1, t.backoff) end
      from lost
      where t.id = lost.id and t.state = 'running'
      returning t.id, t.state, t.attempt, lost."lostBy", t.run_at
    ), notices as (
      ${idPayloads(sql, "t:", "reaped")}
      union all
      select 'w:' || (extract(epoch from min(run_at)) * 1000)::bigint from reaped where state = 'pending' having count(*) > 0
    ), sent as (
      select pg_notify(${channel}, payload) from notices
    )
    select id, state, attempt, "lostBy", (select count(*) from sent) as notified from reaped`;
}

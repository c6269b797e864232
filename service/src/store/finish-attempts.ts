// finishAttempts: records the outcome of a batch of attempts in one statement.
//
// Parameters: $1 the outcomes as a JSON array, $2 owner (this replica's id).
// Guarantees:
//   - fencing: an outcome is applied only if the task is still RUNNING the same attempt for
//     the same owner; a late outcome of a lost attempt changes nothing (it is not returned);
//   - the rows are locked while the next state is decided, so a concurrent CancelTask is
//     either seen (the task ends CANCELLED) or waits;
//   - next state: succeeded -> SUCCEEDED; cancelled, or any other outcome of a task whose
//     cancel was requested -> CANCELLED (error carries the reason); failed or interrupted
//     with attempts left -> PENDING (failed: after exponential backoff with jitter,
//     1 s * 2^(attempt-1) +-25%, at most 1 h; interrupted: at once); no attempts left ->
//     FAILED, or DROPPED when interrupted (the service stopped, not the handler);
//   - result is kept only on success, error only when not successful.
import type { TaskError, TaskState } from "../domain/task.js";
import type { Sql } from "./database.js";

export type AttemptOutcome = "succeeded" | "failed" | "cancelled" | "interrupted";

export interface AttemptFinish {
  id: string;
  attempt: number;
  outcome: AttemptOutcome;
  result?: unknown;
  error?: TaskError | undefined;
}

export interface FinishedTask {
  id: string;
  state: TaskState;
  /** Epoch ms of run_at: when it is due again, if it went back to pending. */
  runAt: number;
}

export async function finishAttempts(sql: Sql, owner: string, finishes: readonly AttemptFinish[]): Promise<FinishedTask[]> {
  const rows = finishes.map((f) => ({
    id: f.id,
    attempt: f.attempt,
    outcome: f.outcome,
    result: f.result ?? null,
    error: f.error ?? null,
  }));
  return sql<FinishedTask[]>`
    with v as (
      select * from json_to_recordset(${sql.json(rows as never)}::json)
        as v(id uuid, attempt int, outcome text, result jsonb, error jsonb)
    ), plan as (
      select t.id, t.attempt, t.cancel_reason, v.result, v.error, v.outcome = 'interrupted' as interrupted,
        case
          when v.outcome = 'succeeded' then 'succeeded'
          when v.outcome = 'cancelled' or t.cancel_requested then 'cancelled'
          when t.attempt < t.max_attempts then 'pending'
          when v.outcome = 'interrupted' then 'dropped'
          else 'failed'
        end::spool.task_state as next
      from spool.tasks t join v on v.id = t.id
      where t.attempt = v.attempt and t.state = 'running' and t.owner = ${owner}
      for update of t
    )
    update spool.tasks t set
      state = p.next,
      result = case when p.next = 'succeeded' then p.result end,
      error = case p.next
        when 'succeeded' then null
        when 'cancelled' then jsonb_build_object('message', coalesce(p.cancel_reason, 'cancelled'), 'type', 'Cancelled')
        else p.error
      end,
      owner = null,
      finished_at = case when p.next = 'pending' then null else now() end,
      run_at = case
        when p.next <> 'pending' then t.run_at
        when p.interrupted then now()
        else now() + least(3600, power(2, p.attempt - 1)) * (0.75 + random() * 0.5) * interval '1 second'
      end
    from plan p
    where t.id = p.id
    returning t.id, t.state, (extract(epoch from t.run_at) * 1000)::float8 as "runAt"`;
}

/** The running attempts this replica owns (to interrupt them all at shutdown). */
export async function ownedAttempts(sql: Sql, owner: string): Promise<{ id: string; attempt: number }[]> {
  return sql<{ id: string; attempt: number }[]>`
    select id, attempt from spool.tasks where state = 'running' and owner = ${owner}`;
}

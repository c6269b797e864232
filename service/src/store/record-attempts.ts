// recordAttempts: stores what running attempts produced (log lines and outcomes) in ONE
// statement: one round trip, one commit, for a whole flush of the AttemptWriter.
//
// Parameters: the lines and the outcomes, each as parallel arrays (unnest reads arrays ~4x
// faster than json_to_recordset reads JSON), and owner (this replica's id).
// Guarantees:
//   - fencing: a line or an outcome is applied only while its attempt is the task's running
//     attempt owned by $3; those of a lost attempt change nothing (and are not returned);
//   - lines and outcomes commit together, so a task is never seen ended without its lines;
//   - the next state is decided by the UPDATE from the row it locks, so a concurrent
//     CancelTask is either seen (the task ends CANCELLED) or waits;
//   - next state: succeeded -> SUCCEEDED; cancelled, or any other outcome of a task whose
//     cancel was requested -> CANCELLED (error carries the reason); failed with attempts
//     left -> PENDING after spool.retry_delay(attempt, backoff) (migration 0011), the
//     task's own exponential backoff with jitter (by default 1 s * 2^(attempt-1) +-25%, at
//     most 1 h); no attempts left -> FAILED; failed_final (the
//     handler threw a NonRetryableError) -> FAILED whatever attempts remain (migration 0007);
//     interrupted (a clean shutdown) -> PENDING at once, in its old place in the queue, with
//     its attempt given back (migration 0006): a deploy never uses up a task's attempts;
//   - result is kept only on success, error only when not successful, and each attempt that
//     did not succeed appends { attempt, type, message, at } to failures; started_at becomes
//     the time the attempt was handed to a thread, when given;
//   - progress reports (fenced like the rest) replace the task's progress;
//   - it sends no notice: the caller announces what it stored once committed (AttemptWriter:
//     `l:` for lines, `t:` for changes of state or progress, `w:` for the earliest retry;
//     notify.ts says why).
import type { LogLevel, TaskError, TaskState } from "../domain/task.js";
import type { Sql } from "./database.js";

export interface NewLogLine {
  taskId: string;
  attempt: number;
  seq: number;
  level: LogLevel;
  message: string;
  /** Epoch ms when the handler logged it. */
  time: number;
  /** The span it was logged in (tracing on). */
  traceId?: string | undefined;
  spanId?: string | undefined;
}

export interface NewProgress {
  taskId: string;
  attempt: number;
  fraction: number;
  message: string;
  /** Epoch ms when the handler reported it. */
  time: number;
}

/** `failed_final`: failed, and no further attempt whatever attempts remain (a NonRetryableError). */
export type AttemptOutcome = "succeeded" | "failed" | "failed_final" | "cancelled" | "interrupted";

export interface AttemptFinish {
  id: string;
  attempt: number;
  outcome: AttemptOutcome;
  /** The result as JSON text (succeeded only). */
  resultJson?: string | undefined;
  error?: TaskError | undefined;
  /** Epoch ms when the attempt started running. */
  startedAt?: number | undefined;
  /** A last progress report that came with the outcome. */
  progress?: NewProgress | undefined;
}

export interface FinishedTask {
  id: string;
  state: TaskState;
  /** Epoch ms of run_at: when it is due again, if it went back to pending. */
  runAt: number;
}

export async function recordAttempts(
  sql: Sql,
  owner: string,
  lines: readonly NewLogLine[],
  finishes: readonly AttemptFinish[],
  progress: readonly NewProgress[] = [],
): Promise<FinishedTask[]> {
  const outcomes = {
    ids: finishes.map((f) => f.id),
    attempts: finishes.map((f) => f.attempt),
    outcomes: finishes.map((f) => f.outcome),
    results: finishes.map((f) => (f.resultJson === undefined || f.resultJson === "null" ? null : f.resultJson)),
    errors: finishes.map((f) => (f.error ? JSON.stringify(f.error) : null)),
    started: finishes.map((f) => f.startedAt ?? null),
    progress: finishes.map((f) => (f.progress ? JSON.stringify(progressJson(f.progress)) : null)),
  };
  // The error the attempt ends with (null on success): a fragment, used twice.
  const attemptError = sql`case spool.next_state(v.outcome, t.cancel_requested, t.attempt, t.max_attempts)
    when 'succeeded' then null
    when 'cancelled' then jsonb_build_object('message', coalesce(t.cancel_reason, 'cancelled'), 'type', 'Cancelled')
    else v.error_json::jsonb
  end`;
  const [row] = await sql<{ finished: FinishedTask[] }[]>`
    with lines as (
      insert into spool.task_logs (task_id, seq, attempt, level, message, time, trace_id, span_id)
      select r.t, r.s, r.a, r.l, r.m, to_timestamp(r.ms / 1000.0), r.trace, r.span
      from unnest(
        ${lines.map((l) => l.taskId)}::uuid[], ${lines.map((l) => l.attempt)}::int[], ${lines.map((l) => l.seq)}::int8[],
        ${lines.map((l) => l.level)}::spool.log_level[], ${lines.map((l) => l.message)}::text[], ${lines.map((l) => l.time)}::float8[],
        ${lines.map((l) => l.traceId ?? null) as string[]}::text[], ${lines.map((l) => l.spanId ?? null) as string[]}::text[]
      ) as r(t, a, s, l, m, ms, trace, span)
      join spool.tasks t on t.id = r.t and t.attempt = r.a and t.state = 'running' and t.owner = ${owner}
        -- Each join also names its ids as an array, so that the plan, made once for every flush
        -- (database.ts: writerSettings), probes the primary key for them whatever the
        -- table held when it was made. Made on an empty table, the join alone walked the whole
        -- index: 617,822 buffers for a flush on 200,000 rows (record-attempts-plan.test.ts).
        and t.id = any(${[...new Set(lines.map((l) => l.taskId))]}::uuid[])
      on conflict do nothing
      returning task_id
    ), v as (
      select * from unnest(
        ${outcomes.ids}::uuid[], ${outcomes.attempts}::int[], ${outcomes.outcomes}::text[],
        ${outcomes.results as string[]}::text[], ${outcomes.errors as string[]}::text[], ${outcomes.started as number[]}::float8[],
        ${outcomes.progress as string[]}::text[]
      ) as v(id, attempt, outcome, result_json, error_json, started_ms, progress_json)
    ), done as (
      -- spool.next_state (migration 0002) decides from the row this UPDATE locks, so a
      -- CancelTask that committed meanwhile is seen.
      update spool.tasks t set
        state = spool.next_state(v.outcome, t.cancel_requested, t.attempt, t.max_attempts),
        result = case when v.outcome = 'succeeded' then v.result_json::jsonb end,
        error = ${attemptError},
        failures = case when v.outcome = 'succeeded' then t.failures
          else t.failures || spool.failure_entry(t.attempt, ${attemptError}) end,
        owner = null,
        -- A clean shutdown gives the attempt back (it stays in failures, as Shutdown).
        attempt = case when v.outcome = 'interrupted' and not t.cancel_requested then t.attempt - 1 else t.attempt end,
        progress = coalesce(v.progress_json::jsonb, t.progress),
        started_at = coalesce(to_timestamp(v.started_ms / 1000.0), t.started_at),
        finished_at = case when spool.next_state(v.outcome, t.cancel_requested, t.attempt, t.max_attempts) = 'pending'
          then null else now() end,
        run_at = case
          when spool.next_state(v.outcome, t.cancel_requested, t.attempt, t.max_attempts) <> 'pending' then t.run_at
          when v.outcome = 'interrupted' then t.run_at -- its old place in the queue
          else now() + spool.retry_delay(t.attempt, t.backoff)
        end
      from v
      where t.id = v.id and t.attempt = v.attempt and t.state = 'running' and t.owner = ${owner}
        and t.id = any(${outcomes.ids}::uuid[])
      returning t.id, t.state, (extract(epoch from t.run_at) * 1000)::float8 as "runAt"
    ), reported as (
      -- Never a task of this flush's outcomes (AttemptWriter): one statement, one update a row.
      update spool.tasks t set progress = jsonb_build_object(
        'fraction', p.f, 'message', p.m, 'attempt', p.a, 'at', to_timestamp(p.ms / 1000.0))
      from unnest(
        ${progress.map((p) => p.taskId)}::uuid[], ${progress.map((p) => p.attempt)}::int[],
        ${progress.map((p) => p.fraction)}::float8[], ${progress.map((p) => p.message)}::text[],
        ${progress.map((p) => p.time)}::float8[]
      ) as p(id, a, f, m, ms)
      where t.id = p.id and t.attempt = p.a and t.state = 'running' and t.owner = ${owner}
        and t.id = any(${progress.map((p) => p.taskId)}::uuid[])
      returning t.id
    )
    -- One row, always. (The data-modifying CTEs run to completion whether read or not.)
    select coalesce((select json_agg(json_build_object('id', id, 'state', state, 'runAt', "runAt")) from done), '[]') as finished`;
  return row!.finished;
}

/** A progress report as tasks.progress stores it. */
function progressJson(p: NewProgress) {
  return { fraction: p.fraction, message: p.message, attempt: p.attempt, at: new Date(p.time).toISOString() };
}

/** The running attempts this replica owns (to interrupt them all at shutdown). */
export async function ownedAttempts(sql: Sql, owner: string): Promise<{ id: string; attempt: number }[]> {
  return sql<{ id: string; attempt: number }[]>`
    select id, attempt from spool.tasks where state = 'running' and owner = ${owner}`;
}

// Log lines: written in batches by the replica that runs the attempt, read by StreamLogs on
// any replica.
import type { LogLevel, LogLine } from "../domain/task.js";
import type { Sql } from "./database.js";

export interface NewLogLine {
  taskId: string;
  attempt: number;
  seq: number;
  level: LogLevel;
  message: string;
  /** Epoch ms when the handler logged it. */
  time: number;
}

/**
 * insertLogs: stores a batch of lines in one statement and returns the ids of the tasks that
 * got lines.
 *
 * Parameters: $1 the lines as a JSON array, $2 owner (this replica's id).
 * Guarantees: fencing, as for finishAttempts: a line is stored only while its attempt is the
 * running attempt of $2, so a lost attempt cannot write into a newer attempt's log; a seq
 * already stored is not overwritten.
 */
export async function insertLogs(sql: Sql, owner: string, lines: readonly NewLogLine[]): Promise<string[]> {
  const rows = lines.map((l) => ({ t: l.taskId, a: l.attempt, s: l.seq, l: l.level, m: l.message, ms: l.time }));
  const inserted = await sql<{ taskId: string }[]>`
    with ins as (
      insert into spool.task_logs (task_id, seq, attempt, level, message, time)
      select r.t, r.s, r.a, r.l::spool.log_level, r.m, to_timestamp(r.ms / 1000.0)
      from json_to_recordset(${sql.json(rows as never)}::json) as r(t uuid, a int, s bigint, l text, m text, ms float8)
      join spool.tasks t on t.id = r.t and t.attempt = r.a and t.state = 'running' and t.owner = ${owner}
      on conflict do nothing
      returning task_id
    )
    select distinct task_id as "taskId" from ins`;
  return inserted.map((row) => row.taskId);
}

/** readLogs: up to `limit` lines of a task with seq > afterSeq, in seq order. */
export async function readLogs(sql: Sql, taskId: string, afterSeq: number, limit: number): Promise<LogLine[]> {
  return sql<LogLine[]>`
    select seq, attempt, level, message, time from spool.task_logs
    where task_id = ${taskId} and seq > ${afterSeq}
    order by seq
    limit ${limit}`;
}

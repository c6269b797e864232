// Reading log lines, for StreamLogs on any replica. They are written by recordAttempts.
import type { LogLine } from "../domain/task.js";
import type { Sql } from "./database.js";

/**
 * tailStart: where to read from to get only the last `tail` lines after `afterSeq`: the seq
 * before the first of them (a backward scan of at most `tail` entries of the primary key).
 */
export async function tailStart(sql: Sql, taskId: string, afterSeq: number, tail: number): Promise<number> {
  const [row] = await sql<{ first: number | null }[]>`
    select min(seq)::float8 as first from (
      select seq from spool.task_logs where task_id = ${taskId} and seq > ${afterSeq}
      order by seq desc limit ${tail}) last`;
  return row?.first == null ? afterSeq : row.first - 1;
}

/** readLogs: up to `limit` lines of a task with seq > afterSeq, in seq order. */
export async function readLogs(sql: Sql, taskId: string, afterSeq: number, limit: number): Promise<LogLine[]> {
  return sql<LogLine[]>`
    select seq, attempt, level, message, time, trace_id as "traceId", span_id as "spanId" from spool.task_logs
    where task_id = ${taskId} and seq > ${afterSeq}
    order by seq
    limit ${limit}`;
}

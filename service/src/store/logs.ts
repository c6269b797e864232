// Reading log lines, for StreamLogs on any replica. They are written by recordAttempts.
import type { LogLine } from "../domain/task.js";
import type { Sql } from "./database.js";

/** readLogs: up to `limit` lines of a task with seq > afterSeq, in seq order. */
export async function readLogs(sql: Sql, taskId: string, afterSeq: number, limit: number): Promise<LogLine[]> {
  return sql<LogLine[]>`
    select seq, attempt, level, message, time, trace_id as "traceId", span_id as "spanId" from spool.task_logs
    where task_id = ${taskId} and seq > ${afterSeq}
    order by seq
    limit ${limit}`;
}

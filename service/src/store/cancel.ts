// cancelTask: requests the cancellation of a task, in one statement.
//
// Parameters: $1 task id, $2 reason.
// Guarantees:
//   - a PENDING task becomes CANCELLED at once, with error { message: reason, type: Cancelled };
//   - a RUNNING task gets cancel_requested (the first reason is kept) and a NOTIFY `c:<id>`
//     that reaches the replica running it, whichever it is; that replica aborts the attempt
//     and its outcome then ends the task CANCELLED (finish-attempts.ts);
//   - a terminal task is not changed: undefined is returned and the caller reads it as is.
import { failureTypes, type Task } from "../domain/task.js";
import type { Sql } from "./database.js";
import { channel } from "./notify.js";
import { taskColumns } from "./task-columns.js";

export async function cancelTask(sql: Sql, id: string, reason: string): Promise<Task | undefined> {
  const [task] = await sql<Task[]>`
    with upd as (
      update spool.tasks t set
        cancel_requested = true,
        cancel_reason = coalesce(t.cancel_reason, ${reason}),
        state = case when t.state = 'pending' then 'cancelled' else t.state end,
        finished_at = case when t.state = 'pending' then now() else t.finished_at end,
        error = case when t.state = 'pending'
          then jsonb_build_object('message', ${reason}::text, 'type', ${failureTypes.cancelled}::text)
          else t.error end
      where t.id = ${id} and t.state in ('pending', 'running')
      returning ${sql.unsafe(taskColumns)}
    ), wake as (
      select pg_notify(${channel}, case when state = 'running' then 'c:' else 't:' end || id) from upd
    )
    select upd.* from upd left join wake on true`;
  return task;
}

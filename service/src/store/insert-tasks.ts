// insertTasks: stores a batch of new tasks in ONE statement, so one commit and one wake-up
// serve every CreateTask call that arrived together (group commit, see scheduler/creator.ts).
//
// Parameters: $1 the tasks as a JSON array (jsonb_to_recordset), $2 the notify channel.
// Guarantees:
//   - all rows of the batch commit together, or none does;
//   - a task whose idempotency_key is already taken is not inserted; the task holding the key
//     is returned instead, with created = false (also within one batch: the first one wins);
//   - when at least one task was inserted, one NOTIFY `w:<earliest run_at>` is sent in the
//     same transaction, so schedulers wake exactly when the rows are visible.
import type { NewTask, Task } from "../domain/task.js";
import type { Sql } from "./database.js";
import { channel } from "./notify.js";
import { taskColumns } from "./task-columns.js";
import { newTaskId } from "./task-id.js";

export interface Inserted {
  task: Task;
  /** False when the idempotency key named an existing task, which is returned. */
  created: boolean;
}

export async function insertTasks(sql: Sql, batch: readonly NewTask[]): Promise<Inserted[]> {
  const rows = batch.map((task) => {
    const { id, createdAt } = newTaskId();
    return {
      id,
      kind: task.kind,
      queue: task.queue,
      priority: task.priority,
      input: task.input ?? null,
      max_attempts: task.maxAttempts,
      timeout_ms: task.timeoutMs,
      idempotency_key: task.idempotencyKey ?? null,
      labels: task.labels,
      created_at: createdAt,
      // No run_at: due at once by the database's clock, the one claims compare with.
      run_at: task.runAt ?? null,
    };
  });
  const inserted = await sql<Task[]>`
    with ins as (
      insert into spool.tasks as t
        (id, kind, queue, priority, input, max_attempts, timeout_ms, idempotency_key, labels, created_at, run_at)
      select id, kind, queue, priority, input, max_attempts, timeout_ms, idempotency_key, labels, created_at,
        coalesce(run_at, now())
      from jsonb_to_recordset(${sql.json(rows as never)}::jsonb) as r(
        id uuid, kind text, queue text, priority int, input jsonb, max_attempts int, timeout_ms int,
        idempotency_key text, labels jsonb, created_at timestamptz, run_at timestamptz)
      on conflict (idempotency_key) where idempotency_key is not null do nothing
      returning ${sql.unsafe(taskColumns)}
    ), wake as (
      select pg_notify(${channel}, 'w:' || (extract(epoch from min("runAt")) * 1000)::bigint)
      from ins having count(*) > 0
    )
    select ins.* from ins left join wake on true`;

  const byId = new Map(inserted.map((task) => [task.id, task]));
  const missingKeys = rows.filter((row) => !byId.has(row.id)).map((row) => row.idempotency_key as string);
  const existing = new Map<string, Task>();
  if (missingKeys.length > 0) {
    const found = await sql<Task[]>`
      select ${sql.unsafe(taskColumns)} from spool.tasks t where t.idempotency_key = any(${missingKeys})`;
    for (const task of found) existing.set(task.idempotencyKey as string, task);
  }
  return rows.map((row) => {
    const task = byId.get(row.id);
    if (task) return { task, created: true };
    const other = existing.get(row.idempotency_key as string);
    if (!other) throw new Error(`task with idempotency key ${row.idempotency_key} vanished during insert`);
    return { task: other, created: false };
  });
}

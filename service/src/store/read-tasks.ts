// Reads of tasks: by id, and filtered pages for ListTasks (keyset pagination on the primary
// key, newest first: stable while tasks are added, since new ids sort before every page).
import { and, desc, eq, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { Task, TaskError, TaskFilter, TaskState } from "../domain/task.js";
import type { Db } from "./database.js";
import { tasks } from "./schema.js";
import { firstTaskIdAt } from "./task-id.js";

const taskFields = {
  id: tasks.id,
  kind: tasks.kind,
  queue: tasks.queue,
  state: tasks.state,
  priority: tasks.priority,
  input: tasks.input,
  result: tasks.result,
  error: sql<TaskError | null>`${tasks.error}`,
  attempt: tasks.attempt,
  maxAttempts: tasks.maxAttempts,
  timeoutMs: tasks.timeoutMs,
  idempotencyKey: tasks.idempotencyKey,
  labels: tasks.labels,
  cancelRequested: tasks.cancelRequested,
  createdAt: tasks.createdAt,
  runAt: tasks.runAt,
  startedAt: tasks.startedAt,
  finishedAt: tasks.finishedAt,
};

export async function getTask(db: Db, id: string): Promise<Task | undefined> {
  const [task] = await db.select(taskFields).from(tasks).where(eq(tasks.id, id));
  return task;
}

export async function getTaskState(db: Db, id: string): Promise<TaskState | undefined> {
  const [row] = await db.select({ state: tasks.state }).from(tasks).where(eq(tasks.id, id));
  return row?.state;
}


/** Up to `limit` tasks matching the filter with id < beforeId (all when undefined), newest first. */
export async function listTasks(db: Db, filter: TaskFilter, beforeId: string | undefined, limit: number): Promise<Task[]> {
  const conditions: SQL[] = [];
  if (filter.states.length > 0) conditions.push(inArray(tasks.state, filter.states));
  if (filter.kinds.length > 0) conditions.push(inArray(tasks.kind, filter.kinds));
  if (filter.queue !== undefined) conditions.push(eq(tasks.queue, filter.queue));
  if (Object.keys(filter.labels).length > 0) {
    conditions.push(sql`${tasks.labels} @> ${JSON.stringify(filter.labels)}::text::jsonb`);
  }
  // created_at is the time inside the UUIDv7 id: a time range is an id range on the index.
  if (filter.createdAfter) conditions.push(gte(tasks.id, firstTaskIdAt(filter.createdAfter)));
  if (filter.createdBefore) conditions.push(lt(tasks.id, firstTaskIdAt(filter.createdBefore)));
  if (beforeId !== undefined) conditions.push(lt(tasks.id, beforeId));
  return db
    .select(taskFields)
    .from(tasks)
    .where(and(...conditions))
    .orderBy(desc(tasks.id))
    .limit(limit);
}

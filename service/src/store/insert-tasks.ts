// insertTasks: stores a batch of new tasks in ONE statement, so one commit and one wake-up
// serve every CreateTask call that arrived together (group commit, see scheduler/creator.ts).
//
// Parameters: the tasks as parallel arrays (unnest), and the notify channel.
// Guarantees:
//   - all rows of the batch commit together, or none does;
//   - a task whose idempotency_key is already taken in its tenant is not inserted; the task
//     holding the key is returned instead, with created = false (also within one batch: the
//     first one wins). Keys of different tenants never meet;
//   - likewise a task whose schedule tick (tenant, schedule, scheduled_for) already has its
//     task (tasks_schedule_tick_idx): that task is returned, created = false. This is what
//     makes a tick fire exactly once (schedules/ticker.ts);
//   - start on create (`start`): a row flagged there is stored already claimed by
//     `start.owner` (RUNNING, attempt 1, started now), exactly as a claim would leave it, but
//     only if the claim's own rules would let that replica take it at once: due now by the
//     database's clock, its queue neither paused nor limited (a limited queue's room is
//     counted under its row lock, claim.ts), and the owner's lease live. Otherwise it is
//     stored PENDING as any other row. Inserted.task.state says which. The flags come from
//     the scheduler (TaskStarter, task-creator.ts), which holds an idle thread for each;
//   - it sends no wake-up: the caller announces the tasks stored PENDING once they are
//     committed (TaskCreator, through the Notifier; a schedule's tick, in its transaction:
//     notify.ts says why).
import type { NewTask, Task } from "../domain/task.js";
import type { Sql } from "./database.js";
import { taskColumns } from "./task-columns.js";
import { newTaskId } from "../domain/task-id.js";
import { defaultBackoff, type Backoff } from "@spool/proto";

const isDefaultBackoff = (b: Backoff) =>
  b.baseMs === defaultBackoff.baseMs && b.factor === defaultBackoff.factor && b.maxMs === defaultBackoff.maxMs && b.jitter === defaultBackoff.jitter;

export interface Inserted {
  task: Task;
  /** False when the idempotency key named an existing task, which is returned. */
  created: boolean;
}

/** Rows to store already claimed by `owner` (flags in batch order), when the claim's rules allow it. */
export interface StartOnInsert {
  owner: string;
  rows: readonly boolean[];
}

export async function insertTasks(sql: Sql, batch: readonly NewTask[], start?: StartOnInsert): Promise<Inserted[]> {
  const rows = batch.map((task) => ({ ...newTaskId(), task }));
  const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));
  const inserted = await sql<{ id: string; runAt: Date; startedAt: Date | null }[]>`
    with ins as (
      insert into spool.tasks as t
        (id, kind, queue, priority, input, max_attempts, timeout_ms, idempotency_key, labels, tenant, created_by,
         concurrency_key, backoff, schedule, scheduled_for, retry_of, traceparent, created_at, run_at,
         state, attempt, started_at, owner)
      select id, kind, queue, priority, input::jsonb, max_attempts, timeout_ms, idempotency_key, labels::jsonb,
        tenant, created_by, concurrency_key, backoff::jsonb, schedule, scheduled_for, retry_of, traceparent, created_at,
        -- No run_at: due at once by the database's clock, the one claims compare with.
        coalesce(run_at, now()),
        case when here then 'running'::spool.task_state else 'pending'::spool.task_state end,
        case when here then 1 else 0 end, case when here then now() end, case when here then ${start?.owner ?? null}::uuid end
      from (
        select r.*, r.start = 1 and coalesce(r.run_at, now()) <= now()
          and not exists (select 1 from spool.queues q where q.tenant = r.tenant and q.name = r.queue
            and (q.paused or q.concurrency_limit is not null or q.key_concurrency_limit is not null))
          and exists (select 1 from spool.replicas l where l.id = ${start?.owner ?? null}::uuid and l.expires_at > now()) as here
        from unnest(
        ${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.task.kind)}::text[], ${rows.map((r) => r.task.queue)}::text[],
        ${rows.map((r) => r.task.priority)}::int[], ${rows.map((r) => json(r.task.input)) as string[]}::text[],
        ${rows.map((r) => r.task.maxAttempts)}::int[], ${rows.map((r) => r.task.timeoutMs)}::int[],
        ${rows.map((r) => r.task.idempotencyKey ?? null) as string[]}::text[], ${rows.map((r) => JSON.stringify(r.task.labels))}::text[],
        ${rows.map((r) => r.task.tenant)}::text[], ${rows.map((r) => r.task.createdBy)}::text[],
        ${rows.map((r) => r.task.concurrencyKey ?? null) as string[]}::text[],
        -- The defaults are stored as null: most tasks keep them, and null costs no bytes.
        ${rows.map((r) => (isDefaultBackoff(r.task.backoff) ? null : JSON.stringify(r.task.backoff))) as string[]}::text[],
        ${rows.map((r) => r.task.schedule ?? null) as string[]}::text[],
        ${rows.map((r) => r.task.scheduledFor?.toISOString() ?? null) as string[]}::timestamptz[],
        ${rows.map((r) => r.task.retryOf ?? null) as string[]}::uuid[],
        ${rows.map((r) => r.task.traceparent ?? null) as string[]}::text[],
        -- As ISO text, exact to the millisecond: to_timestamp(ms / 1000.0) went through
        -- floating point and lost a millisecond on far dates (year 4283: .181 read back .180).
        ${rows.map((r) => r.createdAt.toISOString())}::timestamptz[],
        ${rows.map((r) => r.task.runAt?.toISOString() ?? null) as string[]}::timestamptz[],
        -- 1: start here (postgres.js sends a JS boolean array as one boolean).
        ${rows.map((_, i) => (start?.rows[i] === true ? 1 : 0))}::int[]
      ) as r(id, kind, queue, priority, input, max_attempts, timeout_ms, idempotency_key, labels, tenant, created_by,
             concurrency_key, backoff, schedule, scheduled_for, retry_of, traceparent, created_at, run_at, start)
      ) r
      -- No conflict target: a taken idempotency key and a taken schedule tick (the two
      -- partial unique indexes) both skip the row; the id is a fresh UUIDv7 and never conflicts.
      on conflict do nothing
      -- Only what the database decided: the rest of each task is what was sent (returning
      -- every column cost twice the Node CPU of the whole insert).
      returning t.id, t.run_at as "runAt", t.started_at as "startedAt"
    )
    select * from ins`;

  const byId = new Map<string, Task>();
  const sent = new Map(rows.map((row) => [row.id, row]));
  for (const { id, runAt, startedAt } of inserted) {
    const { task, createdAt } = sent.get(id) as (typeof rows)[number];
    byId.set(id, {
      id,
      kind: task.kind,
      queue: task.queue,
      state: startedAt ? "running" : "pending",
      priority: task.priority,
      input: task.input ?? null,
      result: null,
      error: null,
      failures: [],
      progress: null,
      attempt: startedAt ? 1 : 0,
      maxAttempts: task.maxAttempts,
      timeoutMs: task.timeoutMs,
      idempotencyKey: task.idempotencyKey ?? null,
      labels: task.labels,
      cancelRequested: false,
      tenant: task.tenant,
      createdBy: task.createdBy,
      schedule: task.schedule ?? null,
      scheduledFor: task.scheduledFor ?? null,
      concurrencyKey: task.concurrencyKey ?? null,
      retryOf: task.retryOf ?? null,
      traceId: task.traceparent?.split("-")[1] ?? null,
      backoff: task.backoff,
      createdAt,
      runAt,
      startedAt,
      finishedAt: null,
    });
  }
  const missing = rows.filter((row) => !byId.has(row.id)).map((row) => row.task);
  const existing = new Map<string, Task>();
  const byKey = missing.filter((t) => t.idempotencyKey !== undefined);
  const byTick = missing.filter((t) => t.schedule !== undefined && t.scheduledFor !== undefined);
  if (byKey.length > 0) {
    const found = await sql<Task[]>`
      select ${sql.unsafe(taskColumns)} from spool.tasks t
      join unnest(${byKey.map((t) => t.tenant)}::text[], ${byKey.map((t) => t.idempotencyKey as string)}::text[]) as k(tenant, key)
        on t.tenant = k.tenant and t.idempotency_key = k.key`;
    for (const task of found) existing.set(keyOf(task.tenant, task.idempotencyKey as string), task);
  }
  if (byTick.length > 0) {
    const found = await sql<Task[]>`
      select ${sql.unsafe(taskColumns)} from spool.tasks t
      join unnest(${byTick.map((t) => t.tenant)}::text[], ${byTick.map((t) => t.schedule as string)}::text[],
                  ${byTick.map((t) => (t.scheduledFor as Date).toISOString())}::timestamptz[]) as k(tenant, schedule, scheduled_for)
        on t.tenant = k.tenant and t.schedule = k.schedule and t.scheduled_for = k.scheduled_for`;
    for (const task of found) existing.set(tickOf(task.tenant, task.schedule as string, task.scheduledFor as Date), task);
  }
  return rows.map(({ id, task: sent }) => {
    const task = byId.get(id);
    if (task) return { task, created: true };
    const other =
      (sent.idempotencyKey !== undefined ? existing.get(keyOf(sent.tenant, sent.idempotencyKey)) : undefined) ??
      (sent.schedule !== undefined && sent.scheduledFor !== undefined ? existing.get(tickOf(sent.tenant, sent.schedule, sent.scheduledFor)) : undefined);
    if (!other) throw new Error(`a task of kind ${sent.kind} was neither inserted nor found by its idempotency key or tick (it vanished during the insert)`);
    return { task: other, created: false };
  });
}

/** When the earliest of the tasks this insert stored PENDING comes due (epoch ms); undefined if none. */
export function earliestDue(inserted: readonly Inserted[]): number | undefined {
  let due: number | undefined;
  for (const { task, created } of inserted) {
    if (created && task.state === "pending" && (due === undefined || task.runAt.getTime() < due)) due = task.runAt.getTime();
  }
  return due;
}

const keyOf = (tenant: string, key: string) => JSON.stringify(["key", tenant, key]);
const tickOf = (tenant: string, schedule: string, at: Date) => JSON.stringify(["tick", tenant, schedule, at.getTime()]);

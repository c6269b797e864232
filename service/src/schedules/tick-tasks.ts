// The tasks of a schedule's ticks, created as CreateTask creates tasks: the template readied
// (input checked against its kind's schema, quotas applied) and stored by insertTasks, in the
// caller's transaction. Each task records the schedule's tenant, its name and the tick
// (scheduled_for); tasks_schedule_tick_idx keeps one task per tick, so a tick that already
// has its task comes back with created false and nothing new is stored. The wake-up for the
// new tasks goes out in the same transaction (ticks are rare: notify.ts).
import type { ReadyTemplate, Schedule } from "../domain/schedule.js";
import type { Sql } from "../store/database.js";
import { earliestDue, insertTasks, type Inserted } from "../store/insert-tasks.js";
import { notifyDue } from "../store/notify.js";

/**
 * Most bytes of input one insert carries: a catch-up of 1000 ticks of a template with a
 * 1 MiB input goes in statements of 8 tasks (in the same transaction), not one of 1 GB.
 */
const maxInputBytesPerStatement = 8 * 1024 * 1024;

export async function createTickTasks(
  sql: Sql,
  schedule: Schedule,
  ticks: readonly Date[],
  createdBy: string,
  ready: ReadyTemplate,
  field: string,
): Promise<Inserted[]> {
  const fields = await ready(schedule.tenant, schedule.task, ticks.length, field);
  const inputBytes = fields.input === null || fields.input === undefined ? 0 : Buffer.byteLength(JSON.stringify(fields.input));
  const perStatement = Math.max(1, Math.floor(maxInputBytesPerStatement / Math.max(1, inputBytes)));
  const inserted: Inserted[] = [];
  for (let at = 0; at < ticks.length; at += perStatement) {
    const chunk = ticks.slice(at, at + perStatement).map((scheduledFor) => ({
      ...fields,
      runAt: undefined,
      idempotencyKey: undefined,
      tenant: schedule.tenant,
      createdBy,
      schedule: schedule.name,
      scheduledFor,
    }));
    inserted.push(...(await insertTasks(sql, chunk)));
  }
  const due = earliestDue(inserted);
  if (due !== undefined) await notifyDue(sql, due);
  return inserted;
}

// The tasks of a schedule's ticks, created as CreateTask creates tasks: the template readied
// (input checked against its kind's schema, quotas applied) and stored by insertTasks, in the
// caller's transaction. Each task records the schedule's tenant, its name and the tick
// (scheduled_for); tasks_schedule_tick_idx keeps one task per tick, so a tick that already
// has its task comes back with created false and nothing new is stored.
import type { ReadyTemplate, Schedule } from "../domain/schedule.js";
import type { Sql } from "../store/database.js";
import { insertTasks, type Inserted } from "../store/insert-tasks.js";

export async function createTickTasks(
  sql: Sql,
  schedule: Schedule,
  ticks: readonly Date[],
  createdBy: string,
  ready: ReadyTemplate,
  field: string,
): Promise<Inserted[]> {
  const fields = await ready(schedule.tenant, schedule.task, ticks.length, field);
  return insertTasks(
    sql,
    ticks.map((scheduledFor) => ({
      ...fields,
      runAt: undefined,
      idempotencyKey: undefined,
      tenant: schedule.tenant,
      createdBy,
      schedule: schedule.name,
      scheduledFor,
    })),
  );
}

// ScheduleBook: the operations behind ScheduleService, over the store. Each runs in one
// transaction that reads the database's clock, so a schedule's next tick never depends on a
// replica's clock, and each sends `s:` (store/notify.ts) so that every replica's ticker reads
// again when the next tick is due.
//
// - create is idempotent for the same spec (code that registers its schedules at every boot
//   is safe); a different spec is ALREADY_EXISTS naming the fields that differ. Whether the
//   schedule is paused is not part of its spec: an operator's pause survives a reboot.
// - update, pause, resume, delete and trigger lock the row (store/schedules.ts): they wait
//   for a tick in progress, and a deleted schedule never fires again.
// - trigger creates one task now (scheduled_for: the database's clock at the trigger, to the
//   millisecond), whether paused or not, leaving next_run_at alone. Should that millisecond
//   already have a task (a tick fired at it, or another trigger), the next free one is taken:
//   a trigger always creates a task. (A tick yet to come at that very millisecond then finds
//   its task made, and counts as fired.)
import type { Task } from "../domain/task.js";
import { noTaskEvents, type TaskEvents } from "../domain/task-events.js";
import type { ReadyTemplate, Schedule, ScheduleOperations, ScheduleSpec } from "../domain/schedule.js";
import { quote, SpoolError } from "../errors.js";
import type { Pool, Sql } from "../store/database.js";
import { notifySchedulesChanged } from "../store/notify.js";
import {
  databaseNow,
  deleteSchedule,
  insertSchedule,
  listSchedules,
  readSchedule,
  setPaused,
  triggerSlot,
  updateScheduleSpec,
} from "../store/schedules.js";
import { createTickTasks } from "./tick-tasks.js";
import { nextTick, ruleOf } from "./ticks.js";

export class ScheduleBook implements ScheduleOperations {
  constructor(
    private readonly sql: Pool,
    private readonly ready: ReadyTemplate,
    /** Kinds with a handler on this replica: a trigger of another kind is refused. */
    private readonly kinds: () => ReadonlySet<string>,
    /** Told of the tasks triggers created (metrics). */
    private readonly events: Pick<TaskEvents, "created"> = noTaskEvents,
  ) {}

  async create(tenant: string, name: string, spec: ScheduleSpec, createdBy: string, paused: boolean) {
    // A schedule of that name deleted between the insert and the read: try again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await this.sql.begin(async (tx) => {
        const now = await databaseNow(tx);
        const nextRunAt = paused ? null : (nextTick(ruleOf(spec, now), now) ?? null);
        const inserted = await insertSchedule(tx, { tenant, name, spec, paused, nextRunAt, createdBy, createdAt: now });
        if (inserted) {
          await notifySchedulesChanged(tx);
          return { schedule: inserted, created: true };
        }
        const existing = await readSchedule(tx, tenant, name);
        if (!existing) return undefined;
        const differ = differences(existing, spec);
        if (differ.length > 0) {
          throw new SpoolError(
            "already_exists",
            `schedule ${quote(name)} exists in tenant ${quote(tenant)} with another ${differ.join(", ")}: UpdateSchedule changes a schedule`,
          );
        }
        return { schedule: existing, created: false };
      });
      if (result) return result;
    }
    throw new SpoolError("unavailable", `schedule ${quote(name)} was deleted and created again meanwhile, repeatedly; retry`);
  }

  async get(tenant: string, name: string): Promise<Schedule> {
    return (await readSchedule(this.sql, tenant, name)) ?? notFound(tenant, name);
  }

  list(tenant: string, afterName: string | undefined, limit: number): Promise<Schedule[]> {
    return listSchedules(this.sql, tenant, afterName, limit);
  }

  update(tenant: string, name: string, spec: ScheduleSpec): Promise<Schedule> {
    return this.#change(tenant, name, async (tx, existing) => {
      const now = await databaseNow(tx);
      // Interval ticks stay on the creation time's grid.
      const nextRunAt = existing.paused ? null : (nextTick(ruleOf(spec, existing.createdAt), now) ?? null);
      return updateScheduleSpec(tx, tenant, name, spec, nextRunAt);
    });
  }

  async delete(tenant: string, name: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      if (!(await deleteSchedule(tx, tenant, name))) notFound(tenant, name);
      await notifySchedulesChanged(tx);
    });
  }

  pause(tenant: string, name: string): Promise<Schedule> {
    return this.#change(tenant, name, async (tx, existing) => (existing.paused ? existing : setPaused(tx, tenant, name, true, null)));
  }

  resume(tenant: string, name: string): Promise<Schedule> {
    return this.#change(tenant, name, async (tx, existing) => {
      if (!existing.paused) return existing;
      const now = await databaseNow(tx);
      return setPaused(tx, tenant, name, false, nextTick(ruleOf(existing, existing.createdAt), now) ?? null);
    });
  }

  async trigger(tenant: string, name: string, createdBy: string): Promise<Task> {
    const task = await this.sql.begin(async (tx) => {
      const schedule = (await readSchedule(tx, tenant, name, true)) ?? notFound(tenant, name);
      if (!this.kinds().has(schedule.task.kind)) {
        throw new SpoolError("failed_precondition", `schedule ${quote(name)} creates tasks of kind ${quote(schedule.task.kind)}, which has no handler on this replica`);
      }
      const at = await triggerSlot(tx, tenant, name);
      const [inserted] = await createTickTasks(tx, schedule, [at], createdBy, this.#readyForTrigger(name), "task.input");
      // The slot was free under the row lock; should it not be, no task of the trigger's was made.
      if (!inserted!.created) throw new SpoolError("unavailable", `schedule ${quote(name)}: its trigger's tick ${at.toISOString()} was taken meanwhile; retry`);
      return inserted!.task;
    });
    this.events.created([task]);
    return task;
  }

  /** The template readied for a trigger: a template that no longer passes is the schedule's problem, not the request's. */
  #readyForTrigger(name: string): ReadyTemplate {
    return async (...args) => {
      try {
        return await this.ready(...args);
      } catch (error) {
        if (!(error instanceof SpoolError) || error.code !== "invalid_argument") throw error;
        throw new SpoolError("failed_precondition", `schedule ${quote(name)}: its template no longer passes: ${error.message}`);
      }
    };
  }

  /** Runs `change` on the locked schedule in one transaction and announces it; NOT_FOUND if none. */
  #change(tenant: string, name: string, change: (tx: Sql, existing: Schedule) => Promise<Schedule>): Promise<Schedule> {
    return this.sql.begin(async (tx) => {
      const existing = (await readSchedule(tx, tenant, name, true)) ?? notFound(tenant, name);
      const changed = await change(tx, existing);
      if (changed !== existing) await notifySchedulesChanged(tx);
      return changed;
    }) as Promise<Schedule>;
  }
}

function notFound(tenant: string, name: string): never {
  throw new SpoolError("not_found", `schedule ${quote(name)} not found in tenant ${quote(tenant)}`);
}

/** The spec fields in which a stored schedule differs from `spec`, by their proto names. */
function differences(existing: ScheduleSpec, spec: ScheduleSpec): string[] {
  const differ: string[] = [];
  if (existing.cron !== spec.cron) differ.push("cron");
  if (existing.intervalMs !== spec.intervalMs) differ.push("interval");
  if (existing.timeZone !== spec.timeZone) differ.push("time_zone");
  if (canonicalJson(existing.task) !== canonicalJson(spec.task)) differ.push("task");
  if (existing.catchUp !== spec.catchUp) differ.push("catch_up");
  if (existing.catchUpLimit !== spec.catchUpLimit) differ.push("catch_up_limit");
  return differ;
}

/** JSON with object keys sorted and undefined members left out: equal values, equal text (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// A schedule as every layer sees it: a task template and when to create it (schedules/). The
// store maps rows to it, the API maps it to protobuf.
import type { Task, TaskFields } from "./task.js";

export type CatchUp = "skip" | "once" | "all";

/** What a schedule does: everything CreateSchedule and UpdateSchedule set but its name. */
export interface ScheduleSpec {
  /** A croner expression of 5 or 6 fields; undefined exactly when intervalMs is set. */
  cron: string | undefined;
  /** Fixed interval between ticks, >= 1000; ticks fall on createdAt + n * intervalMs. */
  intervalMs: number | undefined;
  /** IANA zone the cron expression is read in, as given ("UTC" by default). */
  timeZone: string;
  /** The task each tick creates; its input is stored as given and checked at each tick. */
  task: TaskFields;
  catchUp: CatchUp;
  /** With catchUp "all": most missed ticks run (1..1000); 0 otherwise. */
  catchUpLimit: number;
}

export interface Schedule extends ScheduleSpec {
  tenant: string;
  name: string;
  paused: boolean;
  /** The next tick not yet fired; null while paused, or when no tick is left. */
  nextRunAt: Date | null;
  /** The latest tick that created a task. */
  lastRunAt: Date | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export const scheduleDefaults = { timeZone: "UTC", catchUpLimit: 100 } as const;

export const scheduleLimits = {
  nameLength: 200,
  cronLength: 200,
  timeZoneLength: 100,
  minIntervalMs: 1000,
  /** Ten years: a longer period is better said with cron. */
  maxIntervalMs: 3650 * 86_400_000,
  catchUpLimit: 1000,
  pageSize: 1000,
  defaultPageSize: 100,
} as const;

/**
 * Readies a template for `count` new tasks of `tenant`, as CreateTask readies a request:
 * checks the input against its kind's schema (INVALID_ARGUMENT naming `field`) and returns
 * the fields to store (the input as the schema returns it), having admitted the tasks under
 * the tenant's quotas (RESOURCE_EXHAUSTED with a retry delay past them).
 */
export type ReadyTemplate = (tenant: string, template: TaskFields, count: number, field: string) => Promise<TaskFields>;

/** The operations behind ScheduleService, free of gRPC. Names and tenants are checked by the caller. */
export interface ScheduleOperations {
  /**
   * Stores a new schedule; for an existing name with the same spec returns it (created
   * false), with another spec ALREADY_EXISTS. Paused or not is not part of the spec.
   */
  create(tenant: string, name: string, spec: ScheduleSpec, createdBy: string, paused: boolean): Promise<{ schedule: Schedule; created: boolean }>;
  /** NOT_FOUND if there is none. */
  get(tenant: string, name: string): Promise<Schedule>;
  /** Up to `limit` schedules of the tenant named after `afterName`, in name order. */
  list(tenant: string, afterName: string | undefined, limit: number): Promise<Schedule[]>;
  /** Replaces the spec; the next tick is computed again from now. NOT_FOUND if there is none. */
  update(tenant: string, name: string, spec: ScheduleSpec): Promise<Schedule>;
  /** It never fires again, on any replica. NOT_FOUND if there is none. */
  delete(tenant: string, name: string): Promise<void>;
  pause(tenant: string, name: string): Promise<Schedule>;
  /** Fires again from its next tick after now (a schedule that is not paused is unchanged). */
  resume(tenant: string, name: string): Promise<Schedule>;
  /** One task from the template now, created by `createdBy`; the ticks stay as they were. */
  trigger(tenant: string, name: string, createdBy: string): Promise<Task>;
}

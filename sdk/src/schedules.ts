// ScheduleClient (`client.schedules`): spool.v1.ScheduleService, on the SpoolClient's channel,
// with its token, deadline and retries (UnaryCaller). Every call needs the operator role.
//
// Retries: create, get, list, update, pause and resume are safe to repeat (a create of the
// same spec returns the schedule), so they are retried after UNAVAILABLE; delete and trigger
// are not (a repeated trigger would create a second task).
import {
  CatchUp as PbCatchUp,
  durationFromMs,
  msFromDuration,
  type Schedule as PbSchedule,
  type ScheduleServiceClient,
  type TaskTemplate as PbTaskTemplate,
} from "@spool/proto";
import { backoffOf, backoffSpecToPb, dateOf, taskFromPb } from "./convert.js";
import { SpoolError } from "./errors.js";
import type { UnaryCaller, UnaryRequest, UnaryResponse } from "./unary-caller.js";
import type { Backoff, Task } from "./types.js";

/** What a schedule does with ticks no replica fired within a minute (every replica was down). */
export type CatchUp = "skip" | "once" | "all";

/** The task each tick creates: CreateTask's fields that do not depend on the moment. */
export interface TaskTemplate {
  kind: string;
  input?: unknown;
  /** Default "default". */
  queue?: string;
  /** -1000..1000; default 0. */
  priority?: number;
  /** 1..100; default 3. */
  maxAttempts?: number;
  /** Execution limit of one attempt, in ms (1 s..24 h); default 15 min. */
  timeoutMs?: number;
  labels?: Record<string, string>;
  concurrencyKey?: string;
  /** Unset fields take the kind's, else the defaults. */
  backoff?: Partial<Backoff>;
}

/** A schedule to create or update: its name and spec. Exactly one of `cron` and `intervalMs`. */
export interface ScheduleSpec {
  /** Unique within the tenant: 1 to 200 letters, digits, '.', '_', '-', ':', '/'. */
  name: string;
  /** 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; read by croner. */
  cron?: string;
  /** Fixed interval between ticks, in ms, at least 1000; ticks fall on the creation time + n * interval. */
  intervalMs?: number;
  /** IANA zone `cron` is read in, e.g. "Europe/Berlin"; default "UTC". Ticks follow its clock across DST. */
  timeZone?: string;
  task: TaskTemplate;
  /** Missed ticks: "skip" them (default), run the latest "once", or run "all" up to catchUpLimit. */
  catchUp?: CatchUp;
  /** With catchUp "all": most missed ticks run, 1..1000; default 100. */
  catchUpLimit?: number;
}

export interface Schedule {
  name: string;
  cron: string | undefined;
  intervalMs: number | undefined;
  timeZone: string;
  /** The template, with the service's defaults filled in. */
  task: Required<Omit<TaskTemplate, "concurrencyKey" | "backoff">> & { concurrencyKey: string | undefined; backoff: Backoff };
  catchUp: CatchUp;
  catchUpLimit: number;
  paused: boolean;
  /** When the next tick is due; undefined while paused (or when no tick is left). */
  nextRunAt: Date | undefined;
  /** The latest tick that created a task. */
  lastRunAt: Date | undefined;
  tenant: string;
  createdBy: string;
  createdAt: Date;
  /** When its spec last changed. */
  updatedAt: Date;
}

export interface ScheduleCallOptions {
  /** The tenant of the schedule: default, the caller's own; another needs the admin role. */
  tenant?: string;
}

export interface SchedulePage {
  schedules: Schedule[];
  /** Undefined on the last page. */
  nextPageToken: string | undefined;
}

export interface ListSchedulesOptions extends ScheduleCallOptions {
  /** Schedules per page, 1..1000; default 100. */
  pageSize?: number;
  /** nextPageToken of the previous page. */
  pageToken?: string;
}

/** What upsert did: created the schedule, found it with the same spec, or updated its spec. */
export type UpsertOutcome = "created" | "unchanged" | "updated";

const catchUpToPb: Record<CatchUp, PbCatchUp> = {
  skip: PbCatchUp.CATCH_UP_SKIP,
  once: PbCatchUp.CATCH_UP_ONCE,
  all: PbCatchUp.CATCH_UP_ALL,
};

export class ScheduleClient {
  /** Made by SpoolClient (`client.schedules`): it shares the client's channel and caller. */
  constructor(
    private readonly client: ScheduleServiceClient,
    private readonly caller: UnaryCaller,
  ) {}

  /**
   * Creates a schedule. Safe at every boot: with a schedule of that name and the same spec it
   * returns that one (created false); with another spec it rejects with `already_exists`
   * (see upsert). `paused` creates it paused.
   */
  async create(spec: ScheduleSpec, options: ScheduleCallOptions & { paused?: boolean } = {}): Promise<{ schedule: Schedule; created: boolean }> {
    const response = await this.#unary("createSchedule", { schedule: scheduleToPb(spec), paused: options.paused ?? false, tenant: options.tenant ?? "" }, true);
    return { schedule: scheduleFromPb(response.schedule), created: response.created };
  }

  /**
   * Creates the schedule, or brings an existing one of that name to this spec: what code
   * that registers its schedules at every boot wants. `paused` applies to a schedule it
   * creates; an existing one keeps its state (one an operator paused stays paused).
   */
  async upsert(spec: ScheduleSpec, options: ScheduleCallOptions & { paused?: boolean } = {}): Promise<{ schedule: Schedule; outcome: UpsertOutcome }> {
    try {
      const { schedule, created } = await this.create(spec, options);
      return { schedule, outcome: created ? "created" : "unchanged" };
    } catch (error) {
      if (!(error instanceof SpoolError) || error.code !== "already_exists") throw error;
      return { schedule: await this.update(spec, { tenant: options.tenant }), outcome: "updated" };
    }
  }

  async get(name: string, options: ScheduleCallOptions = {}): Promise<Schedule> {
    return scheduleFromPb((await this.#unary("getSchedule", { name, tenant: options.tenant ?? "" }, true)).schedule);
  }

  /** Every schedule of the tenant, in name order, fetching pages as the loop goes. */
  async *list(options: Omit<ListSchedulesOptions, "pageToken"> = {}): AsyncGenerator<Schedule> {
    let pageToken: string | undefined;
    do {
      const page = await this.listPage({ ...options, pageToken });
      yield* page.schedules;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** One page of the tenant's schedules, in name order. */
  async listPage(options: ListSchedulesOptions = {}): Promise<SchedulePage> {
    const response = await this.#unary(
      "listSchedules",
      { pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "", tenant: options.tenant ?? "" },
      true,
    );
    return { schedules: response.schedules.map(scheduleFromPb), nextPageToken: response.nextPageToken || undefined };
  }

  /** Replaces a schedule's spec (all of it but the name); its next tick is computed again from now. */
  async update(spec: ScheduleSpec, options: ScheduleCallOptions = {}): Promise<Schedule> {
    return scheduleFromPb((await this.#unary("updateSchedule", { schedule: scheduleToPb(spec), tenant: options.tenant ?? "" }, true)).schedule);
  }

  /** Deletes a schedule: it never fires again. Tasks it created are kept. */
  async delete(name: string, options: ScheduleCallOptions = {}): Promise<void> {
    await this.#unary("deleteSchedule", { name, tenant: options.tenant ?? "" }, false);
  }

  /** Stops a schedule firing until resume; ticks meanwhile are skipped, whatever its catch-up. */
  async pause(name: string, options: ScheduleCallOptions = {}): Promise<Schedule> {
    return scheduleFromPb((await this.#unary("pauseSchedule", { name, tenant: options.tenant ?? "" }, true)).schedule);
  }

  /** Lets a paused schedule fire again, from its next tick after now. */
  async resume(name: string, options: ScheduleCallOptions = {}): Promise<Schedule> {
    return scheduleFromPb((await this.#unary("resumeSchedule", { name, tenant: options.tenant ?? "" }, true)).schedule);
  }

  /** Creates one task from the schedule's template now, paused or not; its ticks stay as they were. */
  async trigger(name: string, options: ScheduleCallOptions = {}): Promise<Task> {
    return taskFromPb((await this.#unary("triggerSchedule", { name, tenant: options.tenant ?? "" }, false)).task);
  }

  #unary<M extends keyof ScheduleServiceClient & string>(
    method: M,
    request: UnaryRequest<ScheduleServiceClient, M>,
    idempotent: boolean,
  ): Promise<UnaryResponse<ScheduleServiceClient, M>> {
    return this.caller.call(this.client, method, request, idempotent);
  }
}

function scheduleToPb(spec: ScheduleSpec): PbSchedule {
  return {
    name: spec.name,
    cron: spec.cron ?? "",
    interval: spec.intervalMs === undefined ? undefined : durationFromMs(spec.intervalMs),
    timeZone: spec.timeZone ?? "",
    task: templateToPb(spec.task),
    catchUp: spec.catchUp === undefined ? PbCatchUp.CATCH_UP_UNSPECIFIED : catchUpToPb[spec.catchUp],
    catchUpLimit: spec.catchUpLimit ?? 0,
    // Output only.
    paused: false,
    nextRunAt: undefined,
    lastRunAt: undefined,
    tenant: "",
    createdBy: "",
    createdAt: undefined,
    updatedAt: undefined,
  };
}

function templateToPb(task: TaskTemplate): PbTaskTemplate {
  return {
    kind: task.kind,
    input: task.input,
    queue: task.queue ?? "",
    priority: task.priority ?? 0,
    maxAttempts: task.maxAttempts ?? 0,
    timeout: task.timeoutMs === undefined ? undefined : durationFromMs(task.timeoutMs),
    labels: task.labels ?? {},
    concurrencyKey: task.concurrencyKey ?? "",
    backoff: backoffSpecToPb(task.backoff),
  };
}

function scheduleFromPb(schedule: PbSchedule | undefined): Schedule {
  if (!schedule) throw new SpoolError("internal", "response carries no schedule", 13);
  const task = schedule.task;
  return {
    name: schedule.name,
    cron: schedule.cron || undefined,
    intervalMs: schedule.interval && msFromDuration(schedule.interval),
    timeZone: schedule.timeZone,
    task: {
      kind: task?.kind ?? "",
      input: task?.input ?? null,
      queue: task?.queue ?? "",
      priority: task?.priority ?? 0,
      maxAttempts: task?.maxAttempts ?? 0,
      timeoutMs: task?.timeout ? msFromDuration(task.timeout) : 0,
      labels: task?.labels ?? {},
      concurrencyKey: task?.concurrencyKey || undefined,
      backoff: backoffOf(task?.backoff),
    },
    catchUp: schedule.catchUp === PbCatchUp.CATCH_UP_ALL ? "all" : schedule.catchUp === PbCatchUp.CATCH_UP_ONCE ? "once" : "skip",
    catchUpLimit: schedule.catchUpLimit,
    paused: schedule.paused,
    nextRunAt: schedule.nextRunAt && dateOf(schedule.nextRunAt),
    lastRunAt: schedule.lastRunAt && dateOf(schedule.lastRunAt),
    tenant: schedule.tenant,
    createdBy: schedule.createdBy,
    createdAt: dateOf(schedule.createdAt),
    updatedAt: dateOf(schedule.updatedAt),
  };
}

// ScheduleService requests as domain values, or INVALID_ARGUMENT naming the field
// (`schedule.cron: ...`, `schedule.task.kind: ...`). The template is checked by CreateTask's
// own rules (validate.ts), the cron expression and time zone by croner and Intl (ticks.ts).
import {
  CatchUp as PbCatchUp,
  msFromDuration,
  type Duration,
  type ListSchedulesRequest,
  type Schedule as PbSchedule,
} from "@spool/proto";
import { limits as nameLimits } from "../auth/names.js";
import { scheduleDefaults, scheduleLimits, type CatchUp, type ScheduleSpec } from "../domain/schedule.js";
import { quote, SpoolError } from "../errors.js";
import { checkCronRule, checkTimeZone } from "../schedules/ticks.js";
import { keyOfPageToken, pageSizeFrom, pageTokenOf } from "./page-token.js";
import { refuseNul, taskFieldsFromPb, type KindBackoff } from "./validate.js";

const invalid = SpoolError.invalidArgument;

const namePattern = /^[A-Za-z0-9._:/-]+$/;

/** A schedule's name: 1 to 200 letters, digits, '.', '_', '-', ':', '/'. */
export function scheduleNameFrom(field: string, name: string): string {
  refuseNul(field, name);
  if (name === "") throw invalid(field, "is required");
  if (name.length > scheduleLimits.nameLength || !namePattern.test(name)) {
    throw invalid(field, `${quote(name)} must be 1 to ${scheduleLimits.nameLength} letters, digits, '.', '_', '-', ':' or '/'`);
  }
  return name;
}

/**
 * The name and spec of a CreateSchedule or UpdateSchedule request's schedule; output-only
 * fields are ignored. The template's input is checked against its kind's schema by the caller.
 */
export function scheduleSpecFrom(
  schedule: PbSchedule | undefined,
  kinds: ReadonlySet<string>,
  kindBackoff: KindBackoff,
): { name: string; spec: ScheduleSpec } {
  if (!schedule) throw invalid("schedule", "is required");
  const name = scheduleNameFrom("schedule.name", schedule.name);

  refuseNul("schedule.time_zone", schedule.timeZone);
  if (schedule.timeZone.length > scheduleLimits.timeZoneLength) {
    throw invalid("schedule.time_zone", `is ${schedule.timeZone.length} characters; at most ${scheduleLimits.timeZoneLength}`);
  }
  const timeZone = schedule.timeZone || scheduleDefaults.timeZone;
  checkTimeZone(timeZone, "schedule.time_zone");

  refuseNul("schedule.cron", schedule.cron);
  if (schedule.cron !== "" && schedule.interval !== undefined) {
    throw invalid("schedule.interval", "is set, and so is cron: give exactly one of cron and interval");
  }
  if (schedule.cron === "" && schedule.interval === undefined) throw invalid("schedule.cron", "is required, unless interval is set");
  let cron: string | undefined;
  let intervalMs: number | undefined;
  if (schedule.cron !== "") {
    if (schedule.cron.length > scheduleLimits.cronLength) {
      throw invalid("schedule.cron", `is ${schedule.cron.length} characters; at most ${scheduleLimits.cronLength}`);
    }
    cron = schedule.cron;
    checkCronRule(cron, "schedule.cron", timeZone, "schedule.time_zone");
  } else {
    intervalMs = intervalFrom("schedule.interval", schedule.interval!);
  }

  if (!schedule.task) throw invalid("schedule.task", "is required: the task each tick creates");
  const task = taskFieldsFromPb(schedule.task, kinds, kindBackoff, "schedule.task.");

  const catchUp = catchUpFrom(schedule.catchUp);
  let catchUpLimit = schedule.catchUpLimit;
  if (catchUp === "all") {
    catchUpLimit ||= scheduleDefaults.catchUpLimit;
    if (catchUpLimit < 1 || catchUpLimit > scheduleLimits.catchUpLimit) {
      throw invalid("schedule.catch_up_limit", `${catchUpLimit} is out of range 1..${scheduleLimits.catchUpLimit}`);
    }
  } else if (catchUpLimit !== 0) {
    throw invalid("schedule.catch_up_limit", `applies to CATCH_UP_ALL only; leave it 0 with ${catchUp === "skip" ? "CATCH_UP_SKIP" : "CATCH_UP_ONCE"}`);
  }
  return { name, spec: { cron, intervalMs, timeZone, task, catchUp, catchUpLimit } };
}

/** An interval in whole ms, from 1 s to ten years. */
function intervalFrom(field: string, duration: Duration): number {
  const { seconds, nanos } = duration;
  const range = `must be from 1s to ${scheduleLimits.maxIntervalMs / 86_400_000} days`;
  if (seconds < 0n || nanos < 0 || nanos > 999_999_999 || seconds > BigInt(scheduleLimits.maxIntervalMs / 1000)) throw invalid(field, range);
  if (nanos % 1_000_000 !== 0) throw invalid(field, "must be a whole number of milliseconds");
  const ms = msFromDuration(duration);
  if (ms < scheduleLimits.minIntervalMs || ms > scheduleLimits.maxIntervalMs) throw invalid(field, range);
  return ms;
}

function catchUpFrom(value: PbCatchUp): CatchUp {
  switch (value) {
    case PbCatchUp.CATCH_UP_UNSPECIFIED:
    case PbCatchUp.CATCH_UP_SKIP:
      return "skip";
    case PbCatchUp.CATCH_UP_ONCE:
      return "once";
    case PbCatchUp.CATCH_UP_ALL:
      return "all";
    default:
      throw invalid("schedule.catch_up", `${value} is not a CatchUp (CATCH_UP_SKIP, CATCH_UP_ONCE or CATCH_UP_ALL)`);
  }
}

/** Most characters of a page token: a tenant and a name, as JSON in base64url. */
const maxPageTokenLength = 4 * (nameLimits.tenantLength + scheduleLimits.nameLength) * 2;

export interface SchedulePage {
  afterName: string | undefined;
  limit: number;
}

/** A ListSchedules page, for `tenant` (its token cannot be taken to another tenant). */
export function schedulePageFrom(request: ListSchedulesRequest, tenant: string): SchedulePage {
  const limit = pageSizeFrom(request.pageSize, scheduleLimits.pageSize, scheduleLimits.defaultPageSize);
  const [afterName] = keyOfPageToken(request.pageToken, tenant, 1, maxPageTokenLength) ?? [];
  return { afterName, limit };
}

export function schedulePageTokenFor(tenant: string, lastName: string): string {
  return pageTokenOf(tenant, [lastName]);
}

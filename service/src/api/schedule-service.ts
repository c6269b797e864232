// The spool.v1.ScheduleService handlers: every call needs the operator role, and acts in the
// caller's tenant unless `tenant` names another (admin only: auth/access.ts). Requests are
// checked by validate-schedule.ts (a template by CreateTask's rules, its input against its
// kind's schema), then handed to the schedule operations (schedules/schedule-book.ts).
import type { handleUnaryCall, UntypedHandleCall } from "@grpc/grpc-js";
import type { ScheduleServiceServer } from "@spool/proto";
import type { Logger } from "pino";
import { tenantFor } from "../auth/access.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { Principal } from "../auth/principal.js";
import type { TaskOperations } from "../domain/operations.js";
import type { ScheduleOperations } from "../domain/schedule.js";
import { taskToPb } from "./convert.js";
import { scheduleToPb } from "./convert-schedule.js";
import { unaryHandler } from "./unary-handler.js";
import { scheduleNameFrom, schedulePageFrom, schedulePageTokenFor, scheduleSpecFrom } from "./validate-schedule.js";
import { tenantFieldFrom } from "./validate.js";

export function scheduleService(
  schedules: ScheduleOperations,
  tasks: Pick<TaskOperations, "kinds" | "checkInput" | "kindBackoff">,
  log: Logger,
  auth: Authenticator,
): ScheduleServiceServer & Record<string, UntypedHandleCall> {
  const unary = <Req extends { tenant: string }, Res>(
    method: string,
    handle: (request: Req, tenant: string, principal: Principal) => Promise<Res>,
  ): handleUnaryCall<Req, Res> =>
    unaryHandler(auth, log, "operator", method, (request: Req, principal) => handle(request, tenantFor(principal, tenantFieldFrom(request.tenant)), principal));

  /** The spec of a create or update, its template's input checked against the kind's schema (stored as given). */
  const specOf = async (schedule: Parameters<typeof scheduleSpecFrom>[0]) => {
    const checked = scheduleSpecFrom(schedule, tasks.kinds, (kind) => tasks.kindBackoff(kind));
    await tasks.checkInput(checked.spec.task.kind, checked.spec.task.input, "schedule.task.input");
    return checked;
  };

  return {
    createSchedule: unary("CreateSchedule", async (request, tenant, principal) => {
      const { name, spec } = await specOf(request.schedule);
      const { schedule, created } = await schedules.create(tenant, name, spec, principal.subject, request.paused);
      return { schedule: scheduleToPb(schedule), created };
    }),

    getSchedule: unary("GetSchedule", async (request, tenant) => ({
      schedule: scheduleToPb(await schedules.get(tenant, scheduleNameFrom("name", request.name))),
    })),

    listSchedules: unary("ListSchedules", async (request, tenant) => {
      const page = schedulePageFrom(request, tenant);
      const found = await schedules.list(tenant, page.afterName, page.limit + 1);
      const shown = found.slice(0, page.limit);
      return {
        schedules: shown.map(scheduleToPb),
        nextPageToken: found.length > page.limit ? schedulePageTokenFor(tenant, shown.at(-1)!.name) : "",
      };
    }),

    updateSchedule: unary("UpdateSchedule", async (request, tenant) => {
      const { name, spec } = await specOf(request.schedule);
      return { schedule: scheduleToPb(await schedules.update(tenant, name, spec)) };
    }),

    deleteSchedule: unary("DeleteSchedule", async (request, tenant) => {
      await schedules.delete(tenant, scheduleNameFrom("name", request.name));
      return {};
    }),

    pauseSchedule: unary("PauseSchedule", async (request, tenant) => ({
      schedule: scheduleToPb(await schedules.pause(tenant, scheduleNameFrom("name", request.name))),
    })),

    resumeSchedule: unary("ResumeSchedule", async (request, tenant) => ({
      schedule: scheduleToPb(await schedules.resume(tenant, scheduleNameFrom("name", request.name))),
    })),

    triggerSchedule: unary("TriggerSchedule", async (request, tenant, principal) => ({
      // Operators see server details (auth/access.ts).
      task: taskToPb(await schedules.trigger(tenant, scheduleNameFrom("name", request.name), principal.subject)),
    })),
  };
}

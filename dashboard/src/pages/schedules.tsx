// Schedules: each with its cron in words (cronstrue) or its interval, its time zone, the next
// and last runs, with pause, resume and trigger. ScheduleService needs the operator role, so a
// submitter is told so rather than shown a refusal. Refreshes every 5 s.
import type { Schedule } from "@spool/proto/es/spool/v1/schedule_service_pb";
import cronstrue from "cronstrue";
import { useState } from "preact/hooks";
import { errorText, schedules } from "../api.js";
import { durationMs, relative, span, time } from "../format.js";
import { usePoll } from "../poll.js";
import { href } from "../route.js";
import { can, useSession } from "../session.js";
import { Alert, NeedsRole, Pager, Status } from "../parts/notes.js";

function inWords(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return "";
  }
}

export function Schedules() {
  const session = useSession();
  const operator = can(session, "operator");
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens.at(-1) ?? "";
  const page = usePoll(async () => (operator ? schedules.listSchedules({ pageSize: 100, pageToken }) : undefined), [pageToken, operator], 5000);
  const [note, setNote] = useState<string>();

  const act = async (verb: "pause" | "resume" | "trigger", schedule: Schedule) => {
    setNote(undefined);
    const request = { name: schedule.name, tenant: schedule.tenant };
    try {
      if (verb === "pause") await schedules.pauseSchedule(request);
      else if (verb === "resume") await schedules.resumeSchedule(request);
      else {
        const fired = await schedules.triggerSchedule(request);
        setNote(`Triggered ${schedule.name}: task ${fired.task?.id ?? ""}`);
      }
      page.reload();
    } catch (error) {
      setNote(errorText(error));
    }
  };

  if (!operator) {
    return <NeedsRole title="Schedules">Schedules need the operator role.</NeedsRole>;
  }
  const rows = page.data?.schedules ?? [];
  return (
    <>
      <h1>Schedules</h1>
      <Alert text={page.error} />
      <Status text={note} />
      <table>
        <thead>
          <tr>
            <th scope="col">Schedule</th>
            <th scope="col">When</th>
            <th scope="col">Task</th>
            <th scope="col">Next run</th>
            <th scope="col">Last run</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={`${s.tenant}/${s.name}`} data-schedule={s.name}>
              <th scope="row">
                <a href={href("/tasks", { schedule: s.name })}>{s.name}</a>
              </th>
              <td>
                {s.cron ? (
                  <>
                    <code>{s.cron}</code>
                    <div class="words">{inWords(s.cron)}</div>
                  </>
                ) : (
                  <>every {span(durationMs(s.interval))}</>
                )}
                {s.timeZone && <div class="muted">{s.timeZone}</div>}
              </td>
              <td>
                {s.task?.kind} <span class="muted">in {s.task?.queue || "default"}</span>
              </td>
              <td>
                {s.paused ? "paused" : time(s.nextRunAt)} <div class="muted">{!s.paused && relative(s.nextRunAt)}</div>
              </td>
              <td>{s.lastRunAt ? time(s.lastRunAt) : "never"}</td>
              <td>{s.paused ? <span class="badge paused">paused</span> : <span class="badge">active</span>}</td>
              <td>
                <div class="row-actions">
                  <button type="button" class="quiet" onClick={() => void act(s.paused ? "resume" : "pause", s)}>
                    {s.paused ? "Resume" : "Pause"}
                    <span class="visually-hidden"> schedule {s.name}</span>
                  </button>
                  <button type="button" class="quiet" onClick={() => void act("trigger", s)}>
                    Trigger<span class="visually-hidden"> schedule {s.name}</span>
                  </button>
                </div>
              </td>
            </tr>
          ))}
          {page.data && rows.length === 0 && (
            <tr>
              <td colSpan={7}>No schedules (spool schedules create, or ScheduleService/CreateSchedule).</td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="toolbar">
        <Pager tokens={tokens} next={page.data?.nextPageToken} onChange={setTokens} />
      </div>
    </>
  );
}

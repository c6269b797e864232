// How `spool schedules` renders schedules, without a service.
import { describe, expect, it } from "vitest";
import { defaultBackoff } from "@spool/proto";
import type { Schedule } from "../schedules.js";
import { Output } from "./format.js";
import { scheduleLine, scheduleTable, whenText } from "./schedules-command.js";

const schedule = (overrides: Partial<Schedule> = {}): Schedule => ({
  name: "reports/nightly",
  cron: "30 2 * * *",
  intervalMs: undefined,
  timeZone: "Europe/Berlin",
  task: { kind: "demo.echo", input: null, queue: "default", priority: 0, maxAttempts: 3, timeoutMs: 900_000, labels: {}, concurrencyKey: undefined, backoff: defaultBackoff },
  catchUp: "skip",
  catchUpLimit: 0,
  paused: false,
  nextRunAt: new Date("2026-03-29T01:00:00Z"),
  lastRunAt: undefined,
  tenant: "default",
  createdBy: "anonymous",
  createdAt: new Date("2026-03-01T00:00:00Z"),
  updatedAt: new Date("2026-03-01T00:00:00Z"),
  ...overrides,
});

function capture() {
  const written: string[] = [];
  return { out: new Output({ isTTY: false, write: (text: string) => written.push(text) }, false), text: () => written.join("") };
}

describe("whenText", () => {
  it("is the cron expression, or the interval exactly in its largest units", () => {
    expect(whenText({ cron: "0 9 * * 1-5", intervalMs: undefined })).toBe("0 9 * * 1-5");
    expect(whenText({ cron: undefined, intervalMs: 1000 })).toBe("every 1s");
    expect(whenText({ cron: undefined, intervalMs: 90_000 })).toBe("every 1m30s");
    expect(whenText({ cron: undefined, intervalMs: 86_400_000 + 1500 })).toBe("every 1d1s500ms");
  });
});

describe("scheduleLine and scheduleTable", () => {
  it("show state, when (with the zone of a cron), next and last run, and the catch-up policy", () => {
    const { out, text } = capture();
    out.line(scheduleLine(out, schedule()));
    out.line(scheduleLine(out, schedule({ name: "p", cron: undefined, intervalMs: 3_600_000, paused: true, nextRunAt: undefined })));
    scheduleTable(out, [schedule({ catchUp: "all", catchUpLimit: 7, lastRunAt: new Date("2026-03-28T01:30:00Z") })]);
    expect(text().split("\n")).toEqual([
      "reports/nightly ACTIVE 30 2 * * * (Europe/Berlin) next run 2026-03-29T01:00:00.000Z",
      "p PAUSED every 1h next run -",
      "NAME             STATE   WHEN        TZ             KIND       QUEUE    NEXT RUN                  LAST RUN                  CATCH-UP",
      "reports/nightly  ACTIVE  30 2 * * *  Europe/Berlin  demo.echo  default  2026-03-29T01:00:00.000Z  2026-03-28T01:30:00.000Z  all (7)",
      "",
    ]);
  });
});

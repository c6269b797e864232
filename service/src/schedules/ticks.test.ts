import { describe, expect, it } from "vitest";
import { SpoolError } from "../errors.js";
import { checkCronRule, lastInstant, nextTick, planTicks, previousTicks, type TickRule } from "./ticks.js";

const at = (iso: string) => new Date(iso);
const iso = (dates: (Date | undefined)[]) => dates.map((d) => d?.toISOString());
const cron = (expression: string, timeZone = "UTC"): TickRule => ({ type: "cron", cron: expression, timeZone });
/** The n ticks after `from`, walked with nextTick as the ticker walks them. */
function walk(rule: TickRule, from: string, n: number): (string | undefined)[] {
  const ticks: (Date | undefined)[] = [];
  let after: Date | undefined = at(from);
  for (let i = 0; i < n && after; i++) ticks.push((after = nextTick(rule, after)));
  return iso(ticks);
}

describe("cron ticks", () => {
  it("are strictly after the given time, read in UTC by default", () => {
    expect(walk(cron("0 * * * *"), "2026-01-01T00:00:00Z", 2)).toEqual(["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"]);
    expect(walk(cron("0 * * * *"), "2026-01-01T00:59:59.999Z", 1)).toEqual(["2026-01-01T01:00:00.000Z"]);
  });

  it("read a sixth field as seconds, first", () => {
    expect(walk(cron("*/20 * * * * *"), "2026-01-01T00:00:00Z", 4)).toEqual([
      "2026-01-01T00:00:20.000Z",
      "2026-01-01T00:00:40.000Z",
      "2026-01-01T00:01:00.000Z",
      "2026-01-01T00:01:20.000Z",
    ]);
    expect(walk(cron("30 0 12 * * *", "Europe/Berlin"), "2026-06-01T00:00:00Z", 1)).toEqual(["2026-06-01T10:00:30.000Z"]);
  });

  describe("in Europe/Berlin across daylight saving (2026: 29 March 02:00 -> 03:00, 25 October 03:00 -> 02:00)", () => {
    const berlin = (expression: string) => cron(expression, "Europe/Berlin");

    it("keep a daily time on the zone's clock: 09:00 is 08:00Z in winter and 07:00Z in summer", () => {
      expect(walk(berlin("0 9 * * *"), "2026-03-28T00:00:00Z", 3)).toEqual([
        "2026-03-28T08:00:00.000Z",
        "2026-03-29T07:00:00.000Z",
        "2026-03-30T07:00:00.000Z",
      ]);
      expect(walk(berlin("0 9 * * *"), "2026-10-24T00:00:00Z", 3)).toEqual([
        "2026-10-24T07:00:00.000Z",
        "2026-10-25T08:00:00.000Z",
        "2026-10-26T08:00:00.000Z",
      ]);
    });

    it("spring forward: a single time in the skipped hour runs once, at 03:00; an hourly one has no 02:00", () => {
      expect(walk(berlin("30 2 * * *"), "2026-03-28T00:00:00Z", 3)).toEqual([
        "2026-03-28T01:30:00.000Z", // 02:30 CET
        "2026-03-29T01:00:00.000Z", // 03:00 CEST: the first valid time after the gap
        "2026-03-30T00:30:00.000Z", // 02:30 CEST
      ]);
      expect(walk(berlin("0 * * * *"), "2026-03-28T23:30:00Z", 4)).toEqual([
        "2026-03-29T00:00:00.000Z", // 01:00 CET
        "2026-03-29T01:00:00.000Z", // 03:00 CEST
        "2026-03-29T02:00:00.000Z", // 04:00 CEST
        "2026-03-29T03:00:00.000Z",
      ]);
    });

    it("fall back: a single time in the repeated hour runs once (the first 02:30); an hourly one runs at both 02:00s", () => {
      expect(walk(berlin("30 2 * * *"), "2026-10-24T00:00:00Z", 3)).toEqual([
        "2026-10-24T00:30:00.000Z", // 02:30 CEST
        "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST); not again at 01:30Z (CET)
        "2026-10-26T01:30:00.000Z", // 02:30 CET
      ]);
      expect(walk(berlin("0 * * * *"), "2026-10-24T23:30:00Z", 4)).toEqual([
        "2026-10-25T00:00:00.000Z", // 02:00 CEST
        "2026-10-25T01:00:00.000Z", // 02:00 CET
        "2026-10-25T02:00:00.000Z", // 03:00 CET
        "2026-10-25T03:00:00.000Z",
      ]);
    });

    it("walk back exactly as they walk forward, through both changes (what catch-up relies on)", () => {
      for (const expression of ["30 2 * * *", "0 * * * *", "*/20 * * * *", "15 */7 2 * * *"]) {
        const rule = berlin(expression);
        for (const from of ["2026-03-27T00:00:00Z", "2026-10-23T00:00:00Z"]) {
          const forward = walk(rule, from, 150);
          const end = new Date(Date.parse(forward.at(-1)!) + 1);
          expect(iso(previousTicks(rule, end, 150)), expression).toEqual(forward);
        }
      }
    });
  });

  it("reach far dates, up to croner's horizon: the last tick is in year 2999", () => {
    expect(walk(cron("0 0 29 2 *"), "2026-03-01T00:00:00Z", 2)).toEqual(["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"]);
    expect(walk(cron("0 12 1 1 *", "Europe/Berlin"), "2998-06-01T00:00:00Z", 2)).toEqual(["2999-01-01T11:00:00.000Z", undefined]);
    expect(nextTick(cron("0 0 1 1 *"), new Date(lastInstant))).toBeUndefined();
  });

  it("refuse what croner cannot read, unknown time zones, and expressions that never fire, naming the field", () => {
    const refusal = (expression: string, zone = "UTC") => {
      try {
        checkCronRule(expression, "schedule.cron", zone, "schedule.time_zone");
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(SpoolError);
        return (error as SpoolError).message;
      }
    };
    expect(refusal("0 9 * * 1-5", "Europe/Berlin")).toBeUndefined();
    expect(refusal("*/2 * * * * *")).toBeUndefined();
    expect(refusal("@daily", "america/new_york")).toBeUndefined();
    expect(refusal("* * * *")).toMatch(/^schedule\.cron: is not a cron expression of 5 or 6 fields: /);
    expect(refusal("0 0 1 1 * 2030")).toMatch(/^schedule\.cron: is not a cron expression/); // no year field
    expect(refusal("0 0 1 1 * * 2030")).toMatch(/^schedule\.cron: is not a cron expression/);
    expect(refusal("61 * * * *")).toMatch(/^schedule\.cron: .*minute/);
    expect(refusal("every day")).toMatch(/^schedule\.cron: /);
    expect(refusal("0 0 30 2 *")).toMatch(/^schedule\.cron: "0 0 30 2 \*" matches no date: it would never fire$/);
    expect(refusal("0 9 * * *", "Mars/Olympus_Mons")).toMatch(/^schedule\.time_zone: "Mars\/Olympus_Mons" is not an IANA time zone/);
    expect(refusal("0 9 * * *", "+01:00")).toMatch(/^schedule\.time_zone: /);
  });
});

describe("interval ticks", () => {
  const anchor = at("2026-01-01T00:00:00.250Z");
  const every = (ms: number): TickRule => ({ type: "interval", intervalMs: ms, anchor });

  it("fall on anchor + n * interval, n >= 1, whatever time they are asked from", () => {
    expect(walk(every(1000), "2026-01-01T00:00:00.250Z", 3)).toEqual([
      "2026-01-01T00:00:01.250Z",
      "2026-01-01T00:00:02.250Z",
      "2026-01-01T00:00:03.250Z",
    ]);
    expect(walk(every(1000), "2025-12-31T00:00:00Z", 1)).toEqual(["2026-01-01T00:00:01.250Z"]); // before the anchor: the first
    expect(walk(every(1000), "2026-01-01T00:00:07.249Z", 1)).toEqual(["2026-01-01T00:00:07.250Z"]);
    expect(walk(every(1000), "2026-01-01T00:00:07.250Z", 1)).toEqual(["2026-01-01T00:00:08.250Z"]);
    expect(iso(previousTicks(every(1000), at("2026-01-01T00:00:07.250Z"), 3))).toEqual([
      "2026-01-01T00:00:04.250Z",
      "2026-01-01T00:00:05.250Z",
      "2026-01-01T00:00:06.250Z",
    ]);
    expect(previousTicks(every(1000), at("2026-01-01T00:00:02Z"), 5)).toHaveLength(1); // none before the first
  });

  it("ignore daylight saving: fixed instants", () => {
    expect(walk(every(3_600_000), "2026-03-29T00:30:00Z", 2)).toEqual(["2026-03-29T01:00:00.250Z", "2026-03-29T02:00:00.250Z"]);
  });

  it("reach far dates exactly and end at the Timestamp range", () => {
    const tenYears = 3650 * 86_400_000;
    const from = at("9000-01-01T00:00:00Z");
    const tick = nextTick(every(tenYears), from)!;
    expect(tick > from && tick.getTime() - tenYears <= from.getTime()).toBe(true);
    expect((tick.getTime() - anchor.getTime()) % tenYears).toBe(0);
    expect(nextTick(every(tenYears), at("9999-06-01T00:00:00Z"))).toBeUndefined();
    expect(nextTick(every(1000), new Date(lastInstant - 1))).toBeUndefined(); // anchor .250: the next would be 10000-01-01T00:00:00.250Z
  });
});

describe("planTicks", () => {
  const rule: TickRule = { type: "interval", intervalMs: 1000, anchor: at("2026-01-01T00:00:00Z") };
  const now = at("2026-01-01T01:00:00.000Z");
  const t = (s: number) => new Date(Date.parse("2026-01-01T01:00:00Z") + s * 1000).toISOString();

  it("fires the due tick, and every tick since that is still within a minute of now", () => {
    expect(iso(planTicks(rule, { catchUp: "skip" }, at(t(0)), now).fire)).toEqual([t(0)]);
    const late = planTicks(rule, { catchUp: "skip" }, at(t(-60)), now);
    expect(late.fire).toHaveLength(61); // -60 s is exactly a minute old: on time
    expect(late).toMatchObject({ missedSince: undefined, caughtUp: 0, next: at(t(1)) });
  });

  it("skips missed ticks with CATCH_UP_SKIP", () => {
    const plan = planTicks(rule, { catchUp: "skip" }, at(t(-3600)), now);
    expect(iso(plan.fire)).toEqual(iso(Array.from({ length: 61 }, (_, i) => at(t(i - 60)))));
    expect(plan).toMatchObject({ missedSince: at(t(-3600)), caughtUp: 0, next: at(t(1)) });
  });

  it("runs the latest missed tick once with CATCH_UP_ONCE", () => {
    const plan = planTicks(rule, { catchUp: "once" }, at(t(-3600)), now);
    expect(iso(plan.fire.slice(0, 2))).toEqual([t(-61), t(-60)]);
    expect(plan.fire).toHaveLength(62);
    expect(plan.caughtUp).toBe(1);
  });

  it("runs up to `limit` of the latest missed ticks with CATCH_UP_ALL, each once", () => {
    const plan = planTicks(rule, { catchUp: "all", limit: 100 }, at(t(-3600)), now);
    expect(plan.fire).toHaveLength(161);
    expect(iso([plan.fire[0], plan.fire[99], plan.fire[100]])).toEqual([t(-160), t(-61), t(-60)]);
    expect(new Set(plan.fire.map((d) => d.getTime())).size).toBe(161);
    // Fewer missed than the limit: all of them, from the due one.
    const few = planTicks(rule, { catchUp: "all", limit: 100 }, at(t(-65)), now);
    expect(iso(few.fire.slice(0, 6))).toEqual([t(-65), t(-64), t(-63), t(-62), t(-61), t(-60)]);
    expect(few).toMatchObject({ caughtUp: 5, missedSince: at(t(-65)) });
  });

  it("handles a year of missed per-second cron ticks without walking them (a walk would outlast the test)", () => {
    const everySecond = cron("* * * * * *");
    const plan = planTicks(everySecond, { catchUp: "all", limit: 1000 }, at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"));
    expect(plan.fire).toHaveLength(1061);
    expect(plan.next).toEqual(at("2026-01-01T00:00:01Z"));
  });

  it("fires cron ticks of a zone at the zone's times when late across a change", () => {
    const plan = planTicks(cron("30 2 * * *", "Europe/Berlin"), { catchUp: "all", limit: 10 }, at("2026-03-27T01:30:00Z"), at("2026-03-30T12:00:00Z"));
    expect(iso(plan.fire)).toEqual(["2026-03-27T01:30:00.000Z", "2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
    expect(plan.next).toEqual(at("2026-03-31T00:30:00Z"));
  });
});

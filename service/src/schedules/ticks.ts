// Ticks: the moments a schedule fires, and which of them a late ticker still fires.
//
// - A cron schedule ticks when croner says its expression matches, read in its IANA time
//   zone: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), or a
//   croner nickname (@daily...); day-of-month and day-of-week are ORed, as in Vixie cron.
//   Across daylight-saving changes (croner's rules, checked in ticks.test.ts): a time that a
//   spring-forward skips runs once, at the first valid time after the gap, when the
//   expression names a single hour and minute (`30 2 * * *` runs at 03:00); an expression
//   with a wildcard or step in those fields skips it (`0 * * * *` has no 02:00 that day). A
//   time that a fall-back repeats runs once for a single-time expression (at its first
//   occurrence) and at both occurrences otherwise (`0 * * * *` runs at both 02:00s).
// - An interval schedule ticks at anchor + n * interval for n >= 1, the anchor being its
//   creation time: fixed instants, whatever the time zone or DST.
// - No tick lies past 9999-12-31T23:59:59.999Z (the end of protobuf's Timestamp), and croner
//   looks no further than year 2999 for an expression: a schedule with no tick left is done,
//   and its next_run_at is null.
//
// Catch-up (planTicks): a tick is missed when no replica fired it within graceMs (a minute)
// of its time. The ticks of the last graceMs are always fired, one task each; missed ticks
// follow the schedule's policy: skip them, run the latest once, or run each of the latest
// `limit`. Nothing here walks the missed ticks one by one, so a schedule every second that
// was down for a year costs no more than one down for a minute.
import { Cron } from "croner";
import type { ScheduleSpec } from "../domain/schedule.js";
import { SpoolError } from "../errors.js";

/** The end of the protobuf Timestamp range: no tick lies beyond it. */
export const lastInstant = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** How late a tick may be fired before it counts as missed. */
export const catchUpGraceMs = 60_000;

export type TickRule =
  | { type: "cron"; cron: string; timeZone: string }
  /** Ticks at anchor + n * intervalMs, n >= 1 (all in epoch ms). */
  | { type: "interval"; intervalMs: number; anchor: Date };

export type CatchUpPolicy = { catchUp: "skip" } | { catchUp: "once" } | { catchUp: "all"; limit: number };

/** The ticks of a spec; `anchor` (the schedule's creation time) places an interval's ticks. */
export function ruleOf(spec: ScheduleSpec, anchor: Date): TickRule {
  if (spec.cron !== undefined) return { type: "cron", cron: spec.cron, timeZone: spec.timeZone };
  return { type: "interval", intervalMs: spec.intervalMs as number, anchor };
}

export function policyOf(spec: ScheduleSpec): CatchUpPolicy {
  return spec.catchUp === "all" ? { catchUp: "all", limit: spec.catchUpLimit } : { catchUp: spec.catchUp };
}

/** croner's reading of a 5- or 6-field expression in a zone; no job runs (no callback). */
function cronOf(rule: Extract<TickRule, { type: "cron" }>): Cron {
  return new Cron(rule.cron, { timezone: rule.timeZone, mode: "5-or-6-parts" });
}

/** The first tick strictly after `after`; undefined when there is none (up to year 9999). */
export function nextTick(rule: TickRule, after: Date): Date | undefined {
  if (rule.type === "cron") {
    const next = cronOf(rule).nextRun(after);
    return next && next.getTime() <= lastInstant ? next : undefined;
  }
  const elapsed = after.getTime() - rule.anchor.getTime();
  const n = Math.max(1, Math.floor(elapsed / rule.intervalMs) + 1);
  const at = rule.anchor.getTime() + n * rule.intervalMs;
  return at <= lastInstant ? new Date(at) : undefined;
}

/** Up to `count` ticks strictly before `before`, oldest first (so the latest is last). */
export function previousTicks(rule: TickRule, before: Date, count: number): Date[] {
  if (count <= 0) return [];
  if (rule.type === "cron") return cronOf(rule).previousRuns(count, before).reverse();
  const elapsed = before.getTime() - rule.anchor.getTime();
  const last = Math.ceil(elapsed / rule.intervalMs) - 1;
  const ticks: Date[] = [];
  for (let n = Math.max(1, last - count + 1); n <= last; n++) ticks.push(new Date(rule.anchor.getTime() + n * rule.intervalMs));
  return ticks;
}

export interface TickPlan {
  /** The ticks to fire now, oldest first: the missed ones the policy keeps, then those on time. */
  fire: Date[];
  /** The first missed tick, when some were missed (whatever the policy did with them). */
  missedSince: Date | undefined;
  /** How many of the missed ticks are fired (the rest are skipped). */
  caughtUp: number;
  /** The next tick after now: the schedule's new next_run_at (undefined: none is left). */
  next: Date | undefined;
}

/**
 * What a ticker does with a schedule whose next tick, `due`, has come: `now` is the
 * database's clock. Ticks in [due, now - graceMs) are missed; those in [max(due, now -
 * graceMs), now] are on time.
 */
export function planTicks(rule: TickRule, policy: CatchUpPolicy, due: Date, now: Date, graceMs = catchUpGraceMs): TickPlan {
  const graceStart = new Date(now.getTime() - graceMs);
  const fire: Date[] = [];
  let missedSince: Date | undefined;
  let caughtUp = 0;
  let tick: Date | undefined = due;
  if (due < graceStart) {
    missedSince = due;
    const kept = policy.catchUp === "skip" ? 0 : policy.catchUp === "once" ? 1 : policy.limit;
    const missed = previousTicks(rule, graceStart, kept).filter((t) => t >= due);
    fire.push(...missed);
    caughtUp = missed.length;
    // The first tick at or after graceStart (ticks are whole ms).
    tick = nextTick(rule, new Date(graceStart.getTime() - 1));
  }
  while (tick !== undefined && tick <= now) {
    fire.push(tick);
    tick = nextTick(rule, tick);
  }
  return { fire, missedSince, caughtUp, next: tick };
}

/**
 * A cron expression and time zone checked: INVALID_ARGUMENT naming the field when croner
 * cannot read the expression, the zone is not an IANA zone this runtime knows, or the
 * expression never matches a date (`0 0 30 2 *`).
 */
export function checkCronRule(cron: string, cronField: string, timeZone: string, zoneField: string): void {
  checkTimeZone(timeZone, zoneField);
  let next: Date | undefined;
  try {
    next = nextTick({ type: "cron", cron, timeZone }, new Date());
  } catch (error) {
    const problem = (error as Error).message.replace(/^CronPattern: /, "");
    throw SpoolError.invalidArgument(cronField, `is not a cron expression of 5 or 6 fields: ${problem}`);
  }
  if (!next) throw SpoolError.invalidArgument(cronField, `${JSON.stringify(cron)} matches no date: it would never fire`);
}

/** A zone name the runtime's time zone database knows (case-insensitive, as Intl reads it). */
export function checkTimeZone(timeZone: string, field: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw SpoolError.invalidArgument(field, `${JSON.stringify(timeZone.slice(0, 64))} is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`);
  }
}

// Ticker: fires due schedules, on every replica. No leader: whichever replica takes a due
// schedule's row fires it.
//
// - One transaction per schedule: take one due row (next_run_at <= now(), FOR UPDATE SKIP
//   LOCKED), plan its ticks (ticks.ts: catch-up), create their tasks (tick-tasks.ts: the
//   CreateTask path, quotas included, insertTasks with the tick index), move next_run_at and
//   last_run_at on, commit. Until the commit nothing is visible, and a replica that dies
//   meanwhile has its transaction rolled back: the row is due again for another replica.
//   Exactly one task per tick, whichever replicas race, crash or restart: the row lock keeps
//   two tickers off one row, and tasks_schedule_tick_idx would refuse a second task anyway.
// - Times are the database's. The ticker asks it when the next schedule is due and how far
//   away that is, and sleeps that long on a local timer: replicas whose clocks disagree
//   neither double nor skip a tick. It sleeps at most maxSleepMs (a minute, well below a
//   timer's 2^31-1 ms), so even a lost notice delays a tick by less than the catch-up grace.
// - `poke()` (a `s:` notice: a schedule changed somewhere, or the LISTEN reconnected) makes
//   it read again at once.
// - A replica fires only schedules of kinds it has handlers for, as it claims only such
//   tasks: during a rolling deploy that adds a kind, the replicas that know it fire its
//   schedules. Ticks of a kind no replica knows wait, and are missed after a minute.
// - Failures of one schedule hold back that schedule only, on this replica:
//     * quotas refuse its tasks (RESOURCE_EXHAUSTED): nothing is stored, next_run_at stays,
//       and it is tried again once the refusal's retry delay has passed. A tick refused for
//       over a minute becomes missed and its catch-up policy decides (skip, once, all): no
//       tick is lost silently, each refusal is logged;
//     * its template no longer passes its kind's input schema (the kind changed since the
//       schedule was stored): no retry can help, so its due ticks are skipped with an error
//       in the log, and it goes on from its next tick;
//     * anything else (the database): it is tried again after a backoff (1 s doubling to
//       30 s), while the other schedules go on.
//   A failure to reach the database at all stops the loop for the same backoff.
import type { Logger } from "pino";
import type { ReadyTemplate, Schedule } from "../domain/schedule.js";
import type { TaskEvents } from "../domain/task-events.js";
import { SpoolError } from "../errors.js";
import type { Pool } from "../store/database.js";
import { advanceSchedule, lockDueSchedule, nextDue, type ScheduleKey } from "../store/schedules.js";
import { createTickTasks } from "./tick-tasks.js";
import { catchUpGraceMs, planTicks, policyOf, ruleOf, type TickPlan } from "./ticks.js";

/** Longest sleep between reads of the next due time. */
const maxSleepMs = 60_000;
/** Wait before looking again at a due schedule that another replica is firing right now. */
const lockedRetryMs = 25;
const retryBaseMs = 1000;
const retryMaxMs = 30_000;

export interface TickerOptions {
  sql: Pool;
  /** Kinds with a handler on this replica. */
  kinds: () => ReadonlySet<string>;
  ready: ReadyTemplate;
  log: Logger;
  /** How late a tick may fire before it counts as missed; default a minute (tests shorten it). */
  graceMs?: number;
  /** Told of the tasks ticks created (metrics). */
  events: Pick<TaskEvents, "created">;
}

/** What firing one schedule did, told once it is committed. */
interface Fired {
  schedule: Schedule;
  plan: TickPlan;
  /** Tasks created (a tick that already had its task creates none). */
  created: number;
  /** Why its template was refused, its ticks skipped. */
  refused: SpoolError | undefined;
}

interface HeldBack {
  key: ScheduleKey;
  /** performance.now() before which this replica leaves the schedule alone. */
  until: number;
  failures: number;
}

export class Ticker {
  readonly #o: TickerOptions;
  readonly #heldBack = new Map<string, HeldBack>();
  #loop: Promise<void> | undefined;
  #stopped = false;
  #poked = false;
  #wake: (() => void) | undefined;

  constructor(options: TickerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Reads the schedules again now (one changed, or notices may have been missed). */
  poke(): void {
    this.#poked = true;
    this.#wake?.();
  }

  /** Stops after the schedule being fired, if any, is committed or rolled back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      this.#poked = false;
      let sleepMs: number;
      try {
        sleepMs = await this.#fireDue();
        if (failures > 0) this.#o.log.info("schedules: database reachable again");
        failures = 0;
      } catch (error) {
        if (failures === 0) this.#o.log.warn({ err: SpoolError.from(error) }, "schedules: cannot read the due schedules; retrying");
        sleepMs = retryDelay(failures++);
      }
      if (!this.#poked) await this.#sleep(sleepMs);
    }
  }

  /** Sleeps `ms` (at most maxSleepMs), or until poke() or stop(). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, maxSleepMs)));
      this.#wake = done;
    });
  }

  /** Fires every due schedule this replica can take; resolves with the ms until the next is due. */
  async #fireDue(): Promise<number> {
    const kinds = [...this.#o.kinds()];
    if (kinds.length === 0) return maxSleepMs;
    while (!this.#stopped && (await this.#fireOne(kinds, this.#heldBackKeys()))) {
      /* next */
    }
    const held = this.#heldBackKeys();
    const { waitMs } = await nextDue(this.#o.sql, kinds, held);
    const retryAt = Math.min(...held.map((key) => this.#heldBack.get(keyOf(key))!.until - performance.now()));
    const untilDue = waitMs === null ? maxSleepMs : waitMs > 0 ? waitMs : lockedRetryMs;
    return Math.min(untilDue, retryAt);
  }

  /** Schedules held back now. Forgets those whose wait ended long ago (gone, or fired elsewhere since). */
  #heldBackKeys(): ScheduleKey[] {
    const now = performance.now();
    const keys: ScheduleKey[] = [];
    for (const [id, held] of this.#heldBack) {
      if (held.until > now) keys.push(held.key);
      else if (held.until + 2 * retryMaxMs < now) this.#heldBack.delete(id);
    }
    return keys;
  }

  /** Fires one due schedule; false when none was due (that this replica could take). */
  async #fireOne(kinds: string[], heldBack: ScheduleKey[]): Promise<boolean> {
    const taking: { schedule?: Schedule } = {};
    let fired: Fired | undefined;
    try {
      fired = (await this.#o.sql.begin(async (tx) => {
        const due = await lockDueSchedule(tx, kinds, heldBack);
        if (!due) return undefined;
        const { schedule, now } = due;
        taking.schedule = schedule;
        const plan = planTicks(ruleOf(schedule, schedule.createdAt), policyOf(schedule), schedule.nextRunAt!, now, this.#o.graceMs ?? catchUpGraceMs);
        const outcome: Fired = { schedule, plan, created: 0, refused: undefined };
        let lastRunAt: Date | undefined;
        if (plan.fire.length > 0) {
          try {
            const inserted = await createTickTasks(tx, schedule, plan.fire, schedule.createdBy, this.#o.ready, "task.input");
            outcome.created = inserted.filter((i) => i.created).length;
            lastRunAt = plan.fire.at(-1);
          } catch (error) {
            // A template its kind's schema refuses: no retry can help (see the header).
            if (!(error instanceof SpoolError && error.code === "invalid_argument")) throw error;
            outcome.refused = error;
          }
        }
        await advanceSchedule(tx, schedule.tenant, schedule.name, plan.next ?? null, lastRunAt);
        return outcome;
      })) as Fired | undefined;
    } catch (error) {
      // The take itself failed: the database. The loop backs off.
      if (!taking.schedule) throw error;
      this.#holdBack(taking.schedule, SpoolError.from(error));
      return true;
    }
    if (!fired) return false;
    // Committed: now it can be told.
    const { schedule, plan } = fired;
    if (fired.created > 0) {
      const labels = { kind: schedule.task.kind, queue: schedule.task.queue, tenant: schedule.tenant };
      this.#o.events.created(Array.from({ length: fired.created }, () => labels));
    }
    this.#heldBack.delete(keyOf(schedule));
    const about = { tenant: schedule.tenant, schedule: schedule.name };
    const ticks = plan.fire.map((t) => t.toISOString());
    if (fired.refused) {
      this.#o.log.error(
        { ...about, err: fired.refused, skipped: ticks },
        "schedule's template no longer passes its kind's input schema: its due ticks are skipped (UpdateSchedule fixes it)",
      );
    } else if (ticks.length > 0) this.#o.log.debug({ ...about, ticks, created: fired.created }, "schedule fired");
    if (plan.missedSince) {
      this.#o.log.warn(
        { ...about, missedSince: plan.missedSince.toISOString(), catchUp: schedule.catchUp, caughtUp: plan.caughtUp },
        "schedule missed ticks (no replica fired them within a minute): its catch-up policy applied",
      );
    }
    return true;
  }

  #holdBack(schedule: Schedule, error: SpoolError): void {
    const key = keyOf(schedule);
    const failures = (this.#heldBack.get(key)?.failures ?? 0) + 1;
    const delay = error.retryAfterMs ?? retryDelay(failures - 1);
    this.#heldBack.set(key, { key: { tenant: schedule.tenant, name: schedule.name }, until: performance.now() + delay, failures });
    const context = { tenant: schedule.tenant, schedule: schedule.name, err: error, retryInMs: Math.round(delay), due: schedule.nextRunAt?.toISOString() };
    if (error.code === "resource_exhausted") this.#o.log.warn(context, "schedule's tick refused by the tenant's quotas; trying again (past a minute the tick counts as missed)");
    else this.#o.log.warn(context, "schedule could not fire; trying again");
  }
}

const keyOf = (schedule: Pick<Schedule, "tenant" | "name">) => JSON.stringify([schedule.tenant, schedule.name]);

function retryDelay(failures: number): number {
  return Math.min(retryMaxMs, retryBaseMs * 2 ** failures);
}

// `spool schedules list|create|pause|resume|trigger|delete`: recurring schedules from a
// terminal (ScheduleService; every command needs the operator role). Human output is a
// table or one line per schedule; with --json, one JSON document per line.
import { Command, Option } from "commander";
import type { SpoolClient } from "../client.js";
import { SpoolError } from "../errors.js";
import type { CatchUp, Schedule, ScheduleSpec, UpsertOutcome } from "../schedules.js";
import { collect, parseInteger, parseJson, parseLabels, parseLimit } from "./flags.js";
import type { Output } from "./format.js";
import { parseDuration } from "./time.js";

/** main.ts's wrapper of an action: a client, the global flags, errors to exit code 1. */
export type Action = <A extends unknown[]>(
  run: (client: SpoolClient, global: { json: boolean }, ...args: A) => Promise<number | void>,
) => (...args: unknown[]) => Promise<void>;

interface CreateOptions {
  cron?: string;
  every?: number;
  tz?: string;
  input?: unknown;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeout?: number;
  label?: string[];
  catchUp?: CatchUp;
  catchUpLimit?: number;
  paused: boolean;
  upsert: boolean;
  tenant?: string;
}

const tenantOption = () => new Option("--tenant <tenant>", "the schedule's tenant, if not your own (needs the admin role)");

export function schedulesCommand(action: Action, out: Output): Command {
  const command = new Command("schedules")
    .description("recurring schedules: each tick creates one task, exactly once across replicas")
    .addHelpText(
      "after",
      `
Every command needs the operator role. A schedule's name is its identity in its tenant.
See \`spool schedules <command> --help\`, and docs/concepts.md (Schedules).`,
    );

  command
    .command("list")
    .description("list the schedules, in name order")
    .addOption(tenantOption())
    .option("--limit <n>", "at most this many schedules", parseLimit, 100)
    .addHelpText(
      "after",
      `
Columns: WHEN is the cron expression (read in TZ) or the interval; NEXT RUN is when the next
tick is due (- while paused); LAST RUN the latest tick that created a task.
With --json: one schedule per line, every field (its task template included).`,
    )
    .action(
      action(async (client, global, options: { tenant?: string; limit: number }) => {
        const schedules: Schedule[] = [];
        let more = false;
        for await (const schedule of client.schedules.list({ tenant: options.tenant, pageSize: Math.min(options.limit + 1, 1000) })) {
          if (schedules.length >= options.limit) {
            more = true;
            break;
          }
          schedules.push(schedule);
        }
        if (global.json) return schedules.forEach((schedule) => out.json(schedule));
        if (schedules.length === 0) return out.line(out.style("dim", "no schedules"));
        scheduleTable(out, schedules);
        if (more) out.line(out.style("dim", `showing ${schedules.length}; more exist: --limit N`));
      }),
    );

  command
    .command("create")
    .description("create a schedule (safe to repeat: the same spec again changes nothing)")
    .argument("<name>", "the schedule's name: letters, digits, '.', '_', '-', ':', '/'")
    .argument("<kind>", "kind of the task each tick creates, e.g. demo.echo")
    .option("--cron <expression>", 'cron: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, e.g. "0 9 * * 1-5"')
    .option("--every <duration>", "or a fixed interval instead: 30s, 5m, 2h, 1d (at least 1s)", parseDuration)
    .option("--tz <zone>", "IANA time zone the cron expression is read in, e.g. Europe/Berlin (default UTC)")
    .option("--input <json>", "the task's input, as JSON", parseJson)
    .option("--queue <queue>", "the task's queue (default: default)")
    .option("--priority <n>", "the task's priority, -1000..1000", parseInteger)
    .option("--max-attempts <n>", "the task's most attempts (default 3)", parseInteger)
    .option("--timeout <duration>", "the task's per-attempt timeout, e.g. 30s, 5m", parseDuration)
    .option("--label <key=value>", "a label of the task (repeatable)", collect)
    .addOption(new Option("--catch-up <policy>", "ticks missed while every replica was down: skip them, run the latest once, or all").choices(["skip", "once", "all"]))
    .option("--catch-up-limit <n>", "with --catch-up all: most missed ticks run, 1..1000 (default 100)", parseInteger)
    .option("--paused", "create it paused (an existing schedule keeps its state)", false)
    .option("--upsert", "if a schedule of that name exists with another spec, update it to this one", false)
    .addOption(tenantOption())
    .addHelpText(
      "after",
      `
Give --cron or --every. Without --upsert, a schedule of that name with another spec is an
error (already_exists); with the same spec it is left as it is, paused or not.
Prints the schedule and whether it was created, unchanged or updated; with --json, one line:
{"outcome": "created" | "unchanged" | "updated", "schedule": {...}}.`,
    )
    .action(
      action(async (client, global, name: string, kind: string, options: CreateOptions) => {
        if ((options.cron === undefined) === (options.every === undefined)) {
          throw new SpoolError("invalid_argument", "give one of --cron and --every", 3);
        }
        const spec: ScheduleSpec = {
          name,
          cron: options.cron,
          intervalMs: options.every,
          timeZone: options.tz,
          task: {
            kind,
            input: options.input,
            queue: options.queue,
            priority: options.priority,
            maxAttempts: options.maxAttempts,
            timeoutMs: options.timeout,
            labels: parseLabels(options.label),
          },
          catchUp: options.catchUp,
          catchUpLimit: options.catchUpLimit,
        };
        const call = { tenant: options.tenant, paused: options.paused };
        let result: { schedule: Schedule; outcome: UpsertOutcome };
        if (options.upsert) result = await client.schedules.upsert(spec, call);
        else {
          const { schedule, created } = await client.schedules.create(spec, call);
          result = { schedule, outcome: created ? "created" : "unchanged" };
        }
        if (global.json) return out.json({ outcome: result.outcome, schedule: result.schedule });
        out.line(`${result.outcome} ${scheduleLine(out, result.schedule)}`);
      }),
    );

  for (const [verb, description] of [
    ["pause", "pause a schedule: it fires nothing until resumed (ticks meanwhile are skipped)"],
    ["resume", "resume a paused schedule, from its next tick after now"],
  ] as const) {
    command
      .command(verb)
      .description(description)
      .argument("<name>", "the schedule's name")
      .addOption(tenantOption())
      .addHelpText("after", "\nPrints the schedule; with --json, the schedule as one line.")
      .action(
        action(async (client, global, name: string, options: { tenant?: string }) => {
          const schedule = await client.schedules[verb](name, { tenant: options.tenant });
          if (global.json) return out.json(schedule);
          out.line(scheduleLine(out, schedule));
        }),
      );
  }

  command
    .command("trigger")
    .description("create one task from the schedule's template now (paused or not; its ticks stay as they are)")
    .argument("<name>", "the schedule's name")
    .addOption(tenantOption())
    .addHelpText("after", "\nPrints the task's id and state (follow it with `spool watch <id>`); with --json, the task.")
    .action(
      action(async (client, global, name: string, options: { tenant?: string }) => {
        const task = await client.schedules.trigger(name, { tenant: options.tenant });
        if (global.json) return out.json(task);
        out.line(`${task.id} ${out.state(task.state)}`);
      }),
    );

  command
    .command("delete")
    .description("delete a schedule: it never fires again, on any replica (its tasks are kept)")
    .argument("<name>", "the schedule's name")
    .addOption(tenantOption())
    .addHelpText("after", '\nWith --json, prints {"deleted": "<name>"}.')
    .action(
      action(async (client, global, name: string, options: { tenant?: string }) => {
        await client.schedules.delete(name, { tenant: options.tenant });
        if (global.json) return out.json({ deleted: name });
        out.line(`deleted ${name}`);
      }),
    );

  return command;
}

/** cron "0 9 * * 1-5", or every 30s / 1h30m / 2d (exact: an interval is no place to round). */
export function whenText(schedule: Pick<Schedule, "cron" | "intervalMs">): string {
  if (schedule.cron !== undefined) return schedule.cron;
  let rest = schedule.intervalMs ?? 0;
  const parts: string[] = [];
  for (const [unit, ms] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    if (rest >= ms) {
      parts.push(`${Math.floor(rest / ms)}${unit}`);
      rest %= ms;
    }
  }
  return `every ${parts.join("") || "0s"}`;
}

/** One line: name, state, when, and the next tick. */
export function scheduleLine(out: Output, schedule: Schedule): string {
  const zone = schedule.cron !== undefined ? ` (${schedule.timeZone})` : "";
  return `${schedule.name} ${stateText(out, schedule)} ${whenText(schedule)}${zone} next run ${schedule.nextRunAt?.toISOString() ?? "-"}`;
}

export function scheduleTable(out: Output, schedules: Schedule[]): void {
  out.table(
    ["NAME", "STATE", "WHEN", "TZ", "KIND", "QUEUE", "NEXT RUN", "LAST RUN", "CATCH-UP"],
    schedules.map((s) => [
      s.name,
      stateText(out, s),
      whenText(s),
      s.cron !== undefined ? s.timeZone : "",
      s.task.kind,
      s.task.queue,
      s.nextRunAt?.toISOString() ?? "-",
      s.lastRunAt?.toISOString() ?? "-",
      s.catchUp === "all" ? `all (${s.catchUpLimit})` : s.catchUp,
    ]),
  );
}

function stateText(out: Output, schedule: Schedule): string {
  return schedule.paused ? out.style("yellow", "PAUSED") : out.style("green", "ACTIVE");
}

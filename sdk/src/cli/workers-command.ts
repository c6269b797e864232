// `spool workers`: every replica and its worker threads, what each runs right now
// (AdminService/ListWorkers; needs the admin role). On a terminal a table per replica; with
// --watch the view is drawn again every interval until interrupted; with --json one replica
// per line (with --watch, one batch per interval).
import { Command, InvalidArgumentError, Option } from "commander";
import type { Replica } from "../workers.js";
import { parseInteger } from "./flags.js";
import type { Output } from "./format.js";
import type { Action } from "./schedules-command.js";
import { formatDuration } from "./time.js";

interface WorkersOptions {
  watch: boolean;
  interval: number;
}

export function workersCommand(action: Action, out: Output): Command {
  return new Command("workers")
    .description("the replicas and their worker threads: what runs where, right now (admin role)")
    .option("-w, --watch", "draw the view again every interval until interrupted (Ctrl-C)", false)
    .addOption(new Option("--interval <ms>", "with --watch, how often (at least 200)").argParser(parseInterval).default(2000))
    .addHelpText(
      "after",
      `
A replica is LIVE while it renews its lease, LOST once it missed two renewals (its tasks are
taken back, and it leaves the list, when its lease expires). Each thread shows its task while
BUSY, how many runs succeeded (OK) and failed (FAILED) in its place, and its last restart.
Figures are at most one lease renewal old (SPOOL_LEASE_RENEW_MS, 2 s).`,
    )
    .action(
      action(async (client, global, options: WorkersOptions) => {
        const draw = (replicas: Replica[]) => {
          if (global.json) return replicas.forEach((replica) => out.json(replica));
          if (out.live && options.watch) out.stream.write("\x1b[H\x1b[2J");
          render(out, replicas, Date.now());
        };
        draw(await client.workers.list());
        if (!options.watch) return;
        const stop = new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
        for (;;) {
          const timer = new Promise<"tick">((resolve) => setTimeout(() => resolve("tick"), options.interval));
          if ((await Promise.race([timer, stop])) !== "tick") return 0;
          draw(await client.workers.list());
        }
      }),
    );
}

function parseInterval(value: string): number {
  const ms = parseInteger(value);
  if (ms < 200 || ms > 3_600_000) throw new InvalidArgumentError("must be 200 to 3600000");
  return ms;
}

function render(out: Output, replicas: Replica[], now: number): void {
  if (replicas.length === 0) return out.line(out.style("dim", "no replicas"));
  for (const replica of replicas) {
    const busy = replica.threads.filter((t) => t.state === "busy").length;
    const state = replica.state === "live" ? out.style("green", "LIVE") : out.style("red", "LOST");
    out.line(
      `${out.style("bold", replica.name)}  ${state}  ${replica.id}  v${replica.version}  up ${formatDuration(now - replica.startedAt.getTime())}` +
        `  renewed ${formatDuration(Math.max(0, now - replica.renewedAt.getTime()))} ago  ${busy}/${replica.threads.length} busy`,
    );
    out.line(`  queues: ${replica.queues?.join(", ") ?? "all"}   kinds: ${replica.kinds.join(", ") || "-"}`);
    out.table(
      ["  THREAD", "STATE", "TASK", "KIND", "FOR", "OK", "FAILED", "RESTARTED"],
      replica.threads.map((t) => [
        `  ${t.index}`,
        t.state === "busy" ? out.style("cyan", "BUSY") : t.state === "idle" ? "idle" : out.style("yellow", "starting"),
        t.task?.id ?? "-",
        t.task?.kind ?? "-",
        t.task ? formatDuration(Math.max(0, now - t.task.startedAt.getTime())) : "-",
        String(t.completed),
        String(t.failed),
        t.restarted ? `${formatDuration(Math.max(0, now - t.restarted.at.getTime()))} ago: ${t.restarted.reason}` : "-",
      ]),
    );
    out.line();
  }
}

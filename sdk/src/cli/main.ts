// `spool`: Spool from a terminal. Human output (tables, colour and a live progress bar on a
// terminal, plain lines elsewhere) by default; `--json` prints one JSON document per line
// for scripts. Exit codes: 0 ok (or the task SUCCEEDED), 1 the command failed (bad flags,
// service unreachable, not found...), and for commands that wait for a task (create --wait,
// watch, logs --follow): 2 FAILED, 3 CANCELLED, 4 DROPPED.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { SpoolClient, type SpoolTlsOptions } from "../client.js";
import { SpoolError } from "../errors.js";
import { taskStates, type CreateTaskOptions, type Task, type TaskState } from "../types.js";
import { collect, parseInteger, parseJson, parseLabels, parseLimit } from "./flags.js";
import { followTask } from "./follow.js";
import { schedulesCommand } from "./schedules-command.js";
import { workersCommand } from "./workers-command.js";
import { exitCodeFor, Output } from "./format.js";
import { formatDuration, parseDuration, parseFutureTime, parsePastTime } from "./time.js";

interface GlobalOptions {
  address: string;
  tls: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  token?: string;
  json: boolean;
  /** `spool queues --tenant`. */
  tenant?: string;
}

const out = new Output();
const program = new Command("spool")
  .description("Create, follow, cancel and retry Spool tasks; manage queues and recurring schedules.")
  .addOption(new Option("--address <host:port>", "Spool service address").env("SPOOL_ADDRESS").default("127.0.0.1:50051"))
  .option("--tls", "connect with TLS (system root certificates, unless --ca)", false)
  .addOption(new Option("--ca <file>", "PEM root certificates to trust instead of the system's (implies --tls)").env("SPOOL_CA"))
  .addOption(new Option("--cert <file>", "PEM client certificate, for mTLS (implies --tls; with --key)").env("SPOOL_CERT"))
  .addOption(new Option("--key <file>", "PEM private key of --cert").env("SPOOL_KEY"))
  .addOption(
    new Option("--server-name <name>", "name the server's certificate must carry, if not the address's host (implies --tls)").env(
      "SPOOL_SERVER_NAME",
    ),
  )
  .addOption(new Option("--token <token>", "bearer token sent with every call").env("SPOOL_TOKEN"))
  .option("--json", "print JSON (one document per line) instead of text", false)
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(out.style("red", text)) });

function connect(options: GlobalOptions): SpoolClient {
  return new SpoolClient(options.address, { tls: tlsOptions(options), token: options.token });
}

/** TLS when --tls or any of its files or --server-name is given; the files are read here. */
function tlsOptions(options: GlobalOptions): boolean | SpoolTlsOptions {
  const given = [options.ca, options.cert, options.key, options.serverName].some((value) => value !== undefined);
  if (!given) return options.tls;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new SpoolError("invalid_argument", "--cert and --key (SPOOL_CERT, SPOOL_KEY) go together: give both", 3);
  }
  const read = (flag: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new SpoolError("invalid_argument", `${flag}: cannot read ${file}: ${(error as Error).message}`, 3);
    }
  };
  return { ca: read("--ca", options.ca), cert: read("--cert", options.cert), key: read("--key", options.key), serverName: options.serverName };
}

/** Runs an action with a client, closes it, and turns errors into a message and exit code 1. */
function action<A extends unknown[]>(run: (client: SpoolClient, options: GlobalOptions, ...args: A) => Promise<number | void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const options = command.optsWithGlobals<GlobalOptions>();
    let client: SpoolClient | undefined;
    try {
      client = connect(options);
      process.exitCode = (await run(client, options, ...(args.slice(0, -1) as A))) ?? 0;
    } catch (error) {
      out.endStatus(); // the message goes on a line of its own, not after a live bar
      const spoolError = SpoolError.from(error);
      if (options.json) process.stderr.write(`${JSON.stringify({ error: { code: spoolError.code, message: spoolError.message } })}\n`);
      else process.stderr.write(out.style("red", `error: ${spoolError.code}: ${spoolError.message}\n`));
      process.exitCode = 1;
    } finally {
      client?.close();
    }
  };
}

program
  .command("create")
  .description("create a task")
  .argument("<kind>", "task kind, e.g. demo.sleep")
  .option("--input <json>", "input, as JSON", parseJson)
  .option("--queue <queue>", "queue (default: default)")
  .option("--priority <n>", "priority, -1000..1000: higher runs first", parseInteger)
  .option("--at <time>", "run at: an ISO 8601 time, or +30s, +5m, +2h from now", (value: string) => parseFutureTime(value))
  .option("--max-attempts <n>", "most attempts (default 3)", parseInteger)
  .option("--timeout <duration>", "per-attempt timeout, e.g. 30s, 5m, 1500ms", parseDuration)
  .option("--idempotency-key <key>", "a repeated key returns the existing task")
  .option("--label <key=value>", "a label (repeatable)", collect)
  .option("--wait", "follow the task to its end (states, progress bar, log lines); the exit code tells how it ended", false)
  .addHelpText(
    "after",
    `
With --wait, it shows what \`spool watch\` shows (a line per state, a progress bar) and
the task's log lines as they come, then the task as it ended. With --wait --json it prints
one line: the task as it ended (its log: \`spool logs <id> --json\`).
Exit codes with --wait: 0 SUCCEEDED, 2 FAILED, 3 CANCELLED, 4 DROPPED; 1 if the command failed.`,
  )
  .action(
    action(async (client, global, kind: string, options: CreateCommandOptions) => {
      const create: CreateTaskOptions = {
        queue: options.queue,
        priority: options.priority,
        runAt: options.at,
        maxAttempts: options.maxAttempts,
        timeoutMs: options.timeout,
        idempotencyKey: options.idempotencyKey,
        labels: parseLabels(options.label),
      };
      const task = await client.createTask(kind, options.input, create);
      if (!options.wait) {
        if (global.json) out.json(task);
        else out.line(`${task.id} ${out.state(task.state)}`);
        return;
      }
      if (global.json) {
        const ended = await client.waitForTask(task.id);
        out.json(ended);
        return exitCodeFor(ended.state);
      }
      out.line(out.style("dim", `created ${task.id}, waiting for it to end...`));
      return endFollowing(await followTask(client, task.id, out, { logs: true }));
    }),
  );

program
  .command("get")
  .description("show a task")
  .argument("<id>", "task id")
  .action(action(async (client, global, id: string) => printTask(await client.getTask(id), global)));

program
  .command("list")
  .description("list tasks, newest first")
  .option("--state <state>", "only this state (repeatable)", collect)
  .option("--kind <kind>", "only this kind (repeatable)", collect)
  .option("--queue <queue>", "only this queue")
  .option("--label <key=value>", "only tasks with this label (repeatable)", collect)
  .option("--since <time>", "only tasks created at or after this time: ISO 8601, or 30m, 2h, 1d ago", (value: string) => parsePastTime(value))
  .option("--until <time>", "only tasks created before this time: ISO 8601, or 30m, 2h, 1d ago", (value: string) => parsePastTime(value))
  .option("--limit <n>", "at most this many tasks", parseLimit, 50)
  .addHelpText(
    "after",
    `
Columns: DURATION is the latest attempt's (finished, or now while it runs, minus started);
ERROR is the type and message of why it did not succeed, cut to 60 characters (\`spool get\`
shows it whole). When more tasks match than --limit, a last line says so.
With --json: one task per line, every field (input, result, failures), and no such line.`,
  )
  .action(
    action(async (client, global, options: ListCommandOptions) => {
      const states = (options.state ?? []).map(parseState);
      const tasks: Task[] = [];
      const filter = {
        states,
        kinds: options.kind,
        queue: options.queue,
        labels: parseLabels(options.label),
        createdAfter: options.since,
        createdBefore: options.until,
      };
      // A table shows no input or result: the BASIC view is enough (it has the error's type
      // and message, without the stack). JSON lines are complete.
      const view = global.json ? "full" : "basic";
      // One task past the limit tells whether more exist; asking for it in the same page
      // saves a second call when the limit fits one page.
      let more = false;
      for await (const task of client.listTasks({ ...filter, pageSize: Math.min(options.limit + 1, 1000), view })) {
        if (tasks.length >= options.limit) {
          more = true;
          break;
        }
        tasks.push(task);
      }
      if (global.json) return tasks.forEach((task) => out.json(task));
      if (tasks.length === 0) return out.line(out.style("dim", "no tasks"));
      out.taskTable(tasks);
      if (more) out.line(out.style("dim", `showing ${tasks.length}; more exist: --limit N or narrower filters`));
    }),
  );

program
  .command("logs")
  .description("print a task's log")
  .argument("<id>", "task id")
  .option("-f, --follow", "keep printing new lines until the task ends", false)
  .option("--after <seq>", "only lines after this seq", parseInteger, 0)
  .option("-n, --tail <lines>", "start with only the last this many lines (0: all)", parseInteger, 0)
  .addHelpText(
    "after",
    `
A line \`── attempt N ──\` comes before the lines of another attempt than the line before
(and before the first line if that is not attempt 1). A last line says where the task
stands: its state, attempt, and error if it did not succeed.
With --json: the log entries only, one per line (each carries its attempt).
Exit code: 0, or with --follow how the task ended, as \`spool watch\`: 0 SUCCEEDED,
2 FAILED, 3 CANCELLED, 4 DROPPED; 1 if the command failed.`,
  )
  .action(
    action(async (client, global, id: string, options: { follow: boolean; after: number; tail: number }) => {
      let attempt = 1;
      for await (const entry of client.streamLogs(id, { follow: options.follow, afterSeq: options.after, tail: options.tail })) {
        if (global.json) {
          out.json(entry);
          continue;
        }
        if (entry.attempt !== attempt) out.attemptHeader(entry.attempt);
        attempt = entry.attempt;
        out.logLine(entry);
      }
      if (global.json && !options.follow) return 0;
      // After the stream: with --follow it ended because the task did, so this is the end.
      const task = await client.getTask(id);
      if (!global.json) out.outcome(task);
      return options.follow ? exitCodeFor(task.state) : 0;
    }),
  );

program
  .command("cancel")
  .description("cancel a task: pending ends at once; running gets its AbortSignal, then its thread is terminated")
  .argument("<id>", "task id")
  .option("--reason <reason>", "why (stored as the task's error message)")
  .action(
    action(async (client, global, id: string, options: { reason?: string }) => {
      const task = await client.cancelTask(id, options.reason);
      if (global.json) return out.json(task);
      const note = task.state === "running" ? " (cancel requested: it stops within the grace period)" : "";
      out.line(`${task.id} ${out.state(task.state)}${note}`);
    }),
  );

program
  .command("retry")
  .description("run a FAILED, CANCELLED or DROPPED task again, as a new task linked to it (the old one is not changed)")
  .argument("<id>", "task id")
  .action(
    action(async (client, global, id: string) => {
      const task = await client.retryTask(id);
      if (global.json) return out.json(task);
      out.line(`${task.id} ${out.state(task.state)} (retries ${id})`);
    }),
  );

program
  .command("watch")
  .description("follow a task's state and progress until it ends; the exit code tells how it ended")
  .argument("<id>", "task id")
  .addHelpText(
    "after",
    `
Each line starts with the time of the change by the service's clock. On a terminal the
progress bar is one live line; elsewhere each change of it is a line. With --json: the
task at each change, one per line, the last one as it ended.
Exit codes: 0 SUCCEEDED, 2 FAILED, 3 CANCELLED, 4 DROPPED; 1 if the command failed.`,
  )
  .action(
    action(async (client, global, id: string) => {
      if (!global.json) return endFollowing(await followTask(client, id, out, { logs: false }));
      let last: Task | undefined;
      for await (const task of client.watchTask(id)) {
        out.json(task);
        last = task;
      }
      return last ? exitCodeFor(last.state) : 1;
    }),
  );

program.addCommand(schedulesCommand(action, out));
program.addCommand(workersCommand(action, out));

interface CreateCommandOptions {
  input?: unknown;
  queue?: string;
  priority?: number;
  at?: Date;
  maxAttempts?: number;
  timeout?: number;
  idempotencyKey?: string;
  label?: string[];
  wait: boolean;
}

interface ListCommandOptions {
  state?: string[];
  kind?: string[];
  queue?: string;
  label?: string[];
  since?: Date;
  until?: Date;
  limit: number;
}

/** After following a task on a terminal: the task as it ended, and the exit code to match. */
function endFollowing(task: Task | undefined): number {
  if (!task) return 1;
  out.task(task);
  return exitCodeFor(task.state);
}

function printTask(task: Task, global: GlobalOptions): void {
  if (global.json) out.json(task);
  else out.task(task);
}

function parseState(value: string): TaskState {
  const state = value.toLowerCase() as TaskState;
  if (!taskStates.includes(state)) throw new SpoolError("invalid_argument", `--state: "${value}" is not one of ${taskStates.join(", ")}`, 3);
  return state;
}

const queues = program
  .command("queues")
  .description("show and set the queues of your tenant (operator role)")
  .option("--tenant <tenant>", "another tenant's queues (admin); with list, * for every tenant's");

queues
  .command("list")
  .description("the queues with their depth, limits and paused state")
  .addHelpText(
    "after",
    `
Columns: PENDING are due and waiting, SCHEDULED due later, RUNNING claimed by a replica;
OLDEST is how long the longest-waiting due task has waited; LIMIT and PER KEY are the
cluster-wide concurrency limits (- for none). With --json: one queue per line.`,
  )
  .action(
    action(async (client, global) => {
      const list = await client.queues.list({ tenant: global.tenant });
      if (global.json) return list.forEach((queue) => out.json(queue));
      if (list.length === 0) return out.line(out.style("dim", "no queues"));
      const limit = (value: number | undefined) => (value === undefined ? "-" : String(value));
      out.table(
        ["TENANT", "QUEUE", "STATE", "PENDING", "SCHEDULED", "RUNNING", "OLDEST", "LIMIT", "PER KEY", "RETENTION"],
        list.map((q) => [
          q.tenant,
          q.name,
          q.paused ? out.style("yellow", "paused") : "active",
          String(q.depth.pending),
          String(q.depth.scheduled),
          String(q.depth.running),
          q.oldestPendingAgeMs > 0 ? formatDuration(q.oldestPendingAgeMs) : "-",
          limit(q.concurrencyLimit),
          limit(q.keyConcurrencyLimit),
          formatDuration(q.retentionMs),
        ]),
      );
    }),
  );

for (const [name, description] of [
  ["pause", "stop every replica from starting the queue's tasks (running ones finish)"],
  ["resume", "let the queue's tasks start again"],
] as const) {
  queues
    .command(name)
    .description(description)
    .argument("<queue>", "queue name")
    .action(
      action(async (client, global, queue: string) => {
        const changed = await client.queues[name](queue, { tenant: global.tenant });
        if (global.json) return out.json(changed);
        out.line(`${changed.name} ${changed.paused ? out.style("yellow", "paused") : "active"}`);
      }),
    );
}

queues
  .command("set")
  .description("set a queue's limits or retention (a queue with no task yet is set up ahead)")
  .argument("<queue>", "queue name")
  .option("--concurrency-limit <n>", "most of its tasks running at once in the cluster; 0 removes the limit", parseInteger)
  .option("--key-concurrency-limit <n>", "most running at once per concurrency key; 0 removes the limit", parseInteger)
  .option("--retention <duration>", "how long ended tasks are kept, e.g. 12h, 30d", parseDuration)
  .action(
    action(async (client, global, queue: string, options: QueueSetOptions) => {
      if (options.concurrencyLimit === undefined && options.keyConcurrencyLimit === undefined && options.retention === undefined) {
        throw new SpoolError("invalid_argument", "give at least one of --concurrency-limit, --key-concurrency-limit, --retention", 3);
      }
      const limit = (value: number | undefined) => (value === undefined ? undefined : value === 0 ? null : value);
      const changed = await client.queues.update(
        queue,
        { concurrencyLimit: limit(options.concurrencyLimit), keyConcurrencyLimit: limit(options.keyConcurrencyLimit), retentionMs: options.retention },
        { tenant: global.tenant },
      );
      if (global.json) return out.json(changed);
      out.line(
        `${changed.name}: limit ${changed.concurrencyLimit ?? "-"}, per key ${changed.keyConcurrencyLimit ?? "-"}, retention ${formatDuration(changed.retentionMs)}`,
      );
    }),
  );

interface QueueSetOptions {
  concurrencyLimit?: number;
  keyConcurrencyLimit?: number;
  retention?: number;
}

await program.parseAsync();

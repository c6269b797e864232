// The `spool` command line as a real process (sdk/bin/spool.js, as npm links it) against the
// built service.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const bin = fileURLToPath(new URL("../sdk/bin/spool.js", import.meta.url));
const database = useTestDatabase();
let service: ServiceProcess;

beforeAll(async () => {
  service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "3", SPOOL_CANCEL_GRACE_MS: "500" });
});
afterAll(() => killAll());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spool(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? "", SPOOL_ADDRESS: service.address, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const jsonLines = (stdout: string) =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>);

describe("spool", () => {
  it("has --help for itself and every command", async () => {
    const help = await spool(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["create", "get", "list", "logs", "cancel", "watch", "retry", "queues"]) expect(help.stdout).toContain(command);
    const create = await spool(["create", "--help"]);
    expect(create.stdout).toMatch(/--input <json>[\s\S]*--wait/);
  });

  it("creates a task, prints it as JSON, and gets it back", async () => {
    const created = await spool(["create", "demo.echo", "--input", '{"a":1}', "--label", "team=cli", "--json"]);
    expect(created.code).toBe(0);
    const [task] = jsonLines(created.stdout);
    expect(task).toMatchObject({ kind: "demo.echo", input: { a: 1 }, labels: { team: "cli" } });
    const got = await spool(["get", task!.id, "--json"]);
    expect(jsonLines(got.stdout)[0]).toMatchObject({ id: task!.id, kind: "demo.echo" });
    const human = await spool(["get", task!.id]);
    expect(human.stdout).toMatch(new RegExp(`id\\s+${task!.id}`));
    expect(human.stdout).toMatch(/kind\s+demo\.echo/);
  });

  it("waits with --wait, showing progress and log lines, and exits with how the task ended", async () => {
    const ok = await spool(["create", "demo.sleep", "--input", '{"seconds":0.3}', "--wait"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toMatch(/\x1b/); // not a terminal: no colour, no cursor moves
    const lines = ok.stdout.split("\n");
    const logLine = lines.findIndex((line) => /^\s+1 \S+ INFO\s+slept 1 of 1 s$/.test(line));
    const fullBar = lines.findIndex((line) => /^█{20} 100% slept 1 of 1 s$/.test(line));
    const ended = lines.findIndex((line) => /^\S+ SUCCEEDED attempt 1 of 3$/.test(line));
    expect(Math.min(logLine, fullBar, ended), ok.stdout).toBeGreaterThan(-1);
    expect(Math.max(logLine, fullBar), ok.stdout).toBeLessThan(ended); // the end comes after every log line
    expect(ok.stdout).toMatch(/state\s+SUCCEEDED/);
    expect(ok.stdout).toMatch(/progress\s+.*100%/);

    // Two attempts: the log lines of both, and the exit code of the end.
    const retried = await spool(["create", "demo.sleep", "--input", '{"seconds":0.1,"fail":true}', "--max-attempts", "2", "--wait"]);
    expect(retried.code).toBe(2);
    expect(retried.stdout.match(/^\s+\d \S+ INFO\s+slept 1 of 1 s$/gm)).toHaveLength(2);
    expect(retried.stdout).toMatch(/^\S+ FAILED attempt 2 of 2$/m);
    expect(retried.stdout).toMatch(/error\s+Error: demo.sleep failed after 0.1 s, as asked/);

    // --json: one line, the task as it ended; no bars, no log lines.
    const failed = await spool(["create", "demo.sleep", "--input", '{"seconds":0.1,"fail":true}', "--max-attempts", "1", "--wait", "--json"]);
    expect(failed.code).toBe(2);
    expect(jsonLines(failed.stdout)).toHaveLength(1);
    expect(jsonLines(failed.stdout)[0]).toMatchObject({ state: "failed", error: { message: "demo.sleep failed after 0.1 s, as asked" } });
  });

  it("lists tasks as a table, or as JSON lines, filtered", async () => {
    const label = `l${Date.now()}`;
    for (const i of [1, 2, 3]) await spool(["create", "demo.echo", "--input", String(i), "--label", `run=${label}`]);
    const table = await spool(["list", "--label", `run=${label}`]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+KIND\s+STATE\s+ATTEMPT\s+QUEUE\s+CREATED\s+DURATION\s+PROGRESS\s+LABELS\s+ERROR$/);
    expect(lines).toHaveLength(4);
    const json = await spool(["list", "--label", `run=${label}`, "--json", "--limit", "2"]);
    expect(jsonLines(json.stdout).map((t) => t.input)).toEqual([3, 2]);
  });

  it("lists each task's duration, labels and error, and says when more exist than shown", async () => {
    const label = `c${Date.now()}`;
    const labels = ["--label", `run=${label}`, "--label", "team=cli"];
    const failed = await spool(["create", "demo.sleep", "--input", '{"seconds":0.1,"fail":true}', "--max-attempts", "1", ...labels, "--wait"]);
    expect(failed.code).toBe(2);
    const [later] = jsonLines((await spool(["create", "demo.echo", "--at", "+1h", ...labels, "--json"])).stdout);
    const reason = `no longer needed ${"y".repeat(100)}`;
    expect((await spool(["cancel", later!.id, "--reason", reason])).code).toBe(0);

    const table = await spool(["list", "--label", `run=${label}`]);
    expect(table.code).toBe(0);
    const [header, cancelled, failedRow, ...rest] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/DURATION\s+PROGRESS\s+LABELS\s+ERROR$/);
    expect(failedRow).toMatch(new RegExp(`FAILED\\s+1/1\\s+default\\s+\\S+\\s+\\d+(\\.\\d)?m?s\\s+run=${label},team=cli\\s+Error: demo\\.sleep failed after 0\\.1 s, as asked$`));
    // Never ran: no duration. Its error is cut to the column, saying so.
    expect(cancelled).toMatch(new RegExp(`CANCELLED\\s+0/3\\s+default\\s+\\S+\\s+run=${label},team=cli\\s+(Cancelled: no longer needed y+…)$`));
    expect(/(Cancelled: .*)$/.exec(cancelled!)![1]).toHaveLength(60);
    expect(rest).toEqual([]); // all shown: no hint

    const limited = await spool(["list", "--label", `run=${label}`, "--limit", "1"]);
    expect(limited.stdout.trimEnd().split("\n")).toEqual([expect.stringMatching(/^ID/), expect.stringContaining(later!.id), "showing 1; more exist: --limit N or narrower filters"]);
    const exact = await spool(["list", "--label", `run=${label}`, "--limit", "2"]);
    expect(exact.stdout).not.toContain("more exist");
  });

  it("filters the list by creation time with --since and --until", async () => {
    const label = `t${Date.now()}`;
    const [first] = jsonLines((await spool(["create", "demo.echo", "--label", `run=${label}`, "--json"])).stdout);
    const [second] = jsonLines((await spool(["create", "demo.echo", "--label", `run=${label}`, "--json"])).stdout);
    expect(Date.parse(second!.createdAt)).toBeGreaterThan(Date.parse(first!.createdAt)); // created by two processes, one after the other
    const ids = async (...args: string[]) => {
      const result = await spool(["list", "--label", `run=${label}`, "--json", ...args]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      return jsonLines(result.stdout).map((task) => task.id);
    };
    expect(await ids("--since", second!.createdAt)).toEqual([second!.id]); // at or after
    expect(await ids("--until", second!.createdAt)).toEqual([first!.id]); // before
    expect(await ids("--since", first!.createdAt, "--until", second!.createdAt)).toEqual([first!.id]);
    expect(await ids("--since", "1h")).toEqual([second!.id, first!.id]); // created within the last hour
    expect(await ids("--until", "1h")).toEqual([]); // created more than an hour ago
    const none = await spool(["list", "--label", `run=${label}`, "--until", "1d"]);
    expect(none.stdout.trim()).toBe("no tasks");
    const bad = await spool(["list", "--since", "yesterday"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--since <time>.*not a time: use ISO 8601/);
  });

  it("prints and follows a task's log, and resumes after a seq", async () => {
    const [task] = jsonLines((await spool(["create", "demo.log", "--input", '{"lines":5}', "--json"])).stdout);
    const followed = await spool(["logs", task!.id, "-f"]);
    expect(followed.code).toBe(0);
    const lines = followed.stdout.trim().split("\n");
    expect(lines).toHaveLength(6);
    expect(followed.stdout).toMatch(/^\s+1 \S+ INFO /);
    expect(lines.at(-1)).toBe("SUCCEEDED (attempt 1 of 3)");
    const rest = await spool(["logs", task!.id, "--after", "3", "--json"]);
    expect(jsonLines(rest.stdout).map((l) => l.seq)).toEqual([4, 5]);
  });

  it("marks each attempt in a log, ends with the outcome, and with -f exits with how the task ended", async () => {
    const [task] = jsonLines((await spool(["create", "demo.sleep", "--input", '{"seconds":0.1,"fail":true}', "--max-attempts", "2", "--json"])).stdout);
    const followed = await spool(["logs", task!.id, "-f"]);
    expect(followed.code).toBe(2);
    expect(followed.stdout.trimEnd().split("\n").map((line) => line.replace(/^\s+(\d+) \S+ INFO\s+/, "$1 "))).toEqual([
      "1 slept 1 of 1 s",
      "── attempt 2 ──",
      "2 slept 1 of 1 s",
      "FAILED (attempt 2 of 2) Error: demo.sleep failed after 0.1 s, as asked",
    ]);
    const stored = await spool(["logs", task!.id]);
    expect(stored).toMatchObject({ code: 0, stdout: followed.stdout }); // plain logs: 0 whatever the task did
    const resumed = await spool(["logs", task!.id, "--after", "1"]);
    expect(resumed.stdout).toMatch(/^── attempt 2 ──\n\s+2 /);
    const json = await spool(["logs", task!.id, "-f", "--json"]);
    expect(json.code).toBe(2);
    expect(jsonLines(json.stdout).map((l) => [l.seq, l.attempt])).toEqual([[1, 1], [2, 2]]); // entries only
  });

  it("cancels a running task, and watch follows it to CANCELLED with exit code 3", async () => {
    const [task] = jsonLines((await spool(["create", "demo.sleep", "--input", '{"seconds":30}', "--json"])).stdout);
    const watching = spool(["watch", task!.id]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cancelled = await spool(["cancel", task!.id, "--reason", "not needed"]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(task!.id);
    const watched = await watching;
    expect(watched.code).toBe(3);
    expect(watched.stdout).toMatch(/RUNNING attempt 1 of 3/);
    expect(watched.stdout).toMatch(/CANCELLED/);
    expect(watched.stdout).toMatch(/error\s+Cancelled: not needed/);
    expect(watched.stdout).not.toMatch(/^█{20} 100%/m); // only a task that succeeded ends on a full bar
  });

  it("shows progress while watching", async () => {
    const [task] = jsonLines((await spool(["create", "demo.sleep", "--input", '{"seconds":2}', "--json"])).stdout);
    const watched = await spool(["watch", task!.id]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/50% slept 1 of 2 s/);
    // It ends on a full bar, and the line of the end carries the service's time of it.
    const [ended] = jsonLines((await spool(["get", task!.id, "--json"])).stdout);
    expect(watched.stdout).toContain(`█`.repeat(20) + ` 100% slept 2 of 2 s\n${ended!.finishedAt} SUCCEEDED attempt 1 of 3\n`);
  });

  it("retries a failed task as a new task linked to it, as JSON or a line, and says why it cannot retry one that succeeded", async () => {
    const failed = await spool(["create", "demo.sleep", "--input", '{"seconds":0,"fail":true}', "--max-attempts", "1", "--wait", "--json"]);
    expect(failed.code).toBe(2);
    const [old] = jsonLines(failed.stdout);
    const json = await spool(["retry", old!.id, "--json"]);
    expect(json.code).toBe(0);
    const [retry] = jsonLines(json.stdout);
    // Pending, or already running when a thread was idle (start on create).
    expect(retry).toMatchObject({ retryOf: old!.id, kind: "demo.sleep", input: { seconds: 0, fail: true }, maxAttempts: 1 });
    expect(["pending", "running"]).toContain(retry!.state);
    expect(retry!.id).not.toBe(old!.id);
    const human = await spool(["retry", old!.id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^\\S+ (PENDING|RUNNING) \\(retries ${old!.id}\\)\n$`));
    expect((await spool(["get", retry!.id])).stdout).toMatch(new RegExp(`retry of\\s+${old!.id}`));

    const [succeeded] = jsonLines((await spool(["create", "demo.echo", "--wait", "--json"])).stdout);
    const refused = await spool(["retry", succeeded!.id]);
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toContain(`failed_precondition: task ${succeeded!.id} is SUCCEEDED: only a FAILED, CANCELLED or DROPPED task can be retried`);
  });

  it("says what is wrong, on stderr with exit code 1, for bad input and an unreachable service", async () => {
    const unknownKind = await spool(["create", "no.such.kind"]);
    expect(unknownKind).toMatchObject({ code: 1, stdout: "" });
    expect(unknownKind.stderr).toMatch(/invalid_argument: kind: unknown kind "no.such.kind"/);
    const badJson = await spool(["create", "demo.echo", "--input", "{nope"]);
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toMatch(/--input <json>.*not JSON/);
    const badState = await spool(["list", "--state", "bogus"]);
    expect(badState).toMatchObject({ code: 1 });
    expect(badState.stderr).toMatch(/--state: "bogus" is not one of pending/);
    const notFound = await spool(["get", "01a20392-cd00-7774-b068-0f78454a8d14", "--json"]);
    expect(notFound.code).toBe(1);
    expect(JSON.parse(notFound.stderr)).toMatchObject({ error: { code: "not_found" } });
    const nobody = await spool(["cancel", "01a20392-cd00-7774-b068-0f78454a8d14", "--address", "127.0.0.1:1"]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/unavailable/);
  });

  it("lists queues, sets their limits, pauses and resumes them", async () => {
    expect((await spool(["create", "demo.echo", "--queue", "cli-q", "--at", "+1h"])).code).toBe(0);
    const set = await spool(["queues", "set", "cli-q", "--concurrency-limit", "2", "--retention", "30d", "--json"]);
    expect(set.code).toBe(0);
    expect(jsonLines(set.stdout)[0]).toMatchObject({ name: "cli-q", concurrencyLimit: 2, retentionMs: 30 * 86_400_000 });
    const paused = await spool(["queues", "pause", "cli-q"]);
    expect(paused.stdout).toBe("cli-q paused\n");
    const table = await spool(["queues", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TENANT\s+QUEUE\s+STATE\s+PENDING\s+SCHEDULED\s+RUNNING\s+OLDEST\s+LIMIT\s+PER KEY\s+RETENTION/);
    expect(table.stdout).toMatch(/default\s+cli-q\s+paused\s+0\s+1\s+0\s+-\s+2\s+-\s+30d0h/);
    expect((await spool(["queues", "resume", "cli-q", "--json"])).stdout).toContain('"paused":false');
    const json = jsonLines((await spool(["queues", "list", "--json"])).stdout);
    expect(json.find((q) => q.name === "cli-q")).toMatchObject({ paused: false, depth: { scheduled: 1 } });
    // 0 removes a limit; a bad one is refused by the service, naming the field.
    expect(jsonLines((await spool(["queues", "set", "cli-q", "--concurrency-limit", "0", "--json"])).stdout)[0]!.concurrencyLimit).toBeUndefined();
    const bad = await spool(["queues", "set", "cli-q", "--concurrency-limit", "-3"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid_argument: concurrency_limit: -3 is out of range/);
    expect((await spool(["queues", "set", "cli-q"])).stderr).toMatch(/give at least one of/);
  });

});

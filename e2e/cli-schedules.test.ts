// `spool schedules ...` as a real process (sdk/bin/spool.js) against the built service.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { eventually } from "../service/src/test-support/spool.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const bin = fileURLToPath(new URL("../sdk/bin/spool.js", import.meta.url));
const database = useTestDatabase();
let service: ServiceProcess;

beforeAll(async () => {
  service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "2" });
});
afterAll(() => killAll());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spool(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? "", SPOOL_ADDRESS: service.address }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const jsonLines = (stdout: string) =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>);

describe("spool schedules", () => {
  it("has --help for itself and each of its commands", async () => {
    const help = await spool(["schedules", "--help"]);
    expect(help.code).toBe(0);
    for (const command of ["list", "create", "pause", "resume", "trigger", "delete"]) expect(help.stdout).toContain(command);
    expect((await spool(["schedules", "create", "--help"])).stdout).toMatch(/--cron <expression>[\s\S]*--every <duration>[\s\S]*--catch-up <policy>/);
    expect((await spool(["--help"])).stdout).toContain("schedules");
  });

  it("creates a schedule, repeats the create harmlessly, and updates it with --upsert", async () => {
    const args = ["schedules", "create", "reports/nightly", "demo.echo", "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--input", '{"report":"sales"}', "--label", "team=bi"];
    const created = await spool([...args, "--json"]);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    const [first] = jsonLines(created.stdout);
    expect(first).toMatchObject({
      outcome: "created",
      schedule: { name: "reports/nightly", cron: "30 2 * * *", timeZone: "Europe/Berlin", paused: false, task: { kind: "demo.echo", input: { report: "sales" }, labels: { team: "bi" } } },
    });
    const again = await spool(args);
    expect(again.stdout).toMatch(/^unchanged reports\/nightly ACTIVE 30 2 \* \* \* \(Europe\/Berlin\) next run \S+Z\n$/);

    const other = await spool(["schedules", "create", "reports/nightly", "demo.echo", "--cron", "45 2 * * *"]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/already_exists: schedule "reports\/nightly" exists in tenant "default" with another cron, time_zone, task/);
    const upserted = await spool(["schedules", "create", "reports/nightly", "demo.echo", "--cron", "45 2 * * *", "--upsert", "--json"]);
    expect(jsonLines(upserted.stdout)[0]).toMatchObject({ outcome: "updated", schedule: { cron: "45 2 * * *", timeZone: "UTC" } });
  });

  it("lists schedules as a table or as JSON lines", async () => {
    await spool(["schedules", "create", "list/every-5m", "demo.echo", "--every", "5m", "--catch-up", "all", "--catch-up-limit", "7"]);
    await spool(["schedules", "create", "list/paused", "demo.echo", "--every", "90s", "--paused"]);
    const table = await spool(["schedules", "list"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+WHEN\s+TZ\s+KIND\s+QUEUE\s+NEXT RUN\s+LAST RUN\s+CATCH-UP$/);
    expect(lines.find((l) => l.startsWith("list/every-5m"))).toMatch(/^list\/every-5m\s+ACTIVE\s+every 5m\s+demo\.echo\s+default\s+\S+Z\s+-\s+all \(7\)$/);
    expect(lines.find((l) => l.startsWith("list/paused"))).toMatch(/^list\/paused\s+PAUSED\s+every 1m30s\s+demo\.echo\s+default\s+-\s+-\s+skip$/);
    const json = await spool(["schedules", "list", "--json"]);
    const names = jsonLines(json.stdout).map((s) => s.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["list/every-5m", "list/paused"]));
    const limited = await spool(["schedules", "list", "--limit", "1"]);
    expect(limited.stdout.trimEnd().split("\n").at(-1)).toBe("showing 1; more exist: --limit N");
  });

  it("pauses, resumes, triggers and deletes", async () => {
    await spool(["schedules", "create", "ops/cleanup", "demo.echo", "--every", "1h", "--input", '"sweep"']);
    const paused = await spool(["schedules", "pause", "ops/cleanup"]);
    expect(paused.stdout).toMatch(/^ops\/cleanup PAUSED every 1h next run -\n$/);
    const [triggered] = jsonLines((await spool(["schedules", "trigger", "ops/cleanup", "--json"])).stdout);
    expect(triggered).toMatchObject({ kind: "demo.echo", input: "sweep", schedule: "ops/cleanup", state: expect.any(String) });
    const done = await eventually(async () => {
      const [task] = jsonLines((await spool(["get", triggered!.id, "--json"])).stdout);
      return task?.state === "succeeded" ? task : undefined;
    }, 20_000, "the triggered task to succeed");
    expect(done.result).toBe("sweep");
    const [resumed] = jsonLines((await spool(["schedules", "resume", "ops/cleanup", "--json"])).stdout);
    expect(resumed).toMatchObject({ name: "ops/cleanup", paused: false, nextRunAt: expect.any(String) });
    const human = await spool(["schedules", "trigger", "ops/cleanup"]);
    expect(human.stdout).toMatch(/^[0-9a-f-]{36} (PENDING|RUNNING|SUCCEEDED)\n$/);

    expect(await spool(["schedules", "delete", "ops/cleanup", "--json"])).toMatchObject({ code: 0, stdout: '{"deleted":"ops/cleanup"}\n' });
    const gone = await spool(["schedules", "delete", "ops/cleanup"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not_found: schedule "ops\/cleanup" not found in tenant "default"/);
  });

  it("says what is wrong, naming the flag or the field", async () => {
    const neither = await spool(["schedules", "create", "x", "demo.echo"]);
    expect(neither).toMatchObject({ code: 1 });
    expect(neither.stderr).toMatch(/give one of --cron and --every/);
    const badCron = await spool(["schedules", "create", "x", "demo.echo", "--cron", "61 * * * *", "--json"]);
    expect(badCron.code).toBe(1);
    expect(JSON.parse(badCron.stderr)).toMatchObject({ error: { code: "invalid_argument", message: expect.stringMatching(/^schedule\.cron: /) } });
    const badZone = await spool(["schedules", "create", "x", "demo.echo", "--cron", "0 9 * * *", "--tz", "Nowhere/Town"]);
    expect(badZone.stderr).toMatch(/invalid_argument: schedule\.time_zone: "Nowhere\/Town" is not an IANA time zone/);
    const badEvery = await spool(["schedules", "create", "x", "demo.echo", "--every", "soon"]);
    expect(badEvery.stderr).toMatch(/--every <duration>.*not a duration/);
    const badPolicy = await spool(["schedules", "create", "x", "demo.echo", "--every", "1s", "--catch-up", "never"]);
    expect(badPolicy.stderr).toMatch(/--catch-up <policy>.*Allowed choices are skip, once, all/);
  });
});

// Configuration as the process reads it: SPOOL_LOG_LEVEL, parsed and checked with the rest of
// the environment, sets the logger's level, and a bad configuration (a bad log level included,
// whatever level was asked for) ends the process with one readable fatal JSON log line.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";

const database = useTestDatabase();
const mainJs = fileURLToPath(new URL("../service/dist/main.js", import.meta.url));

afterAll(() => killAll());

/** Runs the service with this environment until it exits by itself (at most 30 s). */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** The JSON log lines; any other output fails the test. */
function logLines(stdout: string): Array<Record<string, any>> {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

it("reports a bad SPOOL_LOG_LEVEL as a fatal log line naming it", async () => {
  const run = await runToExit({ DATABASE_URL: database.url, SPOOL_LOG_LEVEL: "loud" });
  expect(run.code).toBe(1);
  expect(run.stderr).toBe("");
  const fatal = logLines(run.stdout).filter((line) => line.level === 60);
  expect(fatal).toHaveLength(1);
  expect(fatal[0]!.err.message).toMatch(/^invalid configuration: SPOOL_LOG_LEVEL: /);
});

it("reports a bad configuration even when SPOOL_LOG_LEVEL silences the logs", async () => {
  const run = await runToExit({ DATABASE_URL: database.url, SPOOL_LOG_LEVEL: "silent", SPOOL_PORT: "eighty" });
  expect(run.code).toBe(1);
  const fatal = logLines(run.stdout).filter((line) => line.level === 60);
  expect(fatal).toHaveLength(1);
  expect(fatal[0]!.err.message).toMatch(/^invalid configuration: SPOOL_PORT: /);
});

it("logs at the level SPOOL_LOG_LEVEL sets", async () => {
  const levels = async (level: string) => {
    const service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "1", SPOOL_LOG_LEVEL: level });
    await service.kill("SIGKILL"); // what it logged while starting is enough
    return new Set(logLines(service.output()).map((line) => line.level));
  };
  expect(await levels("debug")).toContain(20); // "worker thread started"
  expect(await levels("info")).not.toContain(20);
});

// The README's "Try it" walk-through, run as written (one bash script, in order, as a
// newcomer pastes it into a second terminal) against the built service, so it cannot rot.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const database = useTestDatabase();
let service: ServiceProcess;

beforeAll(async () => {
  service = await startService({ DATABASE_URL: database.url });
});
afterAll(() => killAll());

const readme = readFileSync(`${root}README.md`, "utf8");
const tryIt = readme.slice(readme.indexOf("## Try it"));
const walkThrough = tryIt.slice(tryIt.indexOf("```sh\n") + 6, tryIt.indexOf("```\n", tryIt.indexOf("```sh\n") + 6));

it("has an example for every RPC", () => {
  for (const method of ["CreateTask", "CreateTasks", "GetTask", "ListTasks", "StreamLogs", "WatchTask", "CancelTask", "Health/Check", "--list-methods"]) {
    expect(walkThrough).toContain(method);
  }
});

it("runs the walk-through as written, in one shell", async () => {
  const script = `set -euo pipefail\n${walkThrough.replaceAll("127.0.0.1:50051", service.address)}`;
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile("bash", ["-c", script], { cwd: root, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
  expect({ code: result.code, stderr: result.stderr.replace(/npm warn.*\n/g, "") }).toEqual({ code: 0, stderr: "" });
  // The log was followed live to its end: ten seconds, a line each.
  for (let second = 1; second <= 10; second++) expect(result.stdout).toContain(`"slept ${second} of 10 s"`);
  // The watched finished task, then the cancelled one.
  expect(result.stdout).toContain("TASK_STATE_SUCCEEDED");
  expect(result.stdout.trimEnd()).toMatch(/"status":\s*"SERVING"\s*}$/);
  expect(result.stdout).toContain("TASK_STATE_CANCELLED");
  expect(result.stdout).toContain('"not needed"');
});

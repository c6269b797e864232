// The README's `buf curl` examples, run as written against the built service, so they
// cannot rot.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { curlCall, killAll, startService, type ServiceProcess } from "./support/service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const database = useTestDatabase();
let service: ServiceProcess;

beforeAll(async () => {
  service = await startService({ DATABASE_URL: database.url });
});
afterAll(() => killAll());

const examples = readFileSync(`${root}README.md`, "utf8")
  .split("\n")
  .filter((line) => line.startsWith("npx buf curl "));

it("has an example for every RPC", () => {
  for (const method of ["CreateTask", "CreateTasks", "GetTask", "ListTasks", "StreamLogs", "WatchTask", "CancelTask", "Health/Check", "--list-methods"]) {
    expect(examples.some((line) => line.includes(method))).toBe(true);
  }
});

it("runs every example successfully", async () => {
  const { task } = await curlCall(service, "CreateTask", { kind: "demo.sleep", input: { seconds: 1 } });
  for (const example of examples) {
    const command = example.replaceAll("127.0.0.1:50051", service.address);
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile("bash", ["-c", command], { cwd: root, env: { ...process.env, ID: task.id }, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect({ example, code: result.code, stderr: result.stderr.replace(/npm warn.*\n/g, "") }).toEqual({ example, code: 0, stderr: "" });
  }
});

// sdk/README.md's TypeScript snippets, as a reader would use them: each block is written to
// the file its first line names (e2e/.snippets/...), the handler modules are loaded by the
// built service (SPOOL_TASKS), every snippet is typechecked with the project's strict
// settings, and each client script runs with tsx against the service.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const snippetsDir = join(root, "e2e/.snippets");
const database = useTestDatabase();
let service: ServiceProcess;
let snippets: { path: string; code: string }[];

beforeAll(async () => {
  const readme = await readFile(join(root, "sdk/README.md"), "utf8");
  snippets = [...readme.matchAll(/```ts\n(\/\/ (\S+)\n[\s\S]*?)```/g)].map((m) => ({ path: m[2]!, code: m[1]! }));
  await rm(snippetsDir, { recursive: true, force: true });
  for (const { path, code } of snippets) {
    await mkdir(dirname(join(snippetsDir, path)), { recursive: true });
    await writeFile(join(snippetsDir, path), code);
  }
  await writeFile(
    join(snippetsDir, "tsconfig.json"),
    JSON.stringify({ extends: "../../tsconfig.base.json", compilerOptions: { noEmit: true, composite: false, incremental: false }, include: ["**/*.ts"] }),
  );
  service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "3", SPOOL_TASKS: join(snippetsDir, "tasks") });
});
afterAll(async () => {
  await killAll();
  await rm(snippetsDir, { recursive: true, force: true });
});

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(command, args, { cwd: snippetsDir, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

it("has a handler module and client scripts", () => {
  expect(snippets.map((s) => s.path)).toEqual(["tasks/send-email.ts", "run.ts", "follow.ts", "list-and-cancel.ts", "schedules.ts", "errors.ts"]);
});

it("typechecks every snippet", async () => {
  const result = await run(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"]);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(0);
});

it.each([
  ["run.ts", [/^[0-9a-f-]{36}@example\.com$/m]],
  [
    "follow.ts",
    // The watch may first see it pending or running (timing); it always ends with the last step.
    [/^succeeded 1 send$/m, /^1 info sending "Hi" to bob@example\.com$/m, /^succeeded \{\s+attempt: 1,\s+messageId: '[0-9a-f-]{36}@example\.com'\s+\} \[\]$/m],
  ],
  ["list-and-cancel.ts", [/^cancelled\ncancelled\ntrue (pending|running)$/m]],
  ["schedules.ts", [/^created \d{4}-\d\d-\d\dT0[67]:00:00\.000Z$/m, /^succeeded emails\/digest$/m, /^emails\/digest active$/m]],
  ["errors.ts", [/^invalid_argument input\.to: .*\nno such task$/m]],
])("runs %s", async (file, outputs) => {
  const source = await readFile(join(snippetsDir, file), "utf8");
  await writeFile(join(snippetsDir, file), source.replaceAll("127.0.0.1:50051", service.address));
  const result = await run(process.execPath, ["--import", "tsx", file]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  for (const output of outputs) expect(result.stdout).toMatch(output);
});

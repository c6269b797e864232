// The spool-server command as npm links it (node_modules/.bin/spool-server): --help, flags
// that win over the environment, a usage error that says what is wrong, and the README's
// configuration table naming every setting with its flag.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SpoolClient } from "@spool/sdk";
import { afterAll, expect, it } from "vitest";
import { flagOf } from "../service/src/command-line.js";
import { configVariables } from "../service/src/config.js";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";
import { finished } from "./support/tasks.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}node_modules/.bin/spool-server`;
const database = useTestDatabase();

afterAll(() => killAll());

/** Runs the command until it exits by itself (at most 30 s). */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

it("prints its options, each with its variable, and exits 0", async () => {
  const result = await run(["--help"]);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  expect(result.stdout).toMatch(/^Usage: spool-server \[options\]/);
  for (const variable of configVariables) expect(result.stdout).toMatch(new RegExp(`${flagOf(variable)} <value> +${variable}\\b`));
});

it("serves with flags that win over the environment, and runs the tasks given with --tasks", async () => {
  const tasks = fileURLToPath(new URL("./fixtures/tasks", import.meta.url));
  // The environment asks for a port that cannot be had and a database that does not exist: the flags win.
  const service = await startService(
    { SPOOL_PORT: "1", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", SPOOL_LOG_LEVEL: "debug" },
    { entry: bin, args: ["--port", "0", "--database-url", database.url, "--tasks", tasks, "--log-level=info"] },
  );
  const client = new SpoolClient(service.address);
  try {
    const task = await finished(client, (await client.createTask("example.greet", { name: "Ada" })).id);
    expect(task).toMatchObject({ state: "succeeded", result: { greeting: "hello, Ada" } });
    // --log-level=info won over SPOOL_LOG_LEVEL=debug: no debug line (level 20) was written.
    const levels = service
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.filter((level) => level < 30)).toEqual([]);
  } finally {
    client.close();
    await service.kill("SIGTERM");
  }
});

it("refuses an unknown option with a plain message and status 2", async () => {
  expect(await run(["--prot", "7000"])).toEqual({
    code: 2,
    stdout: "",
    stderr: "spool-server: unknown option --prot\nspool-server --help lists the options.\n",
  });
});

it("documents every setting in the README's configuration table, with its flag", () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| `(--[a-z-]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`);
  expect(rows.sort()).toEqual(configVariables.map((variable) => `${variable} ${flagOf(variable)}`).sort());
});

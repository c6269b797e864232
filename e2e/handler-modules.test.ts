// Handler modules as users write them, in projects of their own (temp folders outside the
// repository, each with its own package.json and its own copy of @spool/sdk in node_modules):
// ES modules and CommonJS, JavaScript and TypeScript, each extension, all run by the built
// service. And each way a module can fail to load gives a message naming the real cause.
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";
import { finished } from "./support/tasks.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const handlersJs = `${root}service/dist/workers/handlers.js`;
const database = useTestDatabase();
let temp: string;

/** Writes a project: package.json with this "type" (none if undefined), its own @spool/sdk, and files. */
async function project(name: string, type: string | undefined, files: Record<string, string>): Promise<string> {
  const dir = join(temp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, private: true, ...(type ? { type } : {}) }));
  // The user's own copy of the SDK, not a link to Spool's: a definition it makes must still count.
  const sdk = join(dir, "node_modules", "@spool", "sdk");
  await mkdir(sdk, { recursive: true });
  await cp(`${root}sdk/package.json`, join(sdk, "package.json"));
  await cp(`${root}sdk/dist`, join(sdk, "dist"), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), "spool-handlers-"));
});
afterAll(async () => {
  await killAll();
  await rm(temp, { recursive: true, force: true });
});

// What each task returns: its kind, and whether it ran as CommonJS (which has `module`).
const body = (kind: string) => `kind: "${kind}", run: () => ({ kind: "${kind}", commonjs: typeof module !== "undefined" })`;
const esm = (kind: string) => `import { defineTask } from "@spool/sdk/task";\nexport const task = defineTask({ ${body(kind)} });\n`;
const cjs = (kind: string) => `const { defineTask } = require("@spool/sdk/task");\nexports.task = defineTask({ ${body(kind)} });\n`;

describe("loading every kind of module", () => {
  it("runs ESM and CommonJS, JavaScript and TypeScript, by extension and package type", async () => {
    const commonjsProject = await project("app-commonjs", "commonjs", {
      "tasks/ts.ts": esm("cjs.ts"), // TypeScript in a CommonJS package: the case that failed "in a cycle"
      "tasks/js.js": cjs("cjs.js"),
      "tasks/cjs.cjs": cjs("cjs.cjs"),
      "tasks/cts.cts": `import { defineTask } from "@spool/sdk/task";\nexport = defineTask({ ${body("cjs.cts")} });\n`,
      "tasks/mjs.mjs": esm("cjs.mjs"),
      "tasks/mts.mts": `import { defineTask } from "@spool/sdk/task";\nexport default [defineTask({ ${body("cjs.mts")} })];\n`,
    });
    const moduleProject = await project("app-module", "module", {
      "tasks/ts.ts": esm("esm.ts"),
      "tasks/js.js": esm("esm.js"),
      "tasks/cjs.cjs": cjs("esm.cjs"),
      "tasks/cts.cts": `import { defineTask } from "@spool/sdk/task";\nexport const task = defineTask({ ${body("esm.cts")} });\n`,
      "tasks/mts.mts": esm("esm.mts"),
      // A relative import inside the project, written with .js as TypeScript wants it.
      "tasks/lib/helper.ts": `export const shout = (s: string): string => s.toUpperCase();\n`,
      "tasks/uses-helper.ts": `import { defineTask } from "@spool/sdk/task";\nimport { shout } from "./lib/helper.js";\nexport const task = defineTask({ kind: "esm.helper", run: (input: string) => shout(input) });\n`,
    });
    const service = await startService({ DATABASE_URL: database.url }, {
      args: ["--tasks", join(commonjsProject, "tasks"), "--tasks", join(moduleProject, "tasks"), "--workers", "1"],
    });
    const client = new SpoolClient(service.address);
    try {
      const expected: Record<string, boolean> = {
        "cjs.ts": true, "cjs.js": true, "cjs.cjs": true, "cjs.cts": true, "cjs.mjs": false, "cjs.mts": false,
        "esm.ts": false, "esm.js": false, "esm.cjs": true, "esm.cts": true, "esm.mts": false,
      };
      const tasks = await Promise.all(Object.keys(expected).map((kind) => client.createTask(kind, null)));
      const results = await Promise.all(tasks.map(async (task) => (await finished(client, task.id)).result));
      expect(results).toEqual(Object.entries(expected).map(([kind, commonjs]) => ({ kind, commonjs })));
      expect((await finished(client, (await client.createTask("esm.helper", "quiet")).id)).result).toBe("QUIET");
    } finally {
      client.close();
      await service.kill("SIGTERM");
    }
  });
});

/** loadHandlers of the built service in a fresh process, as each worker thread runs it: the error message, or "loaded". */
function load(dir: string): Promise<string> {
  const script = `import(${JSON.stringify(handlersJs)}).then((m) => m.loadHandlers([${JSON.stringify(dir)}])).then(() => console.log("loaded"), (e) => console.log(e.message))`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout.trim()),
    );
  });
}

describe("a module that cannot load names the real cause", () => {
  const tsTask = `import { defineTask } from "@spool/sdk/task";\n`;
  const cases: Array<{ name: string; type?: string; files: Record<string, string>; message: (dir: string) => RegExp }> = [
    {
      // (With no "type" at all, Node 20.19+ sees the import and loads it as an ES module.)
      name: "import/export in a .js that Node loads as CommonJS",
      type: "commonjs",
      files: { "t.js": esm("x.y") },
      message: (dir) =>
        new RegExp(
          `^handler module ${dir}/t\\.js could not be loaded: ${dir}/t\\.js uses import/export, but Node loads it as CommonJS: ${dir}/package\\.json says "type": "commonjs"\\. Add "type": "module" to ${dir}/package\\.json, or name the file \\.mjs \\(\\.mts in TypeScript\\)\\.$`,
        ),
    },
    {
      name: "require in a .js that Node loads as an ES module",
      type: "module",
      files: { "t.js": cjs("x.y") },
      message: (dir) =>
        new RegExp(`: ${dir}/t\\.js uses require, .* Node loads it as an ES module: ${dir}/package\\.json says "type": "module"\\. Use import/export instead, or name the file \\.cjs`),
    },
    {
      name: "top-level await in TypeScript that is CommonJS",
      files: { "t.ts": `${tsTask}await Promise.resolve();\nexport const task = defineTask({ kind: "x.y", run: () => 1 });\n` },
      message: (dir) =>
        new RegExp(`: ${dir}/t\\.ts:2:0 uses top-level await, which needs an ES module, but it is loaded as CommonJS: ${dir}/package\\.json has no "type", which means "commonjs"\\. Add "type": "module" to ${dir}/package\\.json`),
    },
    {
      name: "CommonJS TypeScript that requires an ES module with top-level await",
      files: {
        "t.ts": `${tsTask}import { ready } from "slow-start";\nexport const task = defineTask({ kind: "x.y", run: () => ready });\n`,
        "node_modules/slow-start/package.json": JSON.stringify({ name: "slow-start", type: "module", exports: "./index.js" }),
        "node_modules/slow-start/index.js": "await Promise.resolve();\nexport const ready = true;\n",
      },
      message: (dir) =>
        new RegExp(
          `: it is loaded as CommonJS \\(${dir}/package\\.json has no "type", which means "commonjs"\\) and requires ${dir}/node_modules/slow-start/index\\.js, an ES module with top-level await \\(at \\S+:1:0\\), which CommonJS cannot require\\. Add "type": "module" to ${dir}/package\\.json`,
        ),
    },
    {
      name: "a dependency that is not installed (ES module)",
      type: "module",
      files: { "t.ts": `${tsTask}import pad from "left-pad-not-installed";\nexport const task = defineTask({ kind: "x.y", run: () => pad });\n` },
      message: (dir) => new RegExp(`: ${dir}/t\\.ts imports left-pad-not-installed, which is not installed: run \`npm install left-pad-not-installed\` in ${dir} `),
    },
    {
      name: "a dependency that is not installed (CommonJS)",
      files: { "t.ts": `${tsTask}import pad from "@acme/not-installed/sub";\nexport const task = defineTask({ kind: "x.y", run: () => pad });\n` },
      message: (dir) => new RegExp(`: ${dir}/t\\.ts imports @acme/not-installed/sub, which is not installed: run \`npm install @acme/not-installed\` in ${dir} `),
    },
    {
      name: "a relative import of a file that is not there",
      type: "module",
      files: { "t.ts": `${tsTask}import { x } from "./lib/missing.js";\nexport const task = defineTask({ kind: "x.y", run: () => x });\n` },
      message: (dir) => new RegExp(`: ${dir}/t\\.ts imports \\S*lib/missing\\.js, which does not exist`),
    },
    {
      name: "a syntax error in TypeScript",
      type: "module",
      files: { "t.ts": `${tsTask}\nexport const task = defineTask({ kind: "x.y", run: () => { return 1 + ; } });\n` },
      message: (dir) => new RegExp(`: syntax error at ${dir}/t\\.ts:3:\\d+: Unexpected ";"$`),
    },
    {
      name: "a syntax error in an ES module",
      type: "module",
      files: { "t.js": `import { defineTask } from "@spool/sdk/task";\n\nexport const task = defineTask({ kind: "x.y", run: () => { return 1 + ; } });\n` },
      message: (dir) => new RegExp(`: syntax error at ${dir}/t\\.js:3: Unexpected token ';'$`),
    },
    {
      name: "a syntax error in CommonJS",
      files: { "t.js": `const { defineTask } = require("@spool/sdk/task");\n\nexports.task = defineTask({ kind: "x.y", run: () => { return 1 + ; } });\n` },
      message: (dir) => new RegExp(`: syntax error at ${dir}/t\\.js:3: Unexpected token ';'$`),
    },
    {
      name: "a throw at the top level",
      type: "module",
      files: { "t.ts": `${tsTask}throw new TypeError("no config");\n` },
      message: (dir) => new RegExp(`: its top level threw TypeError: no config \\(at ${dir}/t\\.ts:2:7\\)$`),
    },
  ];

  it.each(cases.map((c, i) => ({ ...c, i })))("$name", async ({ i, type, files, message }) => {
    const dir = await project(`broken-${i}`, type, files);
    expect(await load(dir)).toMatch(message(dir));
  });

  it("reaches the user as the service's fatal log line, and the service exits 1", async () => {
    const dir = await project("broken-service", "module", { "t.ts": `${tsTask}import "not-installed-anywhere";\nexport const task = defineTask({ kind: "x.y", run: () => 1 });\n` });
    const failure = await startService({ DATABASE_URL: database.url }, { args: ["--tasks", dir, "--workers", "1"] }).then(
      () => new Error("the service started"),
      (error: Error) => error,
    );
    expect(failure.message).toMatch(/^service exited with code 1 before serving/);
    const fatal = failure.message
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } })
      .filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toBe("spool failed to start");
    expect(fatal[0]!.err?.message).toMatch(
      new RegExp(`handler module ${dir}/t\\.ts could not be loaded: ${dir}/t\\.ts imports not-installed-anywhere, which is not installed: run \`npm install not-installed-anywhere\` in ${dir} `),
    );
  });
});

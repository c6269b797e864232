// Spool as a user gets it, from outside the repository: every package is packed with
// `npm pack`, and a fresh app in a temp folder (its own package.json, in the "commonjs" and
// in the "module" flavour) installs the tarballs and zod from the registry, writes the README's
// typed TypeScript task (with a zod schema) and client, typechecks them against the packed type
// declarations, starts `spool-server` from its node_modules/.bin (the CommonJS app with
// DATABASE_URL, the ES module app with the embedded Postgres), and runs the task through
// the SDK: its result, its log line, and a bad input refused by the schema.
//
// npm install prefers its cache (--prefer-offline), which `npm ci` of this repository fills,
// and asks the registry only for what is not there.
import { execFile, type ExecFileOptions } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = `${root}node_modules/.bin/tsc`;
const database = useTestDatabase();
let temp: string;
let tarballs: string[];

/** The environment of every command: this one without npm's own variables (npm test sets them, and a nested npm would obey them). */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle|command|execpath|node_execpath)/i.test(key)),
) as Record<string, string>;

/** Runs a command to its end; rejects with its output if it fails. */
function run(file: string, args: string[], options: ExecFileOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, ...options }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${String(stdout)}\n${String(stderr)}`)) : resolve(String(stdout)),
    );
  });
}

/** Milliseconds each step took, per flavour, printed at the end. */
const timings: string[] = [];
async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  timings.push(`${name}: ${Math.round(performance.now() - start)} ms`);
  return result;
}

beforeAll(async () => {
  for (const dir of ["proto", "sdk", "service", "dashboard"]) {
    if (!existsSync(join(root, dir, "dist"))) throw new Error(`${dir}/dist is missing: build first (npm test does)`);
  }
  temp = await mkdtemp(join(tmpdir(), "spool-outside-"));
  await chmod(temp, 0o755); // the embedded Postgres runs as the postgres user when tests run as root
  const packs = join(temp, "packs");
  await mkdir(packs);
  await step("npm pack (4 packages)", () =>
    run("npm", ["pack", "--pack-destination", packs, "--ignore-scripts", "--silent", "-w", "proto", "-w", "sdk", "-w", "service", "-w", "dashboard"], { cwd: root }),
  );
  tarballs = (await readdir(packs)).filter((name) => name.endsWith(".tgz")).map((name) => join(packs, name));
  expect(tarballs.map((path) => path.replace(/^.*\//, "").replace(/-\d.*$/, "")).sort()).toEqual(["spool-dashboard", "spool-proto", "spool-sdk", "spool-server"]);
});

afterAll(async () => {
  await killAll();
  // An embedded Postgres left behind by a failed run (a clean stop has already stopped it).
  const pidFile = join(temp, "app-module", ".spool", "pg", "postmaster.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(join(temp, "app-module"))) process.kill(pid, "SIGINT");
    } catch {
      // gone already
    }
  }
  console.log(`outside-repo timings:\n  ${timings.join("\n  ")}`);
  await rm(temp, { recursive: true, force: true, maxRetries: 3 });
});

const zodRange = (JSON.parse(readFileSync(join(root, "examples/package.json"), "utf8")) as { dependencies: { zod: string } }).dependencies.zod;
const nodeTypesRange = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies["@types/node"]!;

// The user's code, the same in both flavours: the task and the client of the README's "Your own
// project", as written there (the client's address aside), and a test client that checks more.
const readmeSection = (() => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("## Your own project");
  return readme.slice(start, readme.indexOf("\n## ", start + 1));
})();
const readmeFiles = new Map([...readmeSection.matchAll(/```ts\n\/\/ (\S+)\n([\s\S]*?)```/g)].map((m) => [m[1]!, `// ${m[1]}\n${m[2]}`]));

// Reports how it was loaded: CommonJS has `module`, an ES module has not.
const flavourSource = `import { defineTask } from "@spool/sdk/task";

export const flavour = defineTask({
  kind: "app.flavour",
  run: () => (typeof module === "undefined" ? "module" : "commonjs"),
});
`;

const testClientSource = `import { SpoolClient, SpoolError } from "@spool/sdk";
import { flavour } from "./tasks/flavour.js";
import { greet } from "./tasks/greet.js";

async function main(): Promise<void> {
  const spool = new SpoolClient(process.argv[2]!);
  try {
    const result = await spool.run(greet, { name: "Ada" });
    const greeting: string = result.greeting; // typed by the task's definition
    const task = await spool.createTask(greet.kind, { name: "Bo" });
    const lines: string[] = [];
    for await (const line of spool.streamLogs(task.id, { follow: true })) lines.push(line.message);
    const refused = await spool.createTask(greet.kind, { name: "" }).then(
      () => "accepted",
      (error: unknown) => (error instanceof SpoolError ? error.code : String(error)),
    );
    console.log(JSON.stringify({ greeting, flavour: await spool.run(flavour, null), lines, refused }));
  } finally {
    spool.close();
  }
}

// Never called: the compiler must refuse it, so the types did come through.
export function wrongInput(spool: SpoolClient) {
  // @ts-expect-error name must be a string, as the schema says
  return spool.run(greet, { name: 42 });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`;

const tsconfig = {
  compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] },
  include: ["tasks", "client.ts", "test-client.ts"],
};

it.concurrent.each([
  { flavour: "commonjs", database: "DATABASE_URL" },
  { flavour: "module", database: "embedded" },
] as const)("runs a typed TypeScript task from a fresh $flavour app ($database)", async ({ flavour, database: db }) => {
  const app = join(temp, `app-${flavour}`);
  await mkdir(join(app, "tasks"), { recursive: true });
  await writeFile(join(app, "package.json"), JSON.stringify({ name: `app-${flavour}`, version: "1.0.0", private: true, type: flavour }, null, 2));
  await step(`${flavour}: npm install`, () =>
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs, `zod@${zodRange}`, `@types/node@${nodeTypesRange}`], { cwd: app }),
  );
  expect([...readmeFiles.keys()]).toEqual(["tasks/greet.ts", "client.ts"]);
  await writeFile(join(app, "tasks", "greet.ts"), readmeFiles.get("tasks/greet.ts")!);
  await writeFile(join(app, "client.ts"), readmeFiles.get("client.ts")!);
  await writeFile(join(app, "tasks", "flavour.ts"), flavourSource);
  await writeFile(join(app, "test-client.ts"), testClientSource);
  await writeFile(join(app, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));

  // The packed declarations typecheck the user's code (and refuse the wrong input).
  await step(`${flavour}: tsc`, () => run(tsc, ["-p", app], { cwd: app }));

  const service = await step(`${flavour}: spool-server started`, () =>
    startService(db === "DATABASE_URL" ? { DATABASE_URL: database.url } : {}, {
      entry: join(app, "node_modules", ".bin", "spool-server"),
      args: ["--tasks", "./tasks", "--port", "0", "--workers", "1"],
      cwd: app,
    }),
  );
  try {
    if (db === "embedded") expect(service.output()).toContain("embedded postgres: started");
    expect(service.output()).toMatch(/"kinds":\[[^\]]*"app\.flavour","app\.greet"/);
    const tsx = join(app, "node_modules", ".bin", "tsx");
    // The README's client, pointed at this server.
    await writeFile(join(app, "client.ts"), readmeFiles.get("client.ts")!.replace('"127.0.0.1:50051"', JSON.stringify(service.address)));
    expect(await step(`${flavour}: README client (tsx)`, () => run(tsx, ["client.ts"], { cwd: app }))).toBe("hello, Ada\n");
    const output = await step(`${flavour}: test client (tsx)`, () => run(tsx, ["test-client.ts", service.address], { cwd: app }));
    expect(JSON.parse(output.trim().split("\n").at(-1)!)).toEqual({
      greeting: "hello, Ada",
      flavour,
      lines: ["greeting Bo"],
      refused: "invalid_argument",
    });
  } finally {
    expect(await service.kill("SIGTERM")).toBe(0);
  }
});

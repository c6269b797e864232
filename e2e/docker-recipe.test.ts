// The Docker recipe (docs/docker.md, examples/docker/Dockerfile) without Docker: its
// instructions run as written (support/dockerfile.ts) on folders standing for the images,
// FROM a stand-in for Spool's image (its /app is this repository's build output, its ENV,
// WORKDIR and CMD are read from Spool's own Dockerfile). Then the image's CMD starts the
// server there, and the example's task runs through the SDK: its files landed where Spool's
// image reads tasks, its dependencies install and resolve from there, and the tag the recipe
// asks for by default is the version of the server.
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient, SpoolError } from "@spool/sdk";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { build, imageSettings, inStage, parseDockerfile, type Stage } from "./support/dockerfile.js";
import { killAll, startService } from "./support/service.js";
import { finished } from "./support/tasks.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const recipe = join(root, "examples", "docker");
const database = useTestDatabase();
let temp: string;

/** npm test's own npm variables would steer the recipe's `npm ci`: left out. */
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))) as Record<string, string>;

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), "spool-docker-recipe-"));
  await chmod(temp, 0o755);
});
afterAll(async () => {
  await killAll();
  await rm(temp, { recursive: true, force: true });
});

it("asks for Spool's image at the server's version, and Spool's image reads tasks from /app/tasks", async () => {
  const args = Object.fromEntries(
    parseDockerfile(readFileSync(join(recipe, "Dockerfile"), "utf8"))
      .filter((i) => i.keyword === "ARG")
      .map((i) => i.args.split("=", 2)),
  );
  const server = JSON.parse(readFileSync(join(root, "service", "package.json"), "utf8")) as { version: string };
  expect(args).toEqual({ SPOOL_IMAGE: "spool", SPOOL_TAG: server.version });
  const spool = await imageSettings(join(root, "Dockerfile"));
  expect(spool.env.SPOOL_TASKS).toBe("/app/tasks");
  expect(spool.workdir).toBe("/app");
});

it("builds the example's layout and runs its task with the image's command", async () => {
  const spool = await imageSettings(join(root, "Dockerfile"));
  let stages = 0;
  // Spool's image: /app holds the built repository (what its build stage leaves), and an empty /app/tasks.
  const spoolImage = async (image: string, name: string | undefined): Promise<Stage> => {
    expect(image).toMatch(/^spool:/);
    const stageRoot = join(temp, `stage-${stages++}`);
    const app = join(stageRoot, "app");
    await mkdir(join(app, "tasks"), { recursive: true });
    for (const entry of ["package.json", "node_modules", "proto", "sdk", "service"]) await symlink(join(root, entry), join(app, entry));
    return { name, root: stageRoot, workdir: spool.workdir, env: { ...spool.env }, cmd: spool.cmd };
  };
  const image = await build(join(recipe, "Dockerfile"), { context: recipe, base: spoolImage, env });

  // The tasks folder as the image has it: the project's manifest, its dependencies and its tasks.
  const tasks = inStage(image, image.env.SPOOL_TASKS!);
  for (const path of ["package.json", "node_modules/zod/package.json", "summarize.ts", "lib/format.ts"]) {
    expect(existsSync(join(tasks, path)), path).toBe(true);
  }

  // The image's CMD, in its WORKDIR, with its ENV (paths inside the stage's folder). Only the
  // address differs: loopback and a free port, as every test here listens.
  const [program, script, ...rest] = image.cmd!;
  expect(program).toBe("node");
  const imageEnv = Object.fromEntries(
    Object.entries(image.env)
      .filter(([name]) => name !== "SPOOL_HOST" && name !== "SPOOL_PORT")
      .map(([name, value]) => [name, value.startsWith("/") ? join(image.root, posix.normalize(value)) : value]),
  );
  const service = await startService({ ...imageEnv, DATABASE_URL: database.url }, { entry: inStage(image, script!), args: rest, cwd: inStage(image, ".") });
  const client = new SpoolClient(service.address);
  try {
    expect(service.output()).toMatch(/"kinds":\["demo\.echo","demo\.log","demo\.sleep","demo\.spin","report\.summarize"\]/);
    const task = await finished(client, (await client.createTask("report.summarize", { title: "q3", values: [1, 2, 3.5] })).id);
    expect(task).toMatchObject({ state: "succeeded", result: { title: "q3", count: 3, total: "6.50" } });
    const lines: string[] = [];
    for await (const line of client.streamLogs(task.id)) lines.push(line.message);
    expect(lines).toEqual(["summarizing 3 values for q3"]);
    // The schema, zod from the project's node_modules, refuses a bad input at CreateTask.
    const refused = await client.createTask("report.summarize", { title: "", values: [] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SpoolError);
    expect((refused as SpoolError).code).toBe("invalid_argument");
  } finally {
    client.close();
    await service.kill("SIGTERM");
  }
});

// Runs a Dockerfile's instructions without Docker (no engine runs here): each stage gets a
// folder standing for its filesystem root, COPY copies into it from the build context or an
// earlier stage, WORKDIR and ENV are kept, RUN runs its shell command in the stage's working
// directory. What the tests learn is whether the files land where the image expects them and
// whether the commands work there; what Docker alone does (users, layers, the base image's
// own build) is out of reach. An instruction it does not know fails the run, so a recipe
// cannot silently outgrow what its test checks.
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, stat } from "node:fs/promises";
import { join, posix } from "node:path";

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** The instructions, continuation lines joined, comments and blank lines left out. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) return;
    if (pending === "") start = index + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const whole = (pending + line).trim();
    pending = "";
    const [keyword = "", ...rest] = whole.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: start });
  });
  return instructions;
}

/** A stage's state: its root folder, and what its instructions set. */
export interface Stage {
  name: string | undefined;
  /** The folder standing for "/" in this stage. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  /** Exec-form CMD, if one was set. */
  cmd: string[] | undefined;
}

export interface BuildOptions {
  /** The build context (COPY's sources). */
  context: string;
  /** Build arguments, over the Dockerfile's ARG defaults. */
  buildArgs?: Record<string, string>;
  /** A fresh stage for an image that is not an earlier stage of this file (e.g. Spool's). */
  base: (image: string, name: string | undefined) => Promise<Stage>;
  /** The environment RUN commands start from. */
  env: Record<string, string>;
}

/** The path of an image path inside a stage's root folder. */
export function inStage(stage: Stage, path: string): string {
  return join(stage.root, posix.resolve(stage.workdir, path));
}

/** Runs every instruction; resolves with the last stage (the image). */
export async function build(dockerfile: string, options: BuildOptions): Promise<Stage> {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const expand = (text: string, env: Record<string, string>) =>
    text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      const value = env[name] ?? args[name];
      if (value === undefined) throw new Error(`${name} is not defined`);
      return value;
    });

  for (const { keyword, args: raw, line } of parseDockerfile(await readFile(dockerfile, "utf8"))) {
    const fail = (why: string) => new Error(`${dockerfile}:${line}: ${keyword} ${raw}: ${why}`);
    const env = stage?.env ?? {};
    switch (keyword) {
      case "ARG": {
        const [name, fallback] = raw.split("=", 2) as [string, string | undefined];
        const value = options.buildArgs?.[name] ?? fallback;
        if (value !== undefined) args[name] = value;
        break;
      }
      case "FROM": {
        const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(expand(raw, {}));
        if (!match) throw fail("not understood");
        const [, image, name] = match as unknown as [string, string, string | undefined];
        const earlier = stages.find((s) => s.name === image);
        if (earlier) throw fail("FROM an earlier stage is not supported");
        stage = await options.base(image, name);
        stages.push(stage);
        break;
      }
      case "WORKDIR":
        if (!stage) throw fail("before FROM");
        stage.workdir = posix.resolve(stage.workdir, expand(raw, env));
        await mkdir(inStage(stage, "."), { recursive: true });
        break;
      case "ENV": {
        if (!stage) throw fail("before FROM");
        const pairs = raw.includes("=") ? [...raw.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")]) : [raw.split(/\s+(.*)/s)];
        for (const [name, value] of pairs) stage.env[name!] = expand(value ?? "", env);
        break;
      }
      case "COPY": {
        if (!stage) throw fail("before FROM");
        const words = expand(raw, env).split(/\s+/);
        let from: Stage | undefined;
        while (words[0]?.startsWith("--")) {
          const flag = words.shift()!;
          if (flag.startsWith("--from=")) {
            from = stages.find((s) => s.name === flag.slice("--from=".length));
            if (!from) throw fail(`no stage ${flag.slice("--from=".length)}`);
          } else if (!flag.startsWith("--chown=")) {
            throw fail(`flag ${flag} is not supported`);
          }
        }
        const destination = words.pop();
        if (!destination || words.length === 0) throw fail("needs a source and a destination");
        const target = inStage(stage, destination);
        const intoFolder = destination.endsWith("/") || words.length > 1;
        for (const source of words) {
          const path = from ? join(from.root, posix.resolve("/", source)) : join(options.context, source);
          const isFolder = (await stat(path)).isDirectory();
          // A folder's contents go into the destination; a file goes into it when it is a folder.
          const to = isFolder || !intoFolder ? target : join(target, posix.basename(source));
          await mkdir(isFolder ? to : join(to, ".."), { recursive: true });
          await cp(path, to, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case "RUN": {
        if (!stage) throw fail("before FROM");
        if (raw.startsWith("[")) throw fail("only the shell form is supported");
        const command = raw;
        const cwd = inStage(stage, ".");
        const environment = { ...options.env, ...stage.env, PATH: options.env.PATH ?? "", HOME: options.env.HOME ?? "" };
        await new Promise<void>((resolve, reject) =>
          execFile("sh", ["-c", command], { cwd, env: environment, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
            error ? reject(fail(`failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
          ),
        );
        break;
      }
      case "CMD":
        if (!stage) throw fail("before FROM");
        stage.cmd = JSON.parse(raw) as string[];
        break;
      case "USER":
      case "EXPOSE":
      case "VOLUME":
      case "HEALTHCHECK":
      case "STOPSIGNAL":
      case "LABEL":
        // What Docker alone does with them; nothing to lay out.
        break;
      default:
        throw fail("not supported by this test's builder");
    }
  }
  if (!stage) throw new Error(`${dockerfile} has no FROM`);
  return stage;
}

/** What the last stage of a Dockerfile sets: its ENV, WORKDIR and CMD (Spool's image, for a recipe built FROM it). */
export async function imageSettings(dockerfile: string): Promise<{ env: Record<string, string>; workdir: string; cmd: string[] }> {
  const instructions = parseDockerfile(await readFile(dockerfile, "utf8"));
  const last = instructions.map((i) => i.keyword).lastIndexOf("FROM");
  const settings = { env: {} as Record<string, string>, workdir: "/", cmd: [] as string[] };
  for (const { keyword, args } of instructions.slice(last + 1)) {
    if (keyword === "ENV") for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) settings.env[m[1]!] = m[2]!.replace(/^"|"$/g, "");
    if (keyword === "WORKDIR") settings.workdir = posix.resolve(settings.workdir, args);
    if (keyword === "CMD") settings.cmd = JSON.parse(args) as string[];
  }
  return settings;
}

// What `npm pack` puts in each package a user installs (@spool/proto, @spool/sdk,
// @spool/server): what they run and nothing else (no tests, test support, fixtures, sources
// or source maps), manifests that npm can publish (not private, engines, ranges between the
// packages that a registry can resolve), and every package a shipped file imports declared
// as a dependency, so that nothing works only because a neighbour's dependency was hoisted.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const publishable = { "@spool/proto": "proto", "@spool/sdk": "sdk", "@spool/server": "service", "@spool/dashboard": "dashboard" } as const;
type Name = keyof typeof publishable;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: { node?: string };
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
}
interface Packed {
  name: Name;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

const manifest = (dir: string) => JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Manifest;
let packed: Map<Name, { files: string[]; size: number; unpackedSize: number }>;

beforeAll(async () => {
  const json = await new Promise<string>((resolve, reject) =>
    execFile(
      "npm",
      ["pack", "--dry-run", "--json", "--ignore-scripts", ...Object.values(publishable).flatMap((dir) => ["-w", dir])],
      { cwd: root, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    ),
  );
  packed = new Map(
    (JSON.parse(json) as Packed[]).map((p) => [p.name, { files: p.files.map((f) => f.path).sort(), size: p.size, unpackedSize: p.unpackedSize }]),
  );
  // The sizes, for whoever reads the test output.
  for (const [name, p] of packed) console.log(`${name}: ${p.files.length} files, ${(p.size / 1024).toFixed(1)} kB packed, ${(p.unpackedSize / 1024).toFixed(1)} kB unpacked`);
});

const files = (name: Name) => packed.get(name)?.files ?? [];

describe.each(Object.entries(publishable) as [Name, string][])("%s", (name, dir) => {
  it("can be published: not private, engines as the root's, a version", () => {
    const m = manifest(dir);
    expect(m.name).toBe(name);
    expect(m.private).toBeUndefined();
    expect(m.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.engines?.node).toBe(manifest(".").engines?.node);
  });

  it("ships no tests, test support, fixtures, TypeScript sources, source maps or build info", () => {
    const unwanted = files(name).filter(
      (path) =>
        /(^|\/)(src|test-support|fixtures|__tests__)\//.test(path) ||
        /\.(test|spec)\.[cm]?[jt]s$/.test(path) ||
        (/\.[cm]?ts$/.test(path) && !/\.d\.[cm]?ts$/.test(path)) ||
        /\.(map|tsbuildinfo)$/.test(path) ||
        /(^|\/)(tsconfig[^/]*\.json|drizzle\.config\.[jt]s|\.env.*)$/.test(path),
    );
    expect(files(name).length).toBeGreaterThan(3);
    expect(unwanted).toEqual([]);
  });

  it("ships every file its exports and bins point at", () => {
    const m = manifest(dir);
    // The targets: strings among the values (subpaths and conditions are keys).
    const walk = (value: unknown): string[] =>
      typeof value === "string" ? [value] : value && typeof value === "object" ? Object.values(value).flatMap(walk) : [];
    const targets = [...Object.values(m.bin ?? {}), ...walk(m.exports ?? {})].map((path) => path.replace(/^\.\//, ""));
    expect(targets.length).toBeGreaterThan(1);
    expect(targets.filter((path) => !files(name).includes(path))).toEqual([]);
  });

  it("depends on its sibling packages through ranges their versions satisfy", () => {
    for (const [dependency, range] of Object.entries(manifest(dir).dependencies ?? {})) {
      if (!(dependency in publishable)) continue;
      const version = manifest(publishable[dependency as Name]).version;
      // A caret range on the sibling's own version: what npm resolves from the registry once both are published.
      expect(range, `${name} -> ${dependency}`).toBe(`^${version}`);
    }
  });

  it("declares every package its shipped JavaScript imports", () => {
    const m = manifest(dir);
    const declared = new Set([m.name, ...Object.keys(m.dependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const undeclared = new Set<string>();
    for (const path of files(name).filter((p) => /\.[cm]?js$/.test(p))) {
      const text = readFileSync(join(root, dir, path), "utf8");
      for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
        const pkg = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
        if (!declared.has(pkg)) undeclared.add(`${path}: ${specifier}`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });
});

it("ships the descriptor sets and the .proto contract in @spool/proto", () => {
  expect(files("@spool/proto")).toEqual(
    expect.arrayContaining(["gen/spool.binpb", "gen/health.binpb", "spool/v1/task.proto", "spool/v1/task_service.proto", "dist/index.js"]),
  );
});

it("ships every migration in its journal, the journal, the threads' entry and the demo kinds in @spool/server", () => {
  const journal = JSON.parse(readFileSync(join(root, "service/drizzle/meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  expect(journal.entries.length).toBeGreaterThan(0);
  expect(files("@spool/server")).toEqual(
    expect.arrayContaining([
      "drizzle/meta/_journal.json",
      ...journal.entries.map((entry) => `drizzle/${entry.tag}.sql`),
      "bin/spool-server.js",
      "dist/main.js",
      "dist/workers/thread.js",
      "dist/tasks/demo.js",
      "dist/healthcheck.js",
    ]),
  );
  // drizzle-kit's snapshots are for writing migrations, not for applying them.
  expect(files("@spool/server").filter((path) => path.includes("snapshot"))).toEqual([]);
});

it("ships the README, the spool command and the task entry in @spool/sdk", () => {
  expect(files("@spool/sdk")).toEqual(expect.arrayContaining(["README.md", "bin/spool.js", "dist/task.js", "dist/task.d.ts", "dist/index.js"]));
});

// Every file a workspace package points its users at (exports, with each condition, plus
// main, types and bin) exists after the build, and Node resolves each export the way an
// importer would: a package.json entry naming a file nobody builds fails here, not in a
// user's import.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Manifest {
  name: string;
  main?: string;
  types?: string;
  exports?: unknown;
  bin?: string | Record<string, string>;
}

/** Subpath -> the targets of its conditions (nested conditions and fallback arrays walked). */
function exportTargets(exports: unknown): Map<string, string[]> {
  const subpaths =
    typeof exports === "object" && exports !== null && !Array.isArray(exports) && Object.keys(exports).every((key) => key.startsWith("."))
      ? (exports as Record<string, unknown>)
      : { ".": exports };
  const walk = (value: unknown): string[] =>
    typeof value === "string" ? [value] : Array.isArray(value) ? value.flatMap(walk) : value && typeof value === "object" ? Object.values(value).flatMap(walk) : [];
  return new Map(Object.entries(subpaths).map(([subpath, value]) => [subpath, walk(value)]));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const workspaces = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] }).workspaces;
const packages = workspaces.map((dir) => ({ dir: join(root, dir), manifest: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Manifest }));

it("points every export, main, types and bin of each workspace package at a file that exists", () => {
  const missing: string[] = [];
  const checked = new Set<string>();
  for (const { dir, manifest } of packages) {
    const targets = [
      ...[...exportTargets(manifest.exports ?? {}).entries()].flatMap(([subpath, paths]) => paths.map((path) => [`exports["${subpath}"]`, path] as const)),
      ...(manifest.main ? [["main", manifest.main] as const] : []),
      ...(manifest.types ? [["types", manifest.types] as const] : []),
      ...Object.entries(typeof manifest.bin === "string" ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})).map(
        ([name, path]) => [`bin["${name}"]`, path] as const,
      ),
    ];
    for (const [field, path] of targets) {
      expect(path, `${manifest.name} ${field}: patterns are not checked`).not.toContain("*");
      const file = resolve(dir, path);
      if (relative(dir, file).startsWith("..") || !isFile(file)) missing.push(`${manifest.name} ${field}: ${path}`);
      checked.add(manifest.name);
    }
  }
  expect(missing).toEqual([]);
  expect([...checked]).toEqual(expect.arrayContaining(["@spool/proto", "@spool/sdk", "@spool/server"]));
});

it("lets Node resolve every export of each workspace package to an existing file", () => {
  const specifiers = packages.flatMap(({ manifest }) =>
    [...exportTargets(manifest.exports ?? {}).keys()].map((subpath) => manifest.name + subpath.slice(1)),
  );
  expect(specifiers.length).toBeGreaterThanOrEqual(3);
  // In a plain Node process, as an importer from the repository would resolve them.
  const resolved = JSON.parse(
    execFileSync(
      process.execPath,
      ["--input-type=module", "-e", `console.log(JSON.stringify(${JSON.stringify(specifiers)}.map((s) => import.meta.resolve(s))))`],
      { cwd: root, encoding: "utf8", timeout: 30_000 },
    ),
  ) as string[];
  const missing = specifiers.map((specifier, i) => [specifier, resolved[i]!] as const).filter(([, url]) => !isFile(fileURLToPath(url)));
  expect(missing).toEqual([]);
});

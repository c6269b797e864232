// Loads handler modules: every export made with defineTask (or an array of them) becomes a
// kind. Runs inside each worker thread; the pool learns the kinds from the thread's `ready`.
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isTaskDefinition, type TaskDefinition } from "@spool/sdk/task";

const moduleExtensions = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]);
const typeScriptExtensions = new Set([".ts", ".mts", ".cts"]);

/** The built-in demo kinds, always loaded first. */
export const builtInModule = new URL(
  import.meta.url.endsWith(".ts") ? "../tasks/demo.ts" : "../tasks/demo.js",
  import.meta.url,
).href;

export async function loadHandlers(specs: readonly string[]): Promise<Map<string, TaskDefinition>> {
  const files: { url: string; explicit: boolean }[] = [];
  for (const spec of specs) {
    const path = spec.startsWith("file:") ? fileURLToPath(spec) : spec;
    const info = await stat(path).catch(() => {
      throw new Error(`handler module ${spec} does not exist`);
    });
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter(isHandlerFile).sort();
      for (const name of names) files.push({ url: pathToFileURL(join(path, name)).href, explicit: false });
    } else {
      files.push({ url: pathToFileURL(path).href, explicit: true });
    }
  }

  if (files.some((f) => typeScriptExtensions.has(extname(f.url))) && !import.meta.url.endsWith(".ts")) {
    // Handler modules written in TypeScript run as they are, through tsx's loader.
    const { register } = await import("tsx/esm/api");
    register();
  }

  const handlers = new Map<string, TaskDefinition>();
  const origin = new Map<string, string>();
  for (const file of files) {
    const exports: Record<string, unknown> = await import(file.url);
    const definitions = Object.values(exports).flatMap((value) =>
      Array.isArray(value) ? value.filter(isTaskDefinition) : isTaskDefinition(value) ? [value] : [],
    );
    if (definitions.length === 0 && file.explicit) {
      throw new Error(`handler module ${file.url} exports no task: export what defineTask returns`);
    }
    for (const definition of definitions) {
      const previous = origin.get(definition.kind);
      if (previous !== undefined && handlers.get(definition.kind) !== definition) {
        throw new Error(`kind "${definition.kind}" is defined twice: in ${previous} and in ${file.url}`);
      }
      handlers.set(definition.kind, definition);
      origin.set(definition.kind, file.url);
    }
  }
  return handlers;
}

function isHandlerFile(name: string): boolean {
  return (
    moduleExtensions.has(extname(name)) &&
    !name.endsWith(".d.ts") &&
    !/\.(test|spec)\.[cm]?[jt]s$/.test(name) &&
    !name.startsWith(".")
  );
}

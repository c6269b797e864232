// Loads handler modules: every export made with defineTask (or an array of them) becomes a
// kind. Runs inside each worker thread (the pool learns the kinds from the thread's `ready`),
// and once in the main thread to read the input schemas.
//
// - A module is loaded the way Node loads it in its own project: ES module or CommonJS by its
//   extension and the "type" of the nearest package.json. TypeScript (.ts, .mts, .cts) runs
//   as it is through tsx, with both its ESM and its CommonJS hooks: a .ts file in a package
//   without "type": "module" is CommonJS, and with the ESM hook alone it failed with
//   "Cannot require() ES Module ... in a cycle".
// - Its imports, @spool/sdk/task included, resolve from the module's own folder, so from the
//   user's node_modules. A definition is recognised by its shape (isTaskDefinition), so one
//   made by the user's own copy of @spool/sdk counts as well as one made by Spool's.
// - A CommonJS module's exports arrive as `default` (Node sees its names only when it can
//   find them statically, which compiled TypeScript defeats), so `default`'s own properties
//   are searched too.
// - A module that cannot load fails the load with a message naming the file and the real
//   cause (module-load-error.ts).
import { readdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isTaskDefinition, type TaskDefinition } from "@spool/sdk/task";
import { handlerLoadError } from "./module-load-error.js";

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
    await registerTypeScript();
  }

  const handlers = new Map<string, TaskDefinition>();
  const origin = new Map<string, string>();
  for (const file of files) {
    const path = fileURLToPath(file.url);
    let exports: Record<string, unknown>;
    try {
      exports = await importModule(path);
    } catch (error) {
      throw handlerLoadError(path, error);
    }
    const definitions = definitionsIn(exports);
    if (definitions.length === 0 && file.explicit) {
      throw new Error(`handler module ${path} exports no task: export what defineTask returns`);
    }
    for (const definition of definitions) {
      const previous = origin.get(definition.kind);
      if (previous !== undefined && handlers.get(definition.kind) !== definition) {
        throw new Error(`kind "${definition.kind}" is defined twice: in ${previous} and in ${path}`);
      }
      handlers.set(definition.kind, definition);
      origin.set(definition.kind, path);
    }
  }
  return handlers;
}

let typeScriptRegistered = false;

/** Handler modules written in TypeScript run as they are, through tsx's ESM and CommonJS hooks. */
async function registerTypeScript(): Promise<void> {
  if (typeScriptRegistered) return;
  typeScriptRegistered = true;
  const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  cjs.register();
  esm.register();
}

const requireModule = createRequire(import.meta.url);

/** The module's namespace, as import() gives it. */
async function importModule(path: string): Promise<Record<string, unknown>> {
  // CommonJS by extension goes through require(), where tsx's CommonJS hook compiles .cts: a
  // .cts through import() fails inside Node's ESM loader as soon as it requires an ES module
  // ("Cannot read properties of undefined (reading 'exports')"). Node's import() of a
  // CommonJS module gives its exports as `default`; so does this.
  const extension = extname(path);
  if (extension === ".cts" || extension === ".cjs") return { default: requireModule(path) as unknown };
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** The task definitions a module exports: each export, each element of an exported array, and the same inside a CommonJS `default`. */
function definitionsIn(exports: Record<string, unknown>): TaskDefinition[] {
  const found = new Set<TaskDefinition>();
  const take = (value: unknown) => {
    if (isTaskDefinition(value)) found.add(value);
    else if (Array.isArray(value)) for (const item of value) if (isTaskDefinition(item)) found.add(item);
  };
  for (const value of Object.values(exports)) take(value);
  const fallback = exports.default;
  if (typeof fallback === "object" && fallback !== null && !Array.isArray(fallback) && !isTaskDefinition(fallback)) {
    for (const value of Object.values(fallback)) take(value);
  }
  return [...found];
}

function isHandlerFile(name: string): boolean {
  return (
    moduleExtensions.has(extname(name)) &&
    !name.endsWith(".d.ts") &&
    !/\.(test|spec)\.[cm]?[jt]s$/.test(name) &&
    !name.startsWith(".")
  );
}

// Why a handler module could not be loaded, said so that its author can fix it: the module
// type (ESM syntax in a file Node loads as CommonJS, or the reverse, and the package.json that
// decides it), a dependency that is not installed (and where to install it), or a syntax error
// with its file, line and column. Anything else keeps its own message, with the place in the
// user's code where it was thrown. The original error is kept as `cause`.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export class HandlerLoadError extends Error {
  override name = "HandlerLoadError";
}

/** The error to report for `file` (a path) failing to load with `error`. */
export function handlerLoadError(file: string, error: unknown): HandlerLoadError {
  return new HandlerLoadError(`handler module ${file} could not be loaded: ${explain(file, error)}`, { cause: error });
}

function explain(file: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;

  // The module type.
  if (/Cannot use import statement outside a module|Unexpected token 'export'/.test(message)) {
    const where = fileOf(error, file);
    return `${where} uses import/export, but Node loads it as CommonJS: ${typeReason(where)}. ${toEsm(where)}.`;
  }
  if (/\b(require|module|exports|__dirname|__filename) is not defined in ES module scope/.test(message)) {
    const name = /\b(require|module|exports|__dirname|__filename) is not/.exec(message)?.[1] ?? "require";
    const where = userFrame(error)?.replace(/:\d+:\d+$/, "") ?? file;
    return `${where} uses ${name}, which CommonJS has and an ES module has not, but Node loads it as an ES module: ${typeReason(where)}. Use import/export instead, or name the file .cjs (.cts in TypeScript).`;
  }
  if (/Top-level await is currently not supported with the "cjs" output format/.test(message)) {
    // tsx compiles what a CommonJS module requires to CommonJS, where top-level await cannot be.
    const where = esbuildLocation(message);
    const awaiting = where?.replace(/:\d+:\d+$/, "") ?? file;
    if (awaiting === file) {
      return `${where ?? file} uses top-level await, which needs an ES module, but it is loaded as CommonJS: ${typeReason(file)}. ${toEsm(file)}.`;
    }
    return `it is loaded as CommonJS (${typeReason(file)}) and requires ${awaiting}, an ES module with top-level await (at ${where}), which CommonJS cannot require. ${toEsm(file)}.`;
  }
  if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_CYCLE_MODULE" || code === "ERR_REQUIRE_ASYNC_MODULE") {
    return `it is loaded as CommonJS (${typeReason(file)}) and require()s an ES module, which Node refuses here (${firstLine(message)}). ${toEsm(file)}.`;
  }

  // A dependency that is not installed, or a file that is not there.
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1];
    const importer = /imported from (\S+)/.exec(message)?.[1] ?? /Require stack:\n- (.+)/.exec(message)?.[1] ?? file;
    if (missing && isBarePackage(missing)) {
      const name = packageName(missing);
      const project = projectDir(importer);
      return `${importer} imports ${missing}, which is not installed: run \`npm install ${name}\` in ${project ?? dirname(importer)} (the handler's own project; packages are looked up from the handler's folder, not from Spool's).`;
    }
    if (missing) return `${importer} imports ${missing}, which does not exist (${firstLine(message)}).`;
  }

  // A syntax error, with its place.
  const esbuild = esbuildLocation(message);
  if (esbuild) return `syntax error at ${esbuild}: ${/ERROR: (.*)/.exec(message)?.[1] ?? firstLine(message)}`;
  if (error instanceof SyntaxError || (error as { name?: unknown } | null)?.name === "SyntaxError") {
    const where = syntaxErrorLocation(error as Error, file);
    return where ? `syntax error at ${where}: ${message}` : `syntax error: ${message}`;
  }

  // Anything else: thrown by the module's top level (or by something it imports).
  const at = userFrame(error);
  const name = error instanceof Error ? error.name : "Error";
  return `its top level threw ${name}: ${message}${at ? ` (at ${at})` : ""}`;
}

/** The file an error points at: the first line of a CommonJS SyntaxError's stack, else `file`. */
function fileOf(error: unknown, file: string): string {
  const head = (error instanceof Error ? error.stack : undefined)?.split("\n")[0] ?? "";
  const match = /^(file:\/\/\S+|\/\S+):\d+$/.exec(head);
  if (!match) return file;
  return match[1]!.startsWith("file:") ? fileURLToPath(match[1]!) : match[1]!;
}

/** How to make `file` an ES module: its package's "type", or its extension if that decides. */
function toEsm(file: string): string {
  const extension = extname(file);
  if (extension === ".cts" || extension === ".cjs") return `Name the file ${extension === ".cts" ? ".mts" : ".mjs"} instead`;
  const manifest = projectDir(file);
  const where = manifest ? join(manifest, "package.json") : "its package.json";
  return `Add "type": "module" to ${where}, or name the file .mjs (.mts in TypeScript)`;
}

/** Why Node gives `file` the module type it does: its extension, or the package.json in charge. */
function typeReason(file: string): string {
  const extension = extname(file);
  if ([".mjs", ".mts", ".cjs", ".cts"].includes(extension)) return `its extension ${extension} decides`;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown }).type;
      } catch {
        return `${manifest} is not valid JSON`;
      }
      return type === undefined ? `${manifest} has no "type", which means "commonjs"` : `${manifest} says "type": ${JSON.stringify(type)}`;
    }
    if (dirname(dir) === dir) return `no package.json above it says "type": "module"`;
  }
}

/** The folder of the package.json nearest to `file`: where its dependencies are installed. */
function projectDir(file: string): string | undefined {
  const path = file.startsWith("file:") ? fileURLToPath(file) : file;
  for (let dir = dirname(path); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
  }
  return undefined;
}

function isBarePackage(specifier: string): boolean {
  return !/^(\.{1,2}\/|\/|file:|node:|[A-Za-z]:\\)/.test(specifier);
}

/** "@scope/name/sub" is in "@scope/name"; "name/sub" in "name". */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** "file:line:column" of esbuild's (tsx's) first error, if the message is one of its. */
function esbuildLocation(message: string): string | undefined {
  return /Transform failed with \d+ errors?:\n(.+?:\d+:\d+): ERROR:/.exec(message)?.[1];
}

/**
 * "file:line" of a SyntaxError. A CommonJS one carries it as the first line of its stack; an
 * ES module's does not (Node keeps it out of reach), so `node --check` is asked, which parses
 * the file the way Node loads it and prints the place first. Only on this failure path.
 */
function syntaxErrorLocation(error: Error, file: string): string | undefined {
  const head = error.stack?.split("\n")[0] ?? "";
  if (/^(file:\/\/|\/).*:\d+$/.test(head)) return head.startsWith("file:") ? head.replace(/^file:\/\//, "") : head;
  const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 10_000 });
  const first = check.stderr?.split("\n")[0] ?? "";
  return /^(file:\/\/|\/).*:\d+$/.test(first) ? first.replace(/^file:\/\//, "") : undefined;
}

/** The first frame of the stack in the user's code (not Node's, not the loader's). */
function userFrame(error: unknown): string | undefined {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  for (const line of stack.split("\n").slice(1)) {
    const place = /\(([^()]+:\d+:\d+)\)$/.exec(line)?.[1] ?? /at (\S+:\d+:\d+)$/.exec(line)?.[1];
    if (!place || place.startsWith("node:") || /\/node_modules\/(tsx|esbuild)\//.test(place)) continue;
    return place.startsWith("file:") ? fileURLToPath(place.replace(/:\d+:\d+$/, "")) + place.match(/:\d+:\d+$/)![0] : place;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

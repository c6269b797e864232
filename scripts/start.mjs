// `npm start`: builds what changed, then runs the server in this same process (so Ctrl-C and
// SIGTERM reach it directly, as they would reach `spool-server`). The first build of a fresh
// clone compiles everything and takes a while with nothing on screen, so it says so first.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const server = `${root}service/dist/main.js`;

if (!existsSync(server)) {
  process.stderr.write("spool: first start: compiling the TypeScript sources (tsc -b), about 10-20 s...\n");
}
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const build = spawnSync(process.execPath, [tsc, "-b"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) {
  process.stderr.write(`spool: the build failed (tsc -b exited with ${build.status ?? build.signal}); not starting.\n`);
  process.exit(1);
}
// The dashboard (vite build, about 1 s) when it was never built or its sources changed since.
const dashboard = `${root}dashboard/`;
const builtAt = existsSync(`${dashboard}dist/index.html`) ? statSync(`${dashboard}dist/index.html`).mtimeMs : 0;
const sources = [`${dashboard}index.html`, ...readdirSync(`${dashboard}src`, { recursive: true }).map((name) => `${dashboard}src/${name}`)];
if (sources.some((file) => statSync(file).mtimeMs > builtAt)) {
  const npm = process.env.npm_execpath;
  const vite = spawnSync(npm ? process.execPath : "npm", [...(npm ? [npm] : []), "run", "build", "--silent", "-w", "@spool/dashboard"], { cwd: root, stdio: "inherit" });
  if (vite.status !== 0) process.stderr.write("spool: building the dashboard failed; starting without it (/ answers 404).\n");
}
await import(server);

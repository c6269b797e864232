// `npm start`: builds what changed, then runs the server in this same process (so Ctrl-C and
// SIGTERM reach it directly, as they would reach `spool-server`). The first build of a fresh
// clone compiles everything and takes a while with nothing on screen, so it says so first.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
await import(server);

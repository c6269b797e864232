// The version of @spool/server, from its package.json: `spool-server --version`, the metrics'
// resource and what a replica says of itself (ListWorkers).
import { readFileSync } from "node:fs";

// ../package.json from src/ and from dist/ alike: the package's own manifest.
export const serverVersion = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

#!/usr/bin/env node
// The `spool-server` command. A committed file, so that npm links it at install time, before
// the TypeScript is built; it runs the compiled process entry (service/src/main.ts).
import "../dist/main.js";

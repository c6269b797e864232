#!/usr/bin/env node
// The `spool` command. A committed file, so that npm links it at install time, before the
// TypeScript is built; it runs the compiled command line (sdk/src/cli/main.ts).
import "../dist/cli/main.js";

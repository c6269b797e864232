#!/usr/bin/env node
// The process, run by the spool-server command: starts one Spool replica configured by its
// flags and the environment (command-line.ts; the README's configuration table) and stops it
// gracefully on SIGTERM or SIGINT: running tasks are interrupted and handed back (PENDING,
// their attempt given back), then the server and the database close.
import type { Logger } from "pino";
import { commandName, parseCommandLine, UsageError } from "./command-line.js";
import type { Config } from "./config.js";
import { isConnectionError } from "./errors.js";
import { createLogger, logFormats, type LogFormat } from "./logger.js";
import { startSpool, type Spool } from "./spool.js";

// The logger takes its level from the parsed configuration. Until that is parsed there is no
// level to trust, so an invalid configuration (a bad SPOOL_LOG_LEVEL included) is reported by
// a logger at the default level: a fatal line is never silenced by the very value it reports.
// Its format is the one asked for when that much can be read, so that a terminal shows even
// this line readably.
const earlyFormat = logFormats.find((format) => format === process.env.SPOOL_LOG_FORMAT) ?? ("auto" satisfies LogFormat);
let log: Logger = createLogger({ format: earlyFormat });

// postgres.js 3.4.9 drops the promise of the query with which each new connection reads the
// database's array types (porsager/postgres#1192, #1223): when that connection is lost in
// the meantime, as happens to new connections while Postgres restarts or fails over, the
// rejection is unhandled and Node would exit (seen in e2e/failover.test.ts). Nothing awaits
// that promise, so nothing is lost by ignoring it. Any other unhandled rejection still
// stops the process.
process.on("unhandledRejection", (reason) => {
  if (!isConnectionError(reason)) throw reason;
  log.warn({ err: reason }, "ignored a lost connection that nothing was waiting for (postgres.js reading types)");
});

async function main(): Promise<void> {
  const command = parseCommandLine(process.argv.slice(2), process.env);
  if (command.kind === "print") {
    process.stdout.write(command.text);
    return;
  }
  const config: Config = command.config;
  log = createLogger({ level: config.logLevel, format: config.logFormat });
  // The handlers go in before the start: until a SIGTERM handler exists, the signal kills the
  // process outright, leaving the embedded Postgres behind, even after "spool serving" is
  // logged (startSpool logs it just before it returns). A signal during the start stops the
  // replica as soon as it has started.
  let started: Spool | undefined;
  let signals = 0;
  const stop = (spool: Spool) =>
    spool.stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log.fatal({ err: error }, "error while stopping");
        process.exit(1);
      },
    );
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, "second signal: exiting at once");
      process.exit(130);
    }
    log.info({ signal }, started ? "stopping: draining tasks" : "stopping once started");
    if (started) void stop(started);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // A closed terminal sends SIGHUP, whose default ends the process at once: the tasks would
  // wait for their leases to lapse, and the embedded Postgres (in its own process group,
  // which the terminal does not signal) would be left running. It stops gracefully instead.
  process.on("SIGHUP", onSignal);
  started = await startSpool(config, log);
  if (signals > 0) void stop(started);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    // A mistyped command line is the user's to fix, not a failure to log: a plain message.
    process.stderr.write(`${commandName}: ${error.message}\n${commandName} --help lists the options.\n`);
    process.exit(2);
  }
  log.fatal({ err: error }, "spool failed to start");
  process.exit(1);
});

// Handlers the benchmark runs inside Spool (loaded through SPOOL_TASKS). bench.ping reports
// when it started over UDP to the benchmark process, so pickup latency is measured without
// polling anything.
import { createSocket, type Socket } from "node:dgram";
import { defineTask } from "@spool/sdk/task";
import { now } from "./clock.js";

let socket: Socket | undefined;
function send(port: number, message: string): void {
  socket ??= createSocket("udp4");
  socket.unref();
  socket.send(message, port, "127.0.0.1");
}

export const noop = defineTask({ kind: "bench.noop", run: () => null });

export const ping = defineTask({
  kind: "bench.ping",
  run(input: { port: number; i: number }) {
    send(input.port, `${input.i} ${now()}`);
    return null;
  },
});

/** Logs `lines` lines, each carrying its emit time; with intervalMs, one line per interval. */
export const logs = defineTask({
  kind: "bench.logs",
  async run(input: { lines: number; intervalMs?: number }, ctx) {
    for (let i = 1; i <= input.lines; i++) {
      ctx.log.info(`${i} ${now()}`);
      if (input.intervalMs) await new Promise((resolve) => setTimeout(resolve, input.intervalMs));
    }
    return { lines: input.lines };
  },
});

// graphile-worker's runner as a child process of the benchmark, as Spool's service is one.
// Environment: DATABASE_URL, GRAPHILE_MODE (default | batched), GRAPHILE_CONCURRENCY.
//   default: graphile-worker's defaults (each job fetched and completed on its own);
//   batched: its local queue and batched completion (its fastest documented setup).
import { createSocket } from "node:dgram";
import { run, type Runner } from "graphile-worker";
import { now } from "../clock.js";

const socket = createSocket("udp4");
socket.unref();

const batched = process.env.GRAPHILE_MODE === "batched";
const runner: Runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency: Number(process.env.GRAPHILE_CONCURRENCY ?? 10),
  noHandleSignals: true,
  pollInterval: 2000,
  logger: undefined,
  taskList: {
    noop: async () => {},
    ping: async (payload) => {
      const { port, i } = payload as { port: number; i: number };
      socket.send(`${i} ${now()}`, port, "127.0.0.1");
    },
  },
  preset: batched
    ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : {},
});
console.log("graphile runner ready");
process.once("SIGTERM", () => {
  void runner.stop().then(() => process.exit(0));
});

// BullMQ's workers as a child process of the benchmark, on this machine's Redis (which keeps
// nothing on disk: no AOF, no snapshot to wait for). Environment: REDIS_PORT, BULLMQ_CONCURRENCY.
// Its documented settings for fast, short jobs: one Worker per queue with a high concurrency.
import { createSocket } from "node:dgram";
import { Worker } from "bullmq";
import { now } from "../clock.js";
import { bullConnection } from "./settings.js";

const socket = createSocket("udp4");
socket.unref();

const concurrency = Number(process.env.BULLMQ_CONCURRENCY ?? 50);
const workers = [
  new Worker("noop", async () => null, { connection: bullConnection(), concurrency }),
  new Worker(
    "ping",
    async (job) => {
      const { port, i } = job.data as { port: number; i: number };
      socket.send(`${i} ${now()}`, port, "127.0.0.1");
      return null;
    },
    { connection: bullConnection(), concurrency },
  ),
];
await Promise.all(workers.map((worker) => worker.waitUntilReady()));
console.log("bullmq runner ready");
process.once("SIGTERM", () => {
  void Promise.all(workers.map((worker) => worker.close())).then(() => process.exit(0));
});

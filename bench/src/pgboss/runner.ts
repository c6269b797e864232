// pg-boss 12's workers as a child process of the benchmark, as Spool's service is one.
// Environment: DATABASE_URL, PGBOSS_CONCURRENCY. Its best documented settings for a fast queue:
// LISTEN/NOTIFY on (useListenNotify, and the queues created with notify: true) so an idle
// worker wakes at once; each worker fetching up to 100 jobs at a time and fetching again at
// once while its fetches come back full (batchSize, burstWhenBatchFull); `concurrency` workers.
import { createSocket } from "node:dgram";
import { PgBoss } from "pg-boss";
import { now } from "../clock.js";
import { pgBossOptions, pgBossQueues } from "./settings.js";

const socket = createSocket("udp4");
socket.unref();

const boss = new PgBoss(pgBossOptions(process.env.DATABASE_URL!));
boss.on("error", (error) => console.error(`pg-boss error: ${String(error)}`));
await boss.start();
for (const name of pgBossQueues) await boss.createQueue(name, { notify: true });
const work = { batchSize: 100, burstWhenBatchFull: true, localConcurrency: Number(process.env.PGBOSS_CONCURRENCY ?? 10), pollingIntervalSeconds: 0.5 };
await boss.work("noop", work, async () => {});
await boss.work("ping", work, async (jobs) => {
  for (const job of jobs) {
    const { port, i } = job.data as { port: number; i: number };
    socket.send(`${i} ${now()}`, port, "127.0.0.1");
  }
});
console.log("pg-boss runner ready");
process.once("SIGTERM", () => {
  void boss.stop({ graceful: true, timeout: 10_000 }).then(() => process.exit(0));
});

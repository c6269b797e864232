// QueueFigures: the depth of every queue, for the queue gauges, measured once per interval for
// the whole cluster (store/cluster-stats.ts) and kept here between reads. Each replica reads
// the shared figures every `intervalMs`; one of them measures them again when they are older
// than that, so a cluster of any size runs the measuring query about once per interval, and a
// scrape reads memory only.
//
// The measure is the first `maxQueues` queues in (tenant, name) order, each read bounded as in
// ListQueues (store/queues.ts): counts stop at a million, the oldest due task is a probe per
// priority level.
import type { Logger } from "pino";
import type { Queue } from "../domain/queue.js";
import { SpoolError } from "../errors.js";
import { sharedFigures } from "../store/cluster-stats.js";
import type { Pool } from "../store/database.js";
import { listQueues } from "../store/queues.js";

export interface QueueFiguresOptions {
  sql: Pool;
  intervalMs: number;
  maxQueues: number;
  log: Logger;
}

export class QueueFigures {
  readonly #o: QueueFiguresOptions;
  #latest: Queue[] = [];
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #failing = false;

  constructor(options: QueueFiguresOptions) {
    this.#o = options;
  }

  /** The figures last read (none before the first read). */
  latest(): readonly Queue[] {
    return this.#latest;
  }

  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#reading;
  }

  /** Reads the shared figures (measuring them if they are stale and no other replica is). */
  refresh(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<void> {
    const { sql, intervalMs, maxQueues, log } = this.#o;
    try {
      const figures = await sharedFigures(sql, "queues", intervalMs, (tx) => listQueues(tx, undefined, { page: { limit: maxQueues } }));
      if (figures) this.#latest = figures.body;
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) log.warn({ err: SpoolError.from(error) }, "reading the queue figures failed; the queue gauges keep their last values");
      this.#failing = true;
    }
  }
}

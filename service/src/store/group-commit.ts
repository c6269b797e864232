// GroupCommit: coalesces concurrent writes into one database round trip.
//
// Items pushed while a flush is in flight wait for it and then go together in the next one;
// an item pushed while idle is flushed on the next turn of the event loop (so everything that
// arrived in the same I/O phase shares the flush). At most one flush runs at a time, so
// batches commit in the order their items were pushed. An item is never split: a batch holds
// whole items up to maxWeight (and at least one).
export class GroupCommit<T> {
  readonly #queue: T[] = [];
  readonly #flush: (batch: T[]) => Promise<void>;
  readonly #maxWeight: number;
  readonly #weigh: (item: T) => number;
  #running: Promise<void> | undefined;

  /**
   * @param flush writes one batch; it must not throw (it owns its errors: reject the callers,
   *   or retry), since the items are gone from the queue once handed to it.
   * @param maxWeight most weight in one batch; by default each item weighs 1.
   */
  constructor(flush: (batch: T[]) => Promise<void>, maxWeight: number, weigh: (item: T) => number = () => 1) {
    this.#flush = flush;
    this.#maxWeight = maxWeight;
    this.#weigh = weigh;
  }

  /** Items waiting for a flush (not counting the one in flight). */
  get queued(): number {
    return this.#queue.length;
  }

  push(item: T): void {
    this.#queue.push(item);
    this.#running ??= this.#run();
  }

  /** Resolves once every item pushed so far has been flushed. */
  async drained(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0) {
        await this.#flush(this.#queue.splice(0, this.#batchLength()));
      }
    } finally {
      this.#running = undefined;
    }
  }

  #batchLength(): number {
    let weight = this.#weigh(this.#queue[0] as T);
    let length = 1;
    while (length < this.#queue.length) {
      weight += this.#weigh(this.#queue[length] as T);
      if (weight > this.#maxWeight) break;
      length++;
    }
    return length;
  }
}

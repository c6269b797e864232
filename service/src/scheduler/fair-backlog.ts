// FairBacklog: the tasks a replica has claimed and not yet started, taken in turns between
// tenants.
//
// The claim already lets tenants take turns (store/claim.ts); this keeps those turns inside
// the replica, where claimed tasks wait for a free thread. Without it, a tenant whose tasks
// were claimed first would hold every thread until its share of the local queue ran out.
//
// Guarantees:
//   - each tenant's tasks come out in `order` (claim order: priority, then run_at, then id),
//     whichever claim brought them;
//   - tenants take turns: `take` serves the tenant served longest ago (a tenant new to the
//     backlog is served after those already waiting);
//   - one tenant alone behaves exactly as one list sorted by `order`;
//   - `take` and `length` cost O(1) per tenant turn; `add` sorts the lists of the tenants it
//     touched (already sorted but for the new tail: linear in practice); `remove` and `find`
//     scan everything (they serve cancels and lease loss, not the hot path).
export interface BacklogItem {
  readonly tenant: string;
}

export class FairBacklog<T extends BacklogItem> {
  /** Per tenant, its waiting tasks in `order`. Map order is the turn order: first is next. */
  readonly #queues = new Map<string, T[]>();
  #length = 0;

  constructor(private readonly order: (a: T, b: T) => number) {}

  get length(): number {
    return this.#length;
  }

  /** Adds claimed tasks, each into its tenant's place in `order`. */
  add(items: readonly T[]): void {
    const touched = new Set<T[]>();
    for (const item of items) {
      let queue = this.#queues.get(item.tenant);
      if (!queue) this.#queues.set(item.tenant, (queue = []));
      queue.push(item);
      touched.add(queue);
    }
    for (const queue of touched) queue.sort(this.order);
    this.#length += items.length;
  }

  /** The next task: the first of the tenant whose turn it is, which then goes to the back. */
  take(): T | undefined {
    for (const [tenant, queue] of this.#queues) {
      const item = queue.shift() as T;
      this.#queues.delete(tenant);
      if (queue.length > 0) this.#queues.set(tenant, queue);
      this.#length -= 1;
      return item;
    }
    return undefined;
  }

  find(predicate: (item: T) => boolean): T | undefined {
    for (const queue of this.#queues.values()) {
      const found = queue.find(predicate);
      if (found) return found;
    }
    return undefined;
  }

  /** Removes and returns the tasks that match. */
  remove(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [tenant, queue] of this.#queues) {
      const kept = queue.filter((item) => !predicate(item) || (removed.push(item), false));
      if (kept.length === queue.length) continue;
      if (kept.length === 0) this.#queues.delete(tenant);
      else this.#queues.set(tenant, kept);
    }
    this.#length -= removed.length;
    return removed;
  }

  /** Removes and returns every task. */
  drain(): T[] {
    return this.remove(() => true);
  }
}

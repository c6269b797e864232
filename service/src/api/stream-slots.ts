// StreamSlots: how many server streams (StreamLogs, WatchTask) this replica serves at once.
// Each open stream holds a reader's buffers and wakes up on every notice for its task; past
// the cap a new one gets RESOURCE_EXHAUSTED at once rather than slowing every other call.
// (A load balancer spreads followers over replicas; the SDK retries elsewhere or later.)
export class StreamSlots {
  #open = 0;

  constructor(readonly max: number) {}

  get open(): number {
    return this.#open;
  }

  /** A slot, or undefined when all are taken; call the returned function once, when the stream ends. */
  acquire(): (() => void) | undefined {
    if (this.#open >= this.max) return undefined;
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
    };
  }
}

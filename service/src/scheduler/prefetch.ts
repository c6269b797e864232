// Prefetch sizing: how many claimed tasks a replica holds beyond its free threads.
//
// Enough to keep every thread busy through two claim round trips (the local queue is
// refilled when half empty): threads x 2 x claim time / run time, at most `max`. It rounds
// down, so tasks that run far longer than a claim round trip get no prefetch at all: a
// 30-second task must wait on an idle replica, not in a busy one's local queue (rounding up
// held one such task per replica). Until a run and a claim have been timed, none.

/** Exponentially weighted moving average, for durations in ms. */
export class Average {
  #value: number | undefined;
  constructor(private readonly weight: number) {}
  get value(): number | undefined {
    return this.#value;
  }
  add(sample: number): void {
    this.#value = this.#value === undefined ? sample : this.#value + this.weight * (sample - this.#value);
  }
}

export function prefetchTarget(o: { runMs: number | undefined; claimMs: number | undefined; threads: number; max: number }): number {
  if (o.runMs === undefined || o.claimMs === undefined) return 0;
  return Math.min(o.max, Math.floor((2 * o.threads * o.claimMs) / Math.max(o.runMs, 0.01)));
}

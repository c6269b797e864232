// TokenBuckets: one token bucket per key (a tenant), for SPOOL_TENANT_CREATE_RATE/_BURST.
//
// Parameters: `rate`, tokens added per second (0: no limit, take always admits); `burst`, the
// bucket's size, which a new or idle bucket holds in full; `maxKeys`, most buckets held at once.
// take(key, count, nowMs): 0 when `count` tokens are admitted (and deducted), else the ms to
// wait before the same take could be admitted (nothing is deducted).
// Guarantees:
//   - a key's takes admitted over any span of T seconds total at most burst + rate * T, plus
//     the excess of at most one take larger than the burst (below);
//   - a take larger than the burst is admitted once the bucket holds `burst` tokens (it is
//     full), and the bucket goes into debt by the rest: a CreateTasks of 1000 with a burst of
//     100 is admitted at once from a full bucket, and the next take waits until the debt is
//     paid back at `rate`. Such a take never waits forever, and a tenant sending batches
//     larger than its burst is held to the sustained rate all the same;
//   - the wait returned is whole ms, at least 1: the same take, alone, after that wait is
//     admitted. It is capped at maxWaitMs (about 24.8 days, the most a timer can wait), after
//     which a take at an absurdly low rate may be told to wait again;
//   - a key without a bucket is always admitted; count 0 is always admitted and touches
//     nothing; a negative, NaN or infinite count is a RangeError (a bug in the caller);
//   - time comes from a monotonic clock (performance.now() by default). An injected clock
//     that goes backwards adds no tokens and never moves a bucket's last refill back;
//   - memory: a full bucket is the same as no bucket, so none is kept. When the number of
//     buckets doubles past the last count (at least minSweepKeys), a sweep drops those that
//     have refilled since; past `maxKeys` the least recently used is dropped even if it is not
//     full, which only forgets its debt (the limit gets looser for it, never stricter). Each
//     take costs O(1) amortized.
//   - huge rates and bursts (up to Infinity) work: the arithmetic saturates, never gives NaN.

/** Largest wait take() returns: the longest a setTimeout can wait (2^31 - 1 ms). */
export const maxWaitMs = 2 ** 31 - 1;
/** Fewest buckets at which a sweep for full buckets runs. */
export const minSweepKeys = 1024;

interface Bucket {
  /** Tokens at `at`; negative while in debt. */
  tokens: number;
  /** Clock ms of the last refill. */
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  #sweepAt = minSweepKeys;

  constructor(
    /** Tokens added per second; 0: no limit. */
    readonly rate: number,
    /** The bucket's size. */
    readonly burst: number,
    /** Most buckets held at once; default 100,000 (some MB at most). */
    readonly maxKeys = 100_000,
  ) {
    if (!(rate >= 0)) throw new RangeError(`TokenBuckets: rate must be 0 or more, not ${rate}`);
    if (!(burst >= 0)) throw new RangeError(`TokenBuckets: burst must be 0 or more, not ${burst}`);
    if (!(maxKeys >= 1)) throw new RangeError(`TokenBuckets: maxKeys must be 1 or more, not ${maxKeys}`);
  }

  /** Buckets held now (not full ones). */
  get size(): number {
    return this.#buckets.size;
  }

  /** 0 when admitted (tokens deducted), else the ms to wait until `count` tokens could be. */
  take(key: string, count: number, nowMs: number = performance.now()): number {
    if (!(count >= 0 && count < Infinity)) throw new RangeError(`TokenBuckets: count must be a finite number, 0 or more, not ${count}`);
    if (this.rate === 0 || count === 0) return 0;
    const bucket = this.#buckets.get(key);
    const tokens = bucket ? this.#refill(bucket, nowMs) : this.burst;
    const at = bucket ? Math.max(bucket.at, nowMs) : nowMs;
    // A take beyond the burst needs only a full bucket, and leaves it in debt.
    const needed = Math.min(count, this.burst);
    if (tokens < needed) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.at = at;
      }
      return Math.min(maxWaitMs, Math.max(1, Math.ceil(((needed - tokens) * 1000) / this.rate)));
    }
    const left = tokens - count;
    if (bucket) this.#buckets.delete(key); // re-inserted last: the Map's order is least recently used first
    if (left >= this.burst) return 0; // still full (an infinite burst): nothing to keep
    if (!bucket) this.#makeRoom(nowMs);
    this.#buckets.set(key, { tokens: left, at });
    return 0;
  }

  /** The bucket's tokens at `nowMs` (no more than the burst; none added if time went back). */
  #refill(bucket: Bucket, nowMs: number): number {
    const elapsedMs = nowMs - bucket.at;
    if (!(elapsedMs > 0)) return bucket.tokens;
    const added = (elapsedMs * this.rate) / 1000;
    // Infinity * 0 cannot happen (elapsed > 0, rate > 0), so this is never NaN.
    return Math.min(this.burst, bucket.tokens + added);
  }

  /** Before a new bucket: a sweep when the count has doubled, and the cap. */
  #makeRoom(nowMs: number): void {
    if (this.#buckets.size >= this.#sweepAt) {
      for (const [key, bucket] of this.#buckets) {
        if (this.#refill(bucket, nowMs) >= this.burst) this.#buckets.delete(key);
      }
      this.#sweepAt = Math.max(minSweepKeys, 2 * this.#buckets.size);
    }
    while (this.#buckets.size >= this.maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done) break;
      this.#buckets.delete(oldest.value);
    }
  }
}

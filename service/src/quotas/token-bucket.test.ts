// TokenBuckets with an injected clock: every time below is a clock reading in ms, no sleeping.
import { describe, expect, it } from "vitest";
import { maxWaitMs, minSweepKeys, TokenBuckets } from "./token-bucket.js";

describe("TokenBuckets", () => {
  it("admits a full burst at once, then one take per 1/rate", () => {
    const buckets = new TokenBuckets(10, 5);
    for (let i = 0; i < 5; i++) expect(buckets.take("a", 1, 0)).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(100);
    expect(buckets.take("a", 1, 50)).toBe(50);
    expect(buckets.take("a", 1, 100)).toBe(0);
    expect(buckets.take("a", 1, 100)).toBe(100);
  });

  it("keeps one bucket per key", () => {
    const buckets = new TokenBuckets(1, 2);
    expect(buckets.take("a", 2, 0)).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(1000);
    expect(buckets.take("b", 2, 0)).toBe(0);
  });

  it("says how long until a take of several tokens fits, and deducts nothing when it refuses", () => {
    const buckets = new TokenBuckets(2, 10);
    expect(buckets.take("a", 8, 0)).toBe(0); // 2 left
    expect(buckets.take("a", 5, 0)).toBe(1500); // 3 more at 2/s
    expect(buckets.take("a", 2, 0)).toBe(0); // the refusal took nothing
    expect(buckets.take("a", 5, 0)).toBe(2500);
    expect(buckets.take("a", 5, 2500)).toBe(0);
  });

  it("refills no further than the burst", () => {
    const buckets = new TokenBuckets(100, 3);
    expect(buckets.take("a", 3, 0)).toBe(0);
    // An hour later the bucket is full, not 360,000 tokens deep.
    expect(buckets.take("a", 3, 3_600_000)).toBe(0);
    expect(buckets.take("a", 1, 3_600_000)).toBe(10);
  });

  it("admits a take larger than the burst from a full bucket, then holds the key to the rate until the debt is paid", () => {
    const buckets = new TokenBuckets(100, 100);
    expect(buckets.take("a", 1000, 0)).toBe(0); // -900 left
    // The next take needs 1 token: 901 at 100/s.
    expect(buckets.take("a", 1, 0)).toBe(9010);
    // The next batch of 1000 needs a full bucket again: 1000 tokens, 10 s.
    expect(buckets.take("a", 1000, 0)).toBe(10_000);
    expect(buckets.take("a", 1000, 9_000)).toBe(1000);
    expect(buckets.take("a", 1000, 10_000)).toBe(0);
    // Sustained: batches of 1000 go through every 10 s, 100 tasks a second.
    expect(buckets.take("a", 1000, 20_000)).toBe(0);
    expect(buckets.take("a", 1000, 30_000)).toBe(0);
  });

  it("admits no more than burst + rate * T (plus one oversized take) over a span, whatever the pattern", () => {
    const rate = 7;
    const burst = 20;
    const buckets = new TokenBuckets(rate, burst);
    let admitted = 0;
    let largest = 0;
    let seed = 1;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let now = 0; now <= 60_000; now += Math.floor(random() * 300)) {
      const count = 1 + Math.floor(random() * 30);
      if (buckets.take("a", count, now) === 0) {
        admitted += count;
        largest = Math.max(largest, count);
      }
    }
    expect(admitted).toBeLessThanOrEqual(burst + rate * 60 + Math.max(0, largest - burst));
    expect(admitted).toBeGreaterThan(rate * 60 * 0.8);
  });

  it("after the wait it returns, the same take is admitted", () => {
    const buckets = new TokenBuckets(3, 4);
    let now = 0;
    for (const count of [4, 3, 1, 7, 2, 4, 1, 1, 9]) {
      const wait = buckets.take("a", count, now);
      if (wait > 0) {
        expect(buckets.take("a", count, now + wait - 1)).toBeGreaterThan(0);
        now += wait;
        expect(buckets.take("a", count, now)).toBe(0);
      }
    }
  });

  it("rate 0 means no limit", () => {
    const buckets = new TokenBuckets(0, 0);
    for (let i = 0; i < 1000; i++) expect(buckets.take(`t${i % 3}`, 1_000_000, 0)).toBe(0);
    expect(buckets.size).toBe(0);
  });

  it("count 0 is admitted and changes nothing, even from an empty bucket", () => {
    const buckets = new TokenBuckets(1, 1);
    expect(buckets.take("a", 0, 0)).toBe(0);
    expect(buckets.size).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(0);
    expect(buckets.take("a", 0, 0)).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(1000);
  });

  it("refuses a negative, NaN or infinite count, and a negative or NaN rate or burst", () => {
    const buckets = new TokenBuckets(1, 1);
    for (const count of [-1, Number.NaN, Infinity]) expect(() => buckets.take("a", count, 0)).toThrow(RangeError);
    expect(() => new TokenBuckets(-1, 1)).toThrow(/rate/);
    expect(() => new TokenBuckets(Number.NaN, 1)).toThrow(/rate/);
    expect(() => new TokenBuckets(1, -1)).toThrow(/burst/);
    expect(() => new TokenBuckets(1, 1, 0)).toThrow(/maxKeys/);
  });

  it("burst 0 paces takes one after another at the rate", () => {
    const buckets = new TokenBuckets(10, 0);
    expect(buckets.take("a", 1, 0)).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(100);
    expect(buckets.take("a", 1, 100)).toBe(0);
    expect(buckets.take("a", 5, 200)).toBe(0); // the debt was paid: a take of any size goes
    expect(buckets.take("a", 1, 200)).toBe(500);
  });

  it("adds no tokens when the clock goes backwards, and does not move the refill back", () => {
    const buckets = new TokenBuckets(1, 1);
    expect(buckets.take("a", 1, 10_000)).toBe(0);
    expect(buckets.take("a", 1, 5_000)).toBe(1000);
    // Had the refill moved back to 5,000, this would count 5 s of tokens.
    expect(buckets.take("a", 1, 10_500)).toBe(500);
    expect(buckets.take("a", 1, 11_000)).toBe(0);
  });

  it("works with huge and infinite rates and bursts", () => {
    const huge = new TokenBuckets(Number.MAX_VALUE, Number.MAX_VALUE);
    expect(huge.take("a", 1e300, 0)).toBe(0);
    expect(huge.take("a", 1e300, 0)).toBe(0);
    expect(huge.take("a", Number.MAX_VALUE, 1)).toBe(0);

    const unboundedBurst = new TokenBuckets(1, Infinity);
    for (let i = 0; i < 10; i++) expect(unboundedBurst.take("a", 1e15, 0)).toBe(0);
    expect(unboundedBurst.size).toBe(0);

    const instantRefill = new TokenBuckets(Infinity, 2);
    expect(instantRefill.take("a", 2, 0)).toBe(0);
    expect(instantRefill.take("a", 1, 0)).toBe(1); // no time passed: at least 1 ms
    expect(instantRefill.take("a", 2, 1)).toBe(0);
  });

  it("caps the wait at maxWaitMs when the rate is absurdly low", () => {
    const buckets = new TokenBuckets(1e-9, 1);
    expect(buckets.take("a", 1, 0)).toBe(0);
    expect(buckets.take("a", 1, 0)).toBe(maxWaitMs);
  });

  it("keeps no bucket for a key whose bucket is full again", () => {
    const buckets = new TokenBuckets(10, 10);
    expect(buckets.take("a", 1, 0)).toBe(0);
    expect(buckets.size).toBe(1);
    // Full again after 100 ms: the bucket is no longer needed, though it stays until a sweep.
    // A take that leaves it full (count 0, or an infinite burst) stores nothing.
    const unbounded = new TokenBuckets(10, Infinity);
    expect(unbounded.take("a", 5, 0)).toBe(0);
    expect(unbounded.size).toBe(0);
  });

  it("sweeps full buckets as keys pile up, so a caller spraying keys cannot grow it without bound", () => {
    const buckets = new TokenBuckets(1000, 1);
    // Each key is full again 1 ms after its take.
    let refused = 0;
    for (let i = 0; i < 100_000; i++) if (buckets.take(`tenant-${i}`, 1, i) !== 0) refused++;
    expect(refused).toBe(0);
    expect(buckets.size).toBeLessThanOrEqual(2 * minSweepKeys);
    // Keys that all stay in debt: maxKeys holds.
    const slow = new TokenBuckets(0.001, 1, 5000);
    for (let i = 0; i < 100_000; i++) if (slow.take(`tenant-${i}`, 1, 0) !== 0) refused++;
    expect(refused).toBe(0);
    expect(slow.size).toBe(5000);
  });

  it("drops the least recently used bucket past maxKeys, even one in debt, which only makes the limit looser", () => {
    const buckets = new TokenBuckets(0.001, 2, 3);
    for (const key of ["a", "b", "c"]) expect(buckets.take(key, 1, 0)).toBe(0); // 1 token left each
    expect(buckets.take("a", 1, 0)).toBe(0); // a used again: b is now the least recently used
    expect(buckets.take("c", 2, 0)).toBeGreaterThan(0); // a refusal does not count as a use
    expect(buckets.take("d", 1, 0)).toBe(0);
    expect(buckets.size).toBe(3);
    expect(buckets.take("b", 2, 0)).toBe(0); // b was forgotten: full again
    expect(buckets.take("a", 1, 0)).toBeGreaterThan(0); // a was kept, empty
    expect(buckets.size).toBe(3);
  });
});

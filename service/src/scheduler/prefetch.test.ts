import { describe, expect, it } from "vitest";
import { Average, prefetchTarget } from "./prefetch.js";

describe("prefetchTarget", () => {
  it("claims nothing ahead for tasks that run much longer than a claim, nor before anything was timed", () => {
    expect(prefetchTarget({ runMs: 30_000, claimMs: 5, threads: 2, max: 500 })).toBe(0);
    expect(prefetchTarget({ runMs: 50, claimMs: 5, threads: 2, max: 500 })).toBe(0);
    expect(prefetchTarget({ runMs: undefined, claimMs: 5, threads: 2, max: 500 })).toBe(0);
  });

  it("covers two claim round trips for short tasks, up to the maximum", () => {
    expect(prefetchTarget({ runMs: 10, claimMs: 5, threads: 2, max: 500 })).toBe(2);
    expect(prefetchTarget({ runMs: 0.1, claimMs: 5, threads: 2, max: 500 })).toBe(200);
    expect(prefetchTarget({ runMs: 0.001, claimMs: 5, threads: 8, max: 500 })).toBe(500);
  });

  it("averages durations", () => {
    const average = new Average(0.5);
    average.add(10);
    average.add(20);
    expect(average.value).toBe(15);
  });
});

// ctx.sleep's wait: resolves on time, rejects with the abort reason, and leaves no timer and no
// listener behind, for any length.
import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { abortableSleep } from "./abortable-sleep.js";

/** The promise's state, readable at any time. */
function track(promise: Promise<void>): { state: "pending" | "resolved" | "rejected"; reason?: unknown } {
  const tracked: { state: "pending" | "resolved" | "rejected"; reason?: unknown } = { state: "pending" };
  promise.then(
    () => (tracked.state = "resolved"),
    (reason: unknown) => Object.assign(tracked, { state: "rejected", reason }),
  );
  return tracked;
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
const listeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

afterEach(() => {
  vi.useRealTimers();
});

describe("abortableSleep", () => {
  it("resolves after the time, then holds no timer and no listener", async () => {
    const controller = new AbortController();
    const before = timers();
    const sleeping = abortableSleep(20, controller.signal);
    expect(timers()).toBe(before + 1);
    expect(listeners(controller.signal)).toBe(1);
    await sleeping;
    expect(timers()).toBe(before);
    expect(listeners(controller.signal)).toBe(0);
  });

  it("rejects with the abort reason at once, clearing its timer and listener", async () => {
    const controller = new AbortController();
    const before = timers();
    const sleeping = track(abortableSleep(3_600_000, controller.signal));
    const reason = new DOMException("cancelled by request", "AbortError");
    controller.abort(reason);
    await turns(1);
    expect(sleeping).toEqual({ state: "rejected", reason });
    expect(timers()).toBe(before);
    expect(listeners(controller.signal)).toBe(0);
  });

  it("rejects with the reason when the signal has already fired, registering nothing", async () => {
    const controller = new AbortController();
    controller.abort("gone");
    const before = timers();
    await expect(abortableSleep(1000, controller.signal)).rejects.toBe("gone");
    expect(timers()).toBe(before);
    expect(listeners(controller.signal)).toBe(0);
  });

  it("waits past setTimeout's limit of 2^31-1 ms, to the millisecond", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const limit = 2 ** 31 - 1;
    const sleeping = track(abortableSleep(limit + 10_000, new AbortController().signal));
    await vi.advanceTimersByTimeAsync(limit);
    expect(sleeping.state).toBe("pending");
    await vi.advanceTimersByTimeAsync(9_999);
    expect(sleeping.state).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(sleeping.state).toBe("resolved");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not fire early past the limit with real timers either (setTimeout alone would, after 1 ms)", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const sleeping = track(abortableSleep(2 ** 32, controller.signal));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sleeping.state).toBe("pending");
      controller.abort("done");
      await turns(1);
      expect(sleeping.state).toBe("rejected");
      expect(warnings.filter((w) => w.name === "TimeoutOverflowWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("waits for the signal alone when ms is Infinity", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const controller = new AbortController();
    const sleeping = track(abortableSleep(Number.POSITIVE_INFINITY, controller.signal));
    await vi.advanceTimersByTimeAsync(10 * 2 ** 31);
    expect(sleeping.state).toBe("pending");
    controller.abort("stop");
    await vi.advanceTimersByTimeAsync(0);
    expect(sleeping).toEqual({ state: "rejected", reason: "stop" });
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });

  it("a wait abandoned with its run is cleaned up and never settles (no unhandled rejection)", async () => {
    const controller = new AbortController();
    let ended = false;
    const before = timers();
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      // Started, then not needed: no handler on it at all.
      void abortableSleep(3_600_000, controller.signal, () => ended);
      // Another, watched, to see that it does not settle.
      const state = track(abortableSleep(3_600_000, controller.signal, () => ended));
      ended = true;
      controller.abort(new DOMException("the run has ended", "AbortError"));
      await turns(3);
      expect(state.state).toBe("pending");
      expect(timers()).toBe(before);
      expect(listeners(controller.signal)).toBe(0);
      expect(rejections).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });

  it("refuses a time that is not a number >= 0", async () => {
    const { signal } = new AbortController();
    for (const ms of [-1, Number.NaN, "5" as unknown as number, undefined as unknown as number]) {
      await expect(abortableSleep(ms, signal)).rejects.toThrow(RangeError);
    }
    expect(listeners(signal)).toBe(0);
    await expect(abortableSleep(0, signal)).resolves.toBeUndefined();
  });
});

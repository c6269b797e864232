import { describe, expect, it } from "vitest";
import { SpoolError } from "../errors.js";
import { PendingCap } from "./pending-cap.js";

/** A cap over a fake store: `pending` per tenant, and a clock the test moves. */
function capOver(max: number, pending: Map<string, number>) {
  let now = 0;
  const reads: string[] = [];
  const cap = new PendingCap({
    max,
    count: async (tenant, bound) => {
      reads.push(tenant);
      return Math.min(pending.get(tenant) ?? 0, bound);
    },
    now: () => now,
  });
  const refusal = (tenant: string, n: number) =>
    cap.admit(tenant, n).then(
      () => undefined,
      (error: unknown) => error as SpoolError,
    );
  return { cap, reads, refusal, advance: (ms: number) => (now += ms) };
}

describe("PendingCap", () => {
  it("admits up to the cap, refuses past it with RESOURCE_EXHAUSTED and a retry delay, per tenant", async () => {
    const pending = new Map([["acme", 8]]);
    const { cap, refusal } = capOver(10, pending);
    await cap.admit("acme", 2);
    const refused = await refusal("acme", 1);
    expect(refused).toBeInstanceOf(SpoolError);
    expect(refused?.code).toBe("resource_exhausted");
    expect(refused?.message).toBe('tenant "acme" has 10 pending tasks and may have at most 10 (SPOOL_TENANT_MAX_PENDING)');
    expect(refused?.retryAfterMs).toBe(1000);
    // Another tenant is not affected.
    await cap.admit("globex", 10);
  });

  it("refuses a batch whole, and one larger than the cap at once without counting", async () => {
    const { cap, reads, refusal } = capOver(10, new Map([["acme", 5]]));
    expect((await refusal("acme", 6))?.code).toBe("resource_exhausted");
    await cap.admit("acme", 5); // the refused 6 were not added
    const tooMany = await refusal("globex", 11);
    expect(tooMany?.message).toContain("11 tasks at once is more than tenant \"globex\" may have pending (10");
    expect(reads).toEqual(["acme"]);
  });

  it("counts again once the count is old: tasks that ran make room", async () => {
    const pending = new Map([["acme", 10]]);
    const { reads, refusal, advance } = capOver(10, pending);
    expect((await refusal("acme", 1))?.code).toBe("resource_exhausted");
    pending.set("acme", 3); // seven started running
    expect((await refusal("acme", 1))?.code).toBe("resource_exhausted"); // count still fresh
    advance(1000);
    expect(await refusal("acme", 1)).toBeUndefined();
    expect(reads).toEqual(["acme", "acme"]);
  });

  it("trusts a count far from the cap for longer, and shares one count between concurrent creates", async () => {
    const pending = new Map([["acme", 0]]);
    const { cap, reads, advance } = capOver(1000, pending);
    await Promise.all(Array.from({ length: 20 }, () => cap.admit("acme", 1)));
    expect(reads).toHaveLength(1);
    advance(4000);
    await cap.admit("acme", 1); // 21 of 1000: the count from 4 s ago still decides
    expect(reads).toHaveLength(1);
    advance(1001);
    await cap.admit("acme", 1);
    expect(reads).toHaveLength(2);
  });

  it("far from the cap, admits on an old count while a new one is read; near it, waits for the new one", async () => {
    let release: ((count: number) => void) | undefined;
    let reads = 0;
    let now = 0;
    const cap = new PendingCap({
      max: 100,
      count: (_tenant, bound) => {
        reads += 1;
        // The first read answers at once; later ones only when the test says.
        return reads === 1 ? Promise.resolve(Math.min(10, bound)) : new Promise((resolve) => (release = resolve));
      },
      now: () => now,
    });
    await cap.admit("acme", 1); // 11 of 100
    now += 6000; // the count is old
    await cap.admit("acme", 1); // admitted on it, without waiting for the read it started
    expect(reads).toBe(2);
    release!(95); // the new count: 95 pending, near the cap
    await new Promise((resolve) => setImmediate(resolve));
    now += 1500; // old for a count near the cap: the next create waits for a new read
    const waiting = cap.admit("acme", 1);
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect([reads, settled]).toEqual([3, false]);
    release!(50);
    await waiting;
  });

  it("reports a count that cannot be read as that error, and reads again next time", async () => {
    let fail = true;
    const cap = new PendingCap({
      max: 10,
      count: async () => {
        if (fail) throw new Error("connection refused");
        return 0;
      },
    });
    await expect(cap.admit("acme", 1)).rejects.toThrow("connection refused");
    fail = false;
    await cap.admit("acme", 1);
  });
});

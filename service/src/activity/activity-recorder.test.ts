// The recorder alone, over a store that fails on demand: outcomes are counted per (tenant,
// queue, minute), a failed flush keeps its counts for the next, the keys held while flushes
// fail are capped (oldest dropped), and old rows are pruned at most once an hour.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { ActivityRow } from "../domain/activity.js";
import type { FinishOutcome, TaskEvents } from "../domain/task-events.js";
import { ActivityRecorder, type ActivityStore } from "./activity-recorder.js";

/** A store that keeps what it is given, and fails while `down`. */
class FakeStore implements ActivityStore {
  down = false;
  readonly flushes: ActivityRow[][] = [];
  prunes = 0;
  async add(rows: readonly ActivityRow[]): Promise<void> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    this.flushes.push(rows.map((r) => ({ ...r })));
  }
  async prune(): Promise<number> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    this.prunes++;
    return 0;
  }
}

const t0 = Date.parse("2030-01-01T12:00:10Z");

function recorder(store: ActivityStore, options: { maxKeys?: number } = {}) {
  const clock = { now: t0 };
  const made = new ActivityRecorder({ store, flushMs: 60_000, log: pino({ level: "silent" }), now: () => clock.now, ...options });
  const events: TaskEvents = made; // as the scheduler tells it
  const end = (queue: string, outcome: FinishOutcome, tenant = "acme") => events.finished({ tenant, queue, kind: "k" }, outcome, 1);
  return { made, clock, end };
}

const summary = (rows: ActivityRow[]) =>
  rows.map((r) => `${r.tenant}/${r.queue}@${r.minute.toISOString().slice(11, 16)} ${r.succeeded}/${r.failed}/${r.retried}/${r.cancelled}`);

describe("ActivityRecorder", () => {
  it("counts each outcome per tenant, queue and minute; interrupted attempts are not counted", async () => {
    const store = new FakeStore();
    const { made, clock, end } = recorder(store);
    end("mail", "succeeded");
    end("mail", "succeeded");
    end("mail", "failed");
    end("mail", "dropped");
    end("mail", "retry");
    end("mail", "cancelled");
    end("mail", "interrupted");
    end("mail", "succeeded", "globex");
    clock.now += 60_000;
    end("mail", "succeeded");
    expect(await made.flush()).toBe(true);
    expect(summary(store.flushes[0]!)).toEqual(["acme/mail@12:00 2/2/1/1", "globex/mail@12:00 1/0/0/0", "acme/mail@12:01 1/0/0/0"]);
    expect(made.pendingKeys).toBe(0);
  });

  it("keeps the counts of a failed flush and stores them, with those counted since, at the next", async () => {
    const store = new FakeStore();
    const { made, clock, end } = recorder(store);
    end("mail", "succeeded");
    end("sms", "retry");
    store.down = true;
    expect(await made.flush()).toBe(false);
    expect(made.pendingKeys).toBe(2);
    end("mail", "succeeded");
    clock.now += 60_000;
    end("mail", "failed");
    expect(await made.flush()).toBe(false);
    store.down = false;
    expect(await made.flush()).toBe(true);
    expect(store.flushes).toHaveLength(1);
    expect(summary(store.flushes[0]!)).toEqual(["acme/mail@12:00 2/0/0/0", "acme/sms@12:00 0/0/1/0", "acme/mail@12:01 0/1/0/0"]);
    // Stored once: nothing is sent again.
    expect(await made.flush()).toBe(true);
    expect(store.flushes).toHaveLength(1);
  });

  it("holds at most maxKeys while flushes fail, dropping the oldest minutes", async () => {
    const store = new FakeStore();
    const { made, clock, end } = recorder(store, { maxKeys: 3 });
    store.down = true;
    for (let minute = 0; minute < 5; minute++) {
      end("mail", "succeeded");
      expect(await made.flush()).toBe(false);
      clock.now += 60_000;
    }
    expect(made.pendingKeys).toBe(3);
    store.down = false;
    expect(await made.flush()).toBe(true);
    expect(summary(store.flushes[0]!)).toEqual(["acme/mail@12:02 1/0/0/0", "acme/mail@12:03 1/0/0/0", "acme/mail@12:04 1/0/0/0"]);
  });

  it("runs one flush at a time, and close() stores what is left", async () => {
    const store = new FakeStore();
    const { made, end } = recorder(store);
    end("mail", "succeeded");
    const first = made.flush();
    end("mail", "failed"); // while the first is in flight: goes with the second
    const second = made.flush();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    end("mail", "cancelled");
    await made.close();
    expect(store.flushes.map(summary)).toEqual([["acme/mail@12:00 1/0/0/0"], ["acme/mail@12:00 0/1/0/0"], ["acme/mail@12:00 0/0/0/1"]]);
  });

  it("prunes old rows after a successful flush, at most once an hour", async () => {
    const store = new FakeStore();
    const { made, clock } = recorder(store);
    await made.flush();
    await made.flush();
    expect(store.prunes).toBe(1);
    clock.now += 3600_000;
    await made.flush();
    expect(store.prunes).toBe(2);
  });
});

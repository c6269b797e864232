// Queue listing in the store: pages in (tenant, name) order, and depth figures, the oldest due
// task found across priority levels.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { newTask } from "../test-support/factories.js";
import { connect, type Database } from "./database.js";
import { insertTasks } from "./insert-tasks.js";
import { ensureQueues, listQueues } from "./queues.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 5 });
});
afterAll(() => database.close());
beforeEach(() => database.sql`truncate spool.tasks, spool.queues`);

describe("listQueues", () => {
  it("pages through every tenant's queues in (tenant, name) order", async () => {
    const all = ["acme/a", "acme/b", "beta/a", "beta/c", "zeta/a"].map((k) => ({ tenant: k.split("/")[0]!, name: k.split("/")[1]! }));
    await ensureQueues(database.sql, [...all].reverse());
    const seen: string[] = [];
    let after: { tenant: string; name: string } | undefined;
    for (;;) {
      const page = await listQueues(database.sql, undefined, { page: { after, limit: 2 } });
      seen.push(...page.map((q) => `${q.tenant}/${q.name}`));
      if (page.length < 2) break;
      after = page.at(-1);
    }
    expect(seen).toEqual(all.map((q) => `${q.tenant}/${q.name}`));
    const beta = await listQueues(database.sql, "beta", { page: { limit: 10 } });
    expect(beta.map((q) => q.name)).toEqual(["a", "c"]);
  });

  it("finds the longest-waiting due task whatever its priority, and ignores tasks not yet due", async () => {
    const ago = (ms: number) => new Date(Date.now() - ms);
    await ensureQueues(database.sql, [{ tenant: "default", name: "default" }]);
    await insertTasks(database.sql, [
      newTask({ priority: 9, runAt: ago(5_000) }),
      newTask({ priority: 0, runAt: ago(60_000) }),
      newTask({ priority: -3, runAt: ago(30_000) }),
      newTask({ priority: -3, runAt: new Date(Date.now() + 3_600_000) }),
    ]);
    const [queue] = await listQueues(database.sql, "default", { page: { limit: 1 } });
    expect(queue).toMatchObject({ pending: 3, scheduled: 1, running: 0 });
    expect(queue!.oldestPendingAgeMs).toBeGreaterThanOrEqual(60_000);
    expect(queue!.oldestPendingAgeMs).toBeLessThan(600_000);
  });
});

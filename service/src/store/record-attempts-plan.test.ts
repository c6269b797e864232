// The writer's statement (recordAttempts) is planned once on the writer connection
// (database.ts: writerSettings), from the statistics of the moment. This checks the worst
// moment, as claim-plan.test.ts does for the claim: a plan made while spool.tasks was empty
// and analyzed, then used once the table grew to 200,000 rows before any ANALYZE. The work a
// flush does is counted in buffers read from spool.tasks, spool.task_logs and their indexes,
// in the flush's own transaction: a scan of the table or of a whole index reads thousands.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { connect, type Database, type Sql } from "./database.js";
import { recordAttempts, type AttemptFinish, type NewLogLine } from "./record-attempts.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(async () => {
  await database.sql`alter table spool.tasks reset (autovacuum_enabled)`;
  await database.sql`alter table spool.task_logs reset (autovacuum_enabled)`;
  await database.close();
});

class Rollback extends Error {}

/** A flush on the writer connection, rolled back, with what it stored and the buffers it read. */
async function measuredFlush(owner: string, lines: NewLogLine[], finishes: AttemptFinish[]) {
  let result: { finished: number; buffers: number } | undefined;
  await database.writes
    .begin(async (tx) => {
      const finished = await recordAttempts(tx as unknown as Sql, owner, lines, finishes);
      const [read] = await tx<{ buffers: number }[]>`
        select sum(pg_stat_get_xact_blocks_fetched(c.oid))::int as buffers from pg_class c
        where c.oid in ('spool.tasks'::regclass, 'spool.task_logs'::regclass)
           or c.oid in (select indexrelid from pg_index where indrelid in ('spool.tasks'::regclass, 'spool.task_logs'::regclass))`;
      result = { finished: finished.length, buffers: read!.buffers };
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  return result!;
}

/** Running tasks of `owner`, attempt 1. */
async function running(owner: string, count: number): Promise<string[]> {
  const rows = await database.sql<{ id: string }[]>`
    insert into spool.tasks (id, kind, queue, state, max_attempts, timeout_ms, created_at, run_at, attempt, started_at, owner)
    select gen_random_uuid(), 'demo.echo', 'default', 'running', 3, 60000, now(), now(), 1, now(), ${owner}
    from generate_series(1, ${count}) returning id`;
  return rows.map((r) => r.id);
}

function flushOf(ids: string[]): { lines: NewLogLine[]; finishes: AttemptFinish[] } {
  const lines = ids.flatMap((taskId) =>
    Array.from({ length: 20 }, (_, i) => ({ taskId, attempt: 1, seq: i + 1, level: "info" as const, message: `line ${i}`, time: Date.now() })),
  );
  const finishes = ids.map((id, i) => ({ id, attempt: 1, outcome: i % 2 === 0 ? ("succeeded" as const) : ("failed" as const), resultJson: "1", error: i % 2 === 0 ? undefined : { type: "Error", message: "no" } }));
  return { lines, finishes };
}

describe("the writer's plan", () => {
  it("made on an empty table, stays an index plan once the tables have grown unanalyzed", async () => {
    const owner = randomUUID();
    await database.sql`alter table spool.tasks set (autovacuum_enabled = false)`;
    await database.sql`alter table spool.task_logs set (autovacuum_enabled = false)`;
    await database.sql`vacuum analyze spool.tasks`;
    await database.sql`vacuum analyze spool.task_logs`;
    // The first flushes make the plan and cache it (force_generic_plan: from the first).
    for (let i = 0; i < 3; i++) expect((await measuredFlush(owner, [], [])).finished).toBe(0);

    // 200,000 finished tasks with 5 lines each (1,000,000 lines), and 2,000 running here.
    await database.sql`
      insert into spool.tasks (id, kind, queue, state, max_attempts, timeout_ms, created_at, run_at, attempt, finished_at)
      select gen_random_uuid(), 'demo.echo', 'default', 'succeeded', 3, 60000, now(), now(), 1, now()
      from generate_series(1, 200000)`;
    await database.sql`
      insert into spool.task_logs (task_id, seq, attempt, level, message, time)
      select t.id, s, 1, 'info', 'old line', now() from spool.tasks t cross join generate_series(1, 5) s`;
    const ids = await running(owner, 2000);

    const flush = flushOf(ids.slice(0, 50));
    const measured = await measuredFlush(owner, flush.lines, flush.finishes);
    expect(measured.finished).toBe(50);
    // 50 outcomes and 1,000 lines. Measured: 8,900 (the running tasks of the owner, read for
    // each join, and the new entries). Before each join named its ids as an array, the plan
    // made on the empty table walked the whole primary key, three times: 617,822.
    expect(measured.buffers).toBeLessThan(15_000);
  });
});

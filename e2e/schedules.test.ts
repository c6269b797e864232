// Schedules across replicas, with the built service as child processes: three replicas fire
// a schedule every second while one of them is SIGKILLed at a tick and a replacement starts
// later; the database must then hold exactly one task per tick, with no tick missing. And a
// deleted schedule never fires again, on any replica.
import { SpoolClient } from "@spool/sdk";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { eventually } from "../service/src/test-support/spool.js";
import { bufCurl, killAll, startService, type ServiceProcess } from "./support/service.js";

const database = useTestDatabase();
const replicaEnv = () => ({
  DATABASE_URL: database.url,
  SPOOL_WORKERS: "2",
  SPOOL_LEASE_RENEW_MS: "200",
  SPOOL_LEASE_TTL_MS: "1500",
  SPOOL_POLL_INTERVAL_MS: "500",
});

let sql: postgres.Sql;
const clients: SpoolClient[] = [];
beforeAll(() => {
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await killAll();
});
afterAll(() => sql.end());

async function replica(): Promise<{ service: ServiceProcess; client: SpoolClient }> {
  const service = await startService(replicaEnv());
  const client = new SpoolClient(service.address);
  clients.push(client);
  return { service, client };
}

/** The schedule's ticks that have a task, as ms after its creation, and how many tasks each has. */
async function ticksOf(name: string, createdAt: Date): Promise<{ offset: number; tasks: number }[]> {
  return sql<{ offset: number; tasks: number }[]>`
    select (extract(epoch from scheduled_for - ${createdAt}::timestamptz) * 1000)::float8 as offset, count(*)::int as tasks
    from spool.tasks where schedule = ${name} group by 1 order by 1`;
}
const taskCount = async (name: string) => (await sql<{ n: number }[]>`select count(*)::int as n from spool.tasks where schedule = ${name}`)[0]!.n;

/** Resolves just after the schedule's next tick, by the database's clock. */
async function atNextTick(name: string): Promise<void> {
  const [row] = await sql<{ ms: number }[]>`select (extract(epoch from next_run_at - now()) * 1000)::float8 as ms from spool.schedules where name = ${name}`;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, row!.ms) + 2));
}

describe("schedules across replicas", () => {
  it("fire exactly one task per tick, none missing, while a replica is SIGKILLed at a tick and another joins", async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const health = await bufCurl(a.service, ["-d", '{"service":"spool.v1.ScheduleService"}', `http://${a.service.address}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });

    const { schedule } = await a.client.schedules.create({ name: "every-second", intervalMs: 1000, task: { kind: "demo.echo", input: "tick" } });
    await eventually(async () => ((await taskCount("every-second")) >= 10 ? true : undefined), 30_000, "10 ticks");
    await atNextTick("every-second");
    await b.service.kill("SIGKILL");
    await eventually(async () => ((await taskCount("every-second")) >= 20 ? true : undefined), 30_000, "20 ticks");
    const d = await replica();
    await eventually(async () => ((await taskCount("every-second")) >= 30 ? true : undefined), 30_000, "30 ticks");
    await c.client.schedules.delete("every-second");

    const ticks = await ticksOf("every-second", schedule.createdAt);
    const [lateness] = await sql<{ p50: number; max: number }[]>`
      select percentile_cont(0.5) within group (order by ms) as p50, max(ms) as max
      from (select extract(epoch from created_at - scheduled_for) * 1000 as ms from spool.tasks where schedule = 'every-second') l`;
    console.log(
      `${ticks.length} ticks over ${ticks.at(-1)!.offset / 1000} s, replica B SIGKILLed at the tenth; ` +
        `task created after its tick: median ${Math.round(lateness!.p50)} ms, at most ${Math.round(lateness!.max)} ms`,
    );
    expect(ticks.filter((t) => t.tasks !== 1)).toEqual([]); // none doubled
    expect(ticks.map((t) => t.offset)).toEqual(Array.from({ length: ticks.length }, (_, i) => (i + 1) * 1000)); // none missing
    // Every tick's task ran, those the killed replica had in hand included (reaped, run again).
    await eventually(
      async () => ((await sql`select 1 from spool.tasks where schedule = 'every-second' and state <> 'succeeded'`).length === 0 ? true : undefined),
      30_000,
      "every tick's task to succeed",
    );
    expect(d.service.child.exitCode).toBe(null);
  });

  it("never fires a deleted schedule again, on any replica", async () => {
    const [a, b] = [await replica(), await replica()];
    await a.client.schedules.create({ name: "control", intervalMs: 1000, task: { kind: "demo.echo" } });
    await b.client.schedules.create({ name: "doomed", intervalMs: 1000, task: { kind: "demo.echo" } });
    await eventually(async () => ((await taskCount("doomed")) >= 2 ? true : undefined), 30_000, "two ticks of doomed");
    await atNextTick("doomed"); // delete as a tick is due: it waits for the tick in progress, if any
    await a.client.schedules.delete("doomed");
    const fired = await taskCount("doomed");
    const control = await taskCount("control");
    await eventually(async () => ((await taskCount("control")) >= control + 4 ? true : undefined), 30_000, "four more control ticks");
    expect(await taskCount("doomed")).toBe(fired);
    await expect(b.client.schedules.get("doomed")).rejects.toMatchObject({ code: "not_found" });
  });
});

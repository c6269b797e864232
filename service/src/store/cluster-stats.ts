// Figures of the whole cluster, measured by one replica at a time and read by all
// (spool.cluster_stats). Each replica asks for a set of figures on its own timer; the stored
// set is returned while it is younger than `maxAgeMs`; the first replica to find it older and
// take the set's advisory lock measures it again and stores it, and the others keep reading
// the stored one meanwhile. So however many replicas there are, the measuring query runs about
// once per `maxAgeMs`, and every other read is one row by primary key.
import type { Pool, Sql } from "./database.js";

export interface Figures<T> {
  body: T;
  /** Epoch ms, by the database's clock. */
  measuredAt: number;
}

export async function sharedFigures<T>(sql: Pool, name: string, maxAgeMs: number, measure: (tx: Sql) => Promise<T>): Promise<Figures<T> | undefined> {
  return sql.begin(async (tx) => {
    const [stored] = await tx<{ body: T; measuredAt: number; fresh: boolean }[]>`
      select body, (extract(epoch from measured_at) * 1000)::float8 as "measuredAt",
        measured_at > now() - ${maxAgeMs}::int * interval '1 millisecond' as fresh
      from spool.cluster_stats where name = ${name}`;
    if (stored?.fresh) return { body: stored.body, measuredAt: stored.measuredAt };
    const [lock] = await tx<{ taken: boolean }[]>`select pg_try_advisory_xact_lock(hashtext('spool.cluster_stats'), hashtext(${name})) as taken`;
    if (!lock!.taken) return stored && { body: stored.body, measuredAt: stored.measuredAt };
    await tx`set local statement_timeout = '30s'`;
    const body = await measure(tx);
    const [saved] = await tx<{ measuredAt: number }[]>`
      insert into spool.cluster_stats (name, measured_at, body) values (${name}, now(), ${tx.json(body as never)})
      on conflict (name) do update set measured_at = excluded.measured_at, body = excluded.body
      returning (extract(epoch from measured_at) * 1000)::float8 as "measuredAt"`;
    return { body, measuredAt: saved!.measuredAt };
  });
}

// countPending: how many pending tasks a tenant has, counted up to a bound.
//
// Parameters: $1 tenant, $2 bound. Guarantees: the exact count when it is below the bound,
// else the bound; reads at most `bound` entries of tasks_pending_claim_idx (its first column
// is the tenant), so the cost is capped by the quota it serves, whatever the backlog.
import type { Sql } from "./database.js";

export async function countPending(sql: Sql, tenant: string, bound: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from (
      select 1 from spool.tasks where state = 'pending' and tenant = ${tenant} limit ${bound}
    ) p`;
  return row?.n ?? 0;
}

// Claiming in store tests: claimTasks takes only tasks of the given kinds, and only for an
// owner whose lease is live, so the helper takes a lease for the owner first.
import { claimTasks, type ClaimedTask } from "../store/claim.js";
import type { Sql } from "../store/database.js";
import { renewLease } from "../store/leases.js";

/** The kinds fixture tasks have (factories.ts). */
export const testKinds = ["demo.echo"];

export async function claimWithLease(sql: Sql, limit: number, owner: string, kinds = testKinds, after = ""): Promise<ClaimedTask[]> {
  await renewLease(sql, { id: owner, name: `test:${owner.slice(0, 8)}` }, 60_000);
  return claimTasks(sql, limit, owner, kinds, after);
}

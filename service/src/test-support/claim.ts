// Claiming in store tests: claimTasks takes only tasks of the given kinds, and only for an
// owner whose lease is live, so the helper takes a lease for the owner first.
import { claimTasks, type Claim, type ClaimedTask, type ClaimRequest } from "../store/claim.js";
import type { Sql } from "../store/database.js";
import { renewLease } from "../store/leases.js";

/** The kinds fixture tasks have (factories.ts). */
export const testKinds = ["demo.echo"];

export async function claimWithLease(sql: Sql, limit: number, owner: string, kinds = testKinds, after = ""): Promise<ClaimedTask[]> {
  await renewLease(sql, { id: owner, name: `test:${owner.slice(0, 8)}` }, 60_000);
  return (await claimTasks(sql, { limit, owner, kinds, after })).tasks;
}

/** claimTasks with a lease taken for the owner first, returning the whole Claim. */
export async function claimAs(sql: Sql, request: ClaimRequest): Promise<Claim> {
  await renewLease(sql, { id: request.owner, name: `test:${request.owner.slice(0, 8)}` }, 60_000);
  return claimTasks(sql, request);
}

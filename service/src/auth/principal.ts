// Who is calling: the identity every RPC but health and reflection runs as (docs/security.md).
//
// - `subject` names the caller (a static token's subject, a JWT's `sub`, a client
//   certificate's SAN); tasks record it as the subject that created them.
// - `tenant` is the partition the caller lives in: every task, schedule and idempotency key
//   belongs to one, and a caller sees nothing of another tenant (admins excepted).
// - `roles` say what it may do. They are ranked, each including the ones below it:
//   submitter < operator < admin.
//     submitter: creates tasks; sees, follows and cancels the ones it created.
//     operator:  sees, lists and cancels every task of its tenant; sees failure details;
//                manages its tenant's schedules.
//     admin:     all of that in every tenant.
export const roles = ["submitter", "operator", "admin"] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  readonly subject: string;
  readonly tenant: string;
  /** The highest role held; undefined when the identity holds none of Spool's roles. */
  readonly role: Role | undefined;
  /** How it was established, for logs: "token", "jwt", "mtls", or "none" when auth is off. */
  readonly via: "token" | "jwt" | "mtls" | "none";
}

/** The tenant of everything created while auth is off, and of rows older than tenancy. */
export const defaultTenant = "default";

/** With auth off (loopback development, or SPOOL_AUTH=none) every call runs as this. */
export const anonymousAdmin: Principal = { subject: "anonymous", tenant: defaultTenant, role: "admin", via: "none" };

/** Whether the principal holds `role` or a higher one. */
export function holds(principal: Principal, role: Role): boolean {
  return principal.role !== undefined && roles.indexOf(principal.role) >= roles.indexOf(role);
}

/** The highest of these role names; unknown names are ignored. */
export function highestRole(names: Iterable<unknown>): Role | undefined {
  let best = -1;
  for (const name of names) best = Math.max(best, roles.indexOf(name as Role));
  return best < 0 ? undefined : roles[best];
}

// What a principal may see and do with tasks (docs/security.md, "Roles and tenants").
//
// - Every TaskService call needs the submitter role at least; a valid identity without any
//   of Spool's roles is PERMISSION_DENIED, naming the role it lacks.
// - A task is visible to an admin; to an operator of its tenant; and to a submitter of its
//   tenant that created it. A task that is not visible is NOT_FOUND, exactly as a task that
//   does not exist (the same message), so ids cannot be probed.
// - Listing is scoped the same way, in the query itself: a submitter lists its own tasks,
//   an operator its tenant's, an admin any tenant's or all of them.
// - Failure details that describe the server (stacks naming its files, replica host names
//   and pids) are for operators and admins.
import type { Task, TaskFilter } from "../domain/task.js";
import { SpoolError } from "../errors.js";
import { holds, type Principal, type Role } from "./principal.js";

/** Throws PERMISSION_DENIED unless the principal holds `role` (or a higher one). */
export function requireRole(principal: Principal, role: Role, action: string): void {
  if (holds(principal, role)) return;
  const held = principal.role ? `holds only the ${principal.role} role` : "holds none of Spool's roles";
  throw new SpoolError("permission_denied", `${action} needs the ${role} role; ${principal.subject} ${held}`);
}

export function canSee(principal: Principal, task: Pick<Task, "tenant" | "createdBy">): boolean {
  if (holds(principal, "admin")) return true;
  if (task.tenant !== principal.tenant) return false;
  return holds(principal, "operator") || (holds(principal, "submitter") && task.createdBy === principal.subject);
}

/** The one answer for a task that is missing or not visible: the two must not differ. */
export function taskNotFound(id: string): SpoolError {
  return new SpoolError("not_found", `task ${id} not found`);
}

/** The task if the principal may see it; NOT_FOUND otherwise, as if it did not exist. */
export function visible<T extends Pick<Task, "tenant" | "createdBy">>(principal: Principal, id: string, task: T | undefined): T {
  if (task === undefined || !canSee(principal, task)) throw taskNotFound(id);
  return task;
}

/**
 * The filter a principal's listing runs with: `filter.tenant` and `filter.createdBy` are what
 * the request asked for (undefined: not asked). Asking for another tenant needs admin, and
 * for another subject's tasks, operator: those are refused rather than silently narrowed,
 * so a caller never mistakes an empty page for "there are none".
 */
export function scopedFilter(principal: Principal, filter: TaskFilter): TaskFilter {
  const isAdmin = holds(principal, "admin");
  if (filter.tenant !== undefined && filter.tenant !== principal.tenant && !isAdmin) {
    throw new SpoolError("permission_denied", `tenant: listing another tenant's tasks needs the admin role`);
  }
  const tenant = isAdmin ? filter.tenant : principal.tenant;
  if (holds(principal, "operator")) return { ...filter, tenant };
  if (filter.createdBy !== undefined && filter.createdBy !== principal.subject) {
    throw new SpoolError("permission_denied", `created_by: listing other subjects' tasks needs the operator role`);
  }
  return { ...filter, tenant, createdBy: principal.subject };
}

/**
 * The tenant a call about schedules (or queues) acts in: `requested` when given, else the
 * caller's own. Another tenant than the caller's needs the admin role (PERMISSION_DENIED).
 */
export function tenantFor(principal: Principal, requested: string): string {
  if (requested === "" || requested === principal.tenant) return principal.tenant;
  if (!holds(principal, "admin")) throw new SpoolError("permission_denied", `tenant: acting in another tenant than your own needs the admin role`);
  return requested;
}

/** Whether the principal sees stacks and replica details in failures. */
export function seesServerDetails(principal: Principal): boolean {
  return holds(principal, "operator");
}

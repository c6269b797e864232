import { describe, expect, it } from "vitest";
import type { TaskFilter } from "../domain/task.js";
import { canSee, requireRole, scopedFilter, visible } from "./access.js";
import type { Principal, Role } from "./principal.js";

const who = (subject: string, tenant: string, role: Role | undefined): Principal => ({ subject, tenant, role, via: "token" });
const alice = who("alice", "acme", "submitter");
const bob = who("bob", "acme", "submitter");
const olga = who("olga", "acme", "operator");
const eve = who("eve", "globex", "operator");
const root = who("root", "ops", "admin");
const nobody = who("nobody", "acme", undefined);
const alicesTask = { tenant: "acme", createdBy: "alice" };
const anyFilter: TaskFilter = { states: [], kinds: [], queue: undefined, labels: {}, createdAfter: undefined, createdBefore: undefined, tenant: undefined, createdBy: undefined, schedule: undefined };

describe("access", () => {
  it("lets the creator, its tenant's operators and admins see a task; nobody else", () => {
    expect([alice, bob, olga, eve, root, nobody].map((p) => canSee(p, alicesTask))).toEqual([true, false, true, false, true, false]);
  });

  it("answers NOT_FOUND for a task that is hidden, as for one that is missing", () => {
    expect(() => visible(bob, "id-1", alicesTask)).toThrow(expect.objectContaining({ code: "not_found", message: "task id-1 not found" }));
    expect(() => visible(bob, "id-1", undefined)).toThrow(expect.objectContaining({ code: "not_found", message: "task id-1 not found" }));
    expect(visible(olga, "id-1", alicesTask)).toBe(alicesTask);
  });

  it("denies a missing role, naming the role needed", () => {
    expect(() => requireRole(nobody, "submitter", "CreateTask")).toThrow(/CreateTask needs the submitter role; nobody holds none of Spool's roles/);
    expect(() => requireRole(alice, "operator", "PauseQueue")).toThrow(/needs the operator role; alice holds only the submitter role/);
    expect(() => requireRole(root, "operator", "PauseQueue")).not.toThrow();
  });

  it("scopes listings: own tasks for a submitter, the tenant for an operator, anything for an admin", () => {
    expect(scopedFilter(alice, anyFilter)).toMatchObject({ tenant: "acme", createdBy: "alice" });
    expect(scopedFilter(olga, anyFilter)).toMatchObject({ tenant: "acme", createdBy: undefined });
    expect(scopedFilter(olga, { ...anyFilter, createdBy: "bob" })).toMatchObject({ tenant: "acme", createdBy: "bob" });
    expect(scopedFilter(root, anyFilter)).toMatchObject({ tenant: undefined, createdBy: undefined, schedule: undefined });
    expect(scopedFilter(root, { ...anyFilter, tenant: "globex" })).toMatchObject({ tenant: "globex" });
    expect(scopedFilter(alice, { ...anyFilter, tenant: "acme", createdBy: "alice" })).toMatchObject({ tenant: "acme", createdBy: "alice" });
    expect(() => scopedFilter(olga, { ...anyFilter, tenant: "globex" })).toThrow(/admin/);
    expect(() => scopedFilter(alice, { ...anyFilter, createdBy: "bob" })).toThrow(/operator/);
  });
});

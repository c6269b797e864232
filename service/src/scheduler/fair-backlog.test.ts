import { describe, expect, it } from "vitest";
import { FairBacklog } from "./fair-backlog.js";

interface Item {
  tenant: string;
  id: string;
  priority: number;
}
const item = (tenant: string, id: string, priority = 0): Item => ({ tenant, id, priority });
const byPriority = (a: Item, b: Item) => b.priority - a.priority || a.id.localeCompare(b.id);
const takeAll = (backlog: FairBacklog<Item>) => {
  const ids: string[] = [];
  for (let next = backlog.take(); next; next = backlog.take()) ids.push(next.id);
  return ids;
};

describe("FairBacklog", () => {
  it("is one sorted list for one tenant, whichever add brought each task", () => {
    const backlog = new FairBacklog(byPriority);
    backlog.add([item("a", "a1", 1), item("a", "a3", 0)]);
    backlog.add([item("a", "a0", 5), item("a", "a2", 0)]);
    expect(backlog.length).toBe(4);
    expect(takeAll(backlog)).toEqual(["a0", "a1", "a2", "a3"]);
    expect(backlog.length).toBe(0);
  });

  it("takes turns between tenants; a tenant added later waits one turn, not the whole backlog", () => {
    const backlog = new FairBacklog(byPriority);
    backlog.add(Array.from({ length: 5 }, (_, i) => item("acme", `a${i}`, 9)));
    expect(backlog.take()?.id).toBe("a0");
    backlog.add([item("globex", "g0"), item("globex", "g1")]);
    expect(takeAll(backlog)).toEqual(["a1", "g0", "a2", "g1", "a3", "a4"]);
  });

  it("removes by predicate, drains everything, and keeps its length right", () => {
    const backlog = new FairBacklog(byPriority);
    backlog.add([item("a", "a0"), item("a", "a1"), item("b", "b0")]);
    expect(backlog.find((i) => i.id === "b0")?.tenant).toBe("b");
    expect(backlog.remove((i) => i.id === "a0" || i.id === "b0").map((i) => i.id)).toEqual(["a0", "b0"]);
    expect(backlog.length).toBe(1);
    expect(backlog.find((i) => i.id === "b0")).toBeUndefined();
    backlog.add([item("c", "c0")]);
    expect(backlog.drain().map((i) => i.id).sort()).toEqual(["a1", "c0"]);
    expect(backlog.length).toBe(0);
    expect(backlog.take()).toBeUndefined();
  });
});

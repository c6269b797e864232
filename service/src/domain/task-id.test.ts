import { describe, expect, it } from "vitest";
import { firstTaskIdAt, isTaskId, newTaskId, timeOfTaskId } from "./task-id.js";

describe("task ids", () => {
  it("are UUIDv7, strictly increasing, and encode their creation time", () => {
    const ids = Array.from({ length: 20_000 }, () => newTaskId());
    for (const { id, createdAt } of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(isTaskId(id)).toBe(true);
      expect(timeOfTaskId(id)).toEqual(createdAt);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]!.id > ids[i - 1]!.id).toBe(true);
  });

  it("bound a creation time range: every id of that millisecond or later sorts at or after it", () => {
    const { id, createdAt } = newTaskId();
    expect(firstTaskIdAt(createdAt) <= id).toBe(true);
    expect(firstTaskIdAt(new Date(createdAt.getTime() + 1)) > id).toBe(true);
  });
});

// Task ids are UUIDv7: the first 48 bits are the creation time in ms, so ids sort by creation
// and a created-at range is an id range (ListTasks walks the primary key for both).
import { v7 as uuidv7 } from "uuid";

/** A new id (monotonic within this process) and the creation time it encodes. */
export function newTaskId(): { id: string; createdAt: Date } {
  const id = uuidv7();
  return { id, createdAt: timeOfTaskId(id) };
}

export function timeOfTaskId(id: string): Date {
  return new Date(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16));
}

/** The smallest UUIDv7 of the given millisecond: ids of tasks created at or after it are >= it. */
export function firstTaskIdAt(time: Date): string {
  const hex = Math.max(0, Math.min(time.getTime(), 0xffff_ffff_ffff)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isTaskId = (value: string): boolean => uuidPattern.test(value);

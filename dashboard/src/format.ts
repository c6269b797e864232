// How values read on the page: times, ages, durations, states, JSON.
import { toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate, type Duration, type Timestamp, ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { LogLevel, TaskState } from "@spool/proto/es/spool/v1/task_pb";

export const dateOf = (timestamp: Timestamp | undefined): Date | undefined => (timestamp ? timestampDate(timestamp) : undefined);

/** "14:03:07" today, else "2026-12-01 14:03:07", in the browser's time zone. */
export function time(timestamp: Timestamp | undefined): string {
  const date = dateOf(timestamp);
  if (!date) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return clock;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

/** A span of milliseconds as "850 ms", "12.3 s", "4 min 5 s", "3 h 2 min", "2 d 4 h". */
export function span(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export const durationMs = (duration: Duration | undefined): number =>
  duration ? Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1e6) : 0;

/** How long ago, from now. */
export function ago(timestamp: Timestamp | undefined): string {
  const date = dateOf(timestamp);
  return date ? `${span(Math.max(0, Date.now() - date.getTime()))} ago` : "";
}

/** "in 5 min 3 s" or "5 s ago". */
export function relative(timestamp: Timestamp | undefined): string {
  const date = dateOf(timestamp);
  if (!date) return "";
  const delta = date.getTime() - Date.now();
  return delta >= 0 ? `in ${span(delta)}` : `${span(-delta)} ago`;
}

export const stateName = (state: TaskState): string => TaskState[state] ?? "UNKNOWN";
export const levelName = (level: LogLevel): string => (LogLevel[level] ?? "INFO").toLowerCase();
export const terminal = (state: TaskState) =>
  state === TaskState.SUCCEEDED || state === TaskState.FAILED || state === TaskState.CANCELLED || state === TaskState.DROPPED;
export const retryable = (state: TaskState) => state === TaskState.FAILED || state === TaskState.CANCELLED || state === TaskState.DROPPED;

export const states = [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.DROPPED];

/** A google.protobuf.Value as indented JSON. */
export function json(value: Value | undefined): string {
  if (!value) return "";
  return toJsonString(ValueSchema, value, { prettySpaces: 2 });
}

export type { JsonValue };

// The mapping between the wire types and the plain values both the SDK and the service use:
// task, replica and thread states and log levels as string unions, durations as milliseconds, timestamps as
// Dates, int64 as numbers.
// One place, so the two sides can never disagree.
import type { Duration } from "./gen/google/protobuf/duration.js";
import type { Timestamp } from "./gen/google/protobuf/timestamp.js";
import { LogLevel, TaskState, type Backoff as PbBackoff } from "./gen/spool/v1/task.js";
import { ReplicaState, WorkerThreadState } from "./gen/spool/v1/admin_service.js";

export const taskStateNames = ["pending", "running", "succeeded", "failed", "cancelled", "dropped"] as const;
export type TaskStateName = (typeof taskStateNames)[number];
export type LogLevelName = "debug" | "info" | "warn" | "error";

const statesToPb: Record<TaskStateName, TaskState> = {
  pending: TaskState.TASK_STATE_PENDING,
  running: TaskState.TASK_STATE_RUNNING,
  succeeded: TaskState.TASK_STATE_SUCCEEDED,
  failed: TaskState.TASK_STATE_FAILED,
  cancelled: TaskState.TASK_STATE_CANCELLED,
  dropped: TaskState.TASK_STATE_DROPPED,
};
const statesFromPb = new Map<number, TaskStateName>(Object.entries(statesToPb).map(([name, pb]) => [pb, name as TaskStateName]));

const levelsToPb: Record<LogLevelName, LogLevel> = {
  debug: LogLevel.LOG_LEVEL_DEBUG,
  info: LogLevel.LOG_LEVEL_INFO,
  warn: LogLevel.LOG_LEVEL_WARN,
  error: LogLevel.LOG_LEVEL_ERROR,
};
const levelsFromPb = new Map<number, LogLevelName>(Object.entries(levelsToPb).map(([name, pb]) => [pb, name as LogLevelName]));

export type ReplicaStateName = "live" | "lost";
export type ThreadStateName = "starting" | "idle" | "busy";
const replicaStatesToPb: Record<ReplicaStateName, ReplicaState> = { live: ReplicaState.REPLICA_STATE_LIVE, lost: ReplicaState.REPLICA_STATE_LOST };
const threadStatesToPb: Record<ThreadStateName, WorkerThreadState> = {
  starting: WorkerThreadState.WORKER_THREAD_STATE_STARTING,
  idle: WorkerThreadState.WORKER_THREAD_STATE_IDLE,
  busy: WorkerThreadState.WORKER_THREAD_STATE_BUSY,
};
const replicaStatesFromPb = new Map<number, ReplicaStateName>(Object.entries(replicaStatesToPb).map(([name, pb]) => [pb, name as ReplicaStateName]));
const threadStatesFromPb = new Map<number, ThreadStateName>(Object.entries(threadStatesToPb).map(([name, pb]) => [pb, name as ThreadStateName]));
export const replicaStateToPb = (state: ReplicaStateName): ReplicaState => replicaStatesToPb[state];
export const replicaStateFromPb = (state: number): ReplicaStateName | undefined => replicaStatesFromPb.get(state);
export const threadStateToPb = (state: ThreadStateName): WorkerThreadState => threadStatesToPb[state];
export const threadStateFromPb = (state: number): ThreadStateName | undefined => threadStatesFromPb.get(state);

export const stateToPb = (state: TaskStateName): TaskState => statesToPb[state];
/** The state a wire value names; undefined for TASK_STATE_UNSPECIFIED and unknown values. */
export const stateFromPb = (state: number): TaskStateName | undefined => statesFromPb.get(state);
export const levelToPb = (level: LogLevelName): LogLevel => levelsToPb[level];
export const levelFromPb = (level: number): LogLevelName | undefined => levelsFromPb.get(level);

/** A whole number of ms as a Duration. */
export function durationFromMs(ms: number): Duration {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * A Duration in ms (sub-ms nanos dropped). Any int64 seconds is accepted: the caller checks
 * the range (the result may be far beyond Number.MAX_SAFE_INTEGER, or negative).
 */
export function msFromDuration(duration: Duration): number {
  return Number(duration.seconds) * 1000 + Math.trunc(duration.nanos / 1_000_000);
}

/** An int64 from the wire as a number; undefined beyond 2^53 (where numbers lose integers). */
export function safeNumber(value: bigint): number | undefined {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : undefined;
}

/** The seconds of protobuf Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
export const minTimestampSeconds = -62_135_596_800n;
export const maxTimestampSeconds = 253_402_300_799n;

/** A Date as a Timestamp, exactly (to the millisecond a Date holds). */
export function timestampFromDate(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * A Timestamp as a Date, truncated to the millisecond, computed in integers (seconds * 1000 +
 * nanos / 1e6 in floating point rounded 9999-12-31T23:59:59.999999999 up to year 10000).
 * Undefined when it is not a valid Timestamp: nanos outside 0..999,999,999, or seconds
 * outside 0001-01-01..9999-12-31.
 */
export function dateFromTimestamp(timestamp: Timestamp): Date | undefined {
  const { seconds, nanos } = timestamp;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  if (seconds < minTimestampSeconds || seconds > maxTimestampSeconds) return undefined;
  return new Date(Number(seconds) * 1000 + Math.floor(nanos / 1_000_000));
}

/** A retry backoff (spool.v1.Backoff) in ms: see task.proto for its meaning. */
export interface Backoff {
  baseMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
}

/** The backoff of a task that set none and whose kind sets none. */
export const defaultBackoff: Backoff = { baseMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.25 };

export function backoffToPb(backoff: Backoff): PbBackoff {
  return { base: durationFromMs(backoff.baseMs), factor: backoff.factor, max: durationFromMs(backoff.maxMs), jitter: backoff.jitter };
}

/** The fields a Backoff message sets (unset durations, a factor of 0 and an unset jitter are left out). */
export function backoffFromPb(backoff: PbBackoff | undefined): Partial<Backoff> {
  if (!backoff) return {};
  const out: Partial<Backoff> = {};
  if (backoff.base) out.baseMs = msFromDuration(backoff.base);
  if (backoff.factor) out.factor = backoff.factor;
  if (backoff.max) out.maxMs = msFromDuration(backoff.max);
  if (backoff.jitter !== undefined) out.jitter = backoff.jitter;
  return out;
}

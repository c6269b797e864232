// WorkerClient: spool.v1.AdminService/ListWorkers, as `client.workers` of a SpoolClient (same
// channel, token, deadline and retries). Needs the admin role.
import {
  replicaStateFromPb,
  safeNumber,
  threadStateFromPb,
  type AdminServiceClient,
  type Replica as PbReplica,
  type ReplicaStateName,
  type ThreadStateName,
  type WorkerThread as PbWorkerThread,
} from "@spool/proto";
import { dateOf } from "./convert.js";
import type { UnaryCaller } from "./unary-caller.js";

export interface WorkerThread {
  /** 0 .. workers-1: a replaced thread leaves its place, and these figures, to the new one. */
  index: number;
  state: ThreadStateName;
  /** When busy: the run. */
  task?: { id: string; kind: string; attempt: number; startedAt: Date };
  /** Runs that succeeded in this place. */
  completed: number;
  /** Runs that did not succeed (failed, timed out, cancelled, crashed). */
  failed: number;
  /** When its thread was last replaced, and why. */
  restarted?: { at: Date; reason: string };
}

export interface Replica {
  id: string;
  /** host:pid */
  name: string;
  version: string;
  /** Lost: its lease expired or it missed two renewals; it leaves the list once reaped. */
  state: ReplicaStateName;
  startedAt: Date;
  renewedAt: Date;
  expiresAt: Date;
  /** The queues it claims from; undefined: all. */
  queues: string[] | undefined;
  kinds: string[];
  threads: WorkerThread[];
}

export class WorkerClient {
  constructor(
    private readonly client: AdminServiceClient,
    private readonly caller: UnaryCaller,
  ) {}

  /** Every replica with a lease, live or lost, in name order, with its threads. */
  async list(): Promise<Replica[]> {
    const response = await this.caller.call(this.client, "listWorkers", {}, true);
    return response.replicas.map(replicaFromPb);
  }
}

function replicaFromPb(replica: PbReplica): Replica {
  return {
    id: replica.id,
    name: replica.name,
    version: replica.version,
    state: replicaStateFromPb(replica.state) ?? "lost",
    startedAt: dateOf(replica.startedAt),
    renewedAt: dateOf(replica.renewedAt),
    expiresAt: dateOf(replica.expiresAt),
    queues: replica.allQueues ? undefined : replica.queues,
    kinds: replica.kinds,
    threads: replica.threads.map(threadFromPb),
  };
}

function threadFromPb(thread: PbWorkerThread): WorkerThread {
  return {
    index: thread.index,
    state: threadStateFromPb(thread.state) ?? "starting",
    ...(thread.taskId && { task: { id: thread.taskId, kind: thread.kind, attempt: thread.attempt, startedAt: dateOf(thread.taskStartedAt) } }),
    completed: safeNumber(thread.completed) ?? 0,
    failed: safeNumber(thread.failed) ?? 0,
    ...(thread.restartedAt && { restarted: { at: dateOf(thread.restartedAt), reason: thread.restartReason } }),
  };
}

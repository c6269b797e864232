// What a replica says of itself at each lease renewal (spool.replicas.view), and what
// AdminService/ListWorkers shows of every replica from it: any replica answers for all.

export interface ThreadView {
  /** The thread's place in the pool, 0..workers-1: kept by the thread that replaces it. */
  index: number;
  state: "starting" | "idle" | "busy";
  /** The run it is busy with. */
  task?: { id: string; kind: string; attempt: number; /** Epoch ms. */ startedAt: number };
  /** Runs that succeeded in this place, across its threads. */
  completed: number;
  /** Runs that did not succeed (failed, timed out, cancelled, crashed). */
  failed: number;
  /** Epoch ms of the last time its thread was replaced, and why; undefined if never. */
  restartedAt?: number;
  restartReason?: string;
}

export interface ReplicaView {
  version: string;
  /** How often it renews: a replica whose renewal is two of these late is shown as lost. */
  renewMs: number;
  /** The queues it claims from; undefined: all. */
  queues?: string[];
  /** The kinds it has handlers for. */
  kinds: string[];
  threads: ThreadView[];
}

export interface ReplicaRecord {
  id: string;
  /** host:pid */
  name: string;
  /** Epoch ms, by the database's clock, as the next three. */
  startedAt: number;
  renewedAt: number;
  expiresAt: number;
  /** Live, or lost: its lease expired, or it missed two renewals; lost ones go once reaped. */
  lost: boolean;
  /** Undefined for a replica of a version that published none. */
  view: ReplicaView | undefined;
}

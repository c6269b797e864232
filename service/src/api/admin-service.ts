// The spool.v1.AdminService handlers: ListWorkers, from the views replicas publish with their
// lease renewals (scheduler/lease-keeper.ts), so any replica answers for all, which needs the
// admin role; and GetCaller, the caller's own identity, which any role may ask.
import type { UntypedHandleCall } from "@grpc/grpc-js";
import {
  replicaStateToPb,
  threadStateToPb,
  timestampFromDate,
  type AdminServiceServer,
  type Replica as PbReplica,
  type WorkerThread as PbWorkerThread,
} from "@spool/proto";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticator.js";
import type { AdminOperations } from "../domain/operations.js";
import type { ReplicaRecord, ThreadView } from "../domain/replica-view.js";
import { unaryHandler } from "./unary-handler.js";

export function adminService(ops: AdminOperations, log: Logger, auth: Authenticator): AdminServiceServer & Record<string, UntypedHandleCall> {
  return {
    getCaller: unaryHandler(auth, log, "submitter", "GetCaller", async (_request, principal) => ({
      subject: principal.subject,
      tenant: principal.tenant,
      role: principal.role ?? "",
      via: principal.via,
    })),
    listWorkers: unaryHandler(auth, log, "admin", "ListWorkers", async () => ({ replicas: (await ops.listWorkers()).map(replicaToPb) })),
  };
}

const at = (ms: number) => timestampFromDate(new Date(ms));

function replicaToPb(replica: ReplicaRecord): PbReplica {
  const { view } = replica;
  return {
    id: replica.id,
    name: replica.name,
    version: view?.version ?? "",
    startedAt: at(replica.startedAt),
    renewedAt: at(replica.renewedAt),
    expiresAt: at(replica.expiresAt),
    state: replicaStateToPb(replica.lost ? "lost" : "live"),
    queues: view?.queues ?? [],
    allQueues: view !== undefined && view.queues === undefined,
    kinds: view?.kinds ?? [],
    threads: (view?.threads ?? []).map(threadToPb),
  };
}

function threadToPb(thread: ThreadView): PbWorkerThread {
  return {
    index: thread.index,
    state: threadStateToPb(thread.state),
    taskId: thread.task?.id ?? "",
    kind: thread.task?.kind ?? "",
    attempt: thread.task?.attempt ?? 0,
    taskStartedAt: thread.task && at(thread.task.startedAt),
    completed: BigInt(thread.completed),
    failed: BigInt(thread.failed),
    restartedAt: thread.restartedAt === undefined ? undefined : at(thread.restartedAt),
    restartReason: thread.restartReason ?? "",
  };
}

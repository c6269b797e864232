// Workers: every replica with a lease and each of its threads, what it runs now, its counts
// and its last restart (AdminService/ListWorkers, admins). Refreshes every 2 s.
import { ReplicaState, WorkerThreadState } from "@spool/proto/es/spool/v1/admin_service_pb";
import { admin } from "../api.js";
import { ago, time } from "../format.js";
import { usePoll } from "../poll.js";
import { Alert } from "../parts/notes.js";

export function Workers() {
  const listed = usePoll(async () => (await admin.listWorkers({})).replicas, []);
  return (
    <>
      <h1>Workers</h1>
      <Alert text={listed.error} />
      {(listed.data ?? []).map((replica) => (
        <section key={replica.id} aria-label={`Replica ${replica.name}`} class="replica">
          <h2>
            {replica.name}{" "}
            <span class={`badge ${replica.state === ReplicaState.LOST ? "state-failed" : "state-succeeded"}`}>
              {replica.state === ReplicaState.LOST ? "lost" : "live"}
            </span>
          </h2>
          <p class="muted">
            {replica.version && `v${replica.version} · `}started {time(replica.startedAt)} · renewed {ago(replica.renewedAt)} · queues{" "}
            {replica.allQueues ? "all" : replica.queues.join(", ")} · kinds {replica.kinds.join(", ")}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Thread</th>
                <th scope="col">State</th>
                <th scope="col">Running</th>
                <th scope="col" class="num">Succeeded</th>
                <th scope="col" class="num">Failed</th>
                <th scope="col">Last restart</th>
              </tr>
            </thead>
            <tbody>
              {replica.threads.map((thread) => (
                <tr key={thread.index}>
                  <th scope="row">{thread.index}</th>
                  <td>{(WorkerThreadState[thread.state] ?? "").toLowerCase()}</td>
                  <td>
                    {thread.taskId && (
                      <>
                        <a href={`#/tasks/${thread.taskId}`}>{thread.kind}</a> attempt {thread.attempt}, {ago(thread.taskStartedAt).replace(" ago", "")}
                      </>
                    )}
                  </td>
                  <td class="num">{String(thread.completed)}</td>
                  <td class="num">{String(thread.failed)}</td>
                  <td>{thread.restartedAt ? `${time(thread.restartedAt)}: ${thread.restartReason}` : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

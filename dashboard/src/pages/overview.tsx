// The overview: every queue with its depth, limits and pause, the last hour's activity, and
// the replicas with their busy threads (admins). Everything refreshes every 2 s.
import type { Queue } from "@spool/proto/es/spool/v1/queue_service_pb";
import { WorkerThreadState } from "@spool/proto/es/spool/v1/admin_service_pb";
import { useState } from "preact/hooks";
import { admin, errorText, queues } from "../api.js";
import { ActivityCharts } from "../parts/activity-chart.js";
import { durationMs, span } from "../format.js";
import { usePoll } from "../poll.js";
import { href } from "../route.js";
import { can, useSession } from "../session.js";
import { Alert, NeedsRole } from "../parts/notes.js";

export function Overview() {
  const session = useSession();
  const operator = can(session, "operator");
  const listed = usePoll(async () => (operator ? (await queues.listQueues({ pageSize: 1000 })).queues : []), [operator]);
  const activity = usePoll(async () => (operator ? (await queues.getActivity({ minutes: 60 })).buckets : []), [operator], 5000);
  const workers = usePoll(async () => (can(session, "admin") ? (await admin.listWorkers({})).replicas : []), [session.caller.role]);
  const [problem, setProblem] = useState<string>();

  const toggle = async (queue: Queue) => {
    setProblem(undefined);
    try {
      const request = { name: queue.name, tenant: queue.tenant };
      if (queue.paused) await queues.resumeQueue(request);
      else await queues.pauseQueue(request);
      listed.reload();
    } catch (error) {
      setProblem(errorText(error));
    }
  };

  if (!operator) {
    return (
      <NeedsRole title="Overview">
        Queues and activity need the operator role. <a href="#/tasks">See your tasks.</a>
      </NeedsRole>
    );
  }
  const replicas = workers.data ?? [];
  const threads = replicas.flatMap((r) => r.threads);
  const busy = threads.filter((t) => t.state === WorkerThreadState.BUSY).length;
  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="activity">
        <h2 id="activity">Last hour</h2>
        <Alert text={activity.error} />
        {activity.data && <ActivityCharts buckets={activity.data} />}
      </section>
      <section aria-labelledby="queues">
        <h2 id="queues">Queues</h2>
        <Alert text={listed.error} />
        <Alert text={problem} />
        <table>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Tenant</th>
              <th scope="col" class="num">Pending</th>
              <th scope="col" class="num">Scheduled</th>
              <th scope="col" class="num">Running</th>
              <th scope="col" class="num">Limit</th>
              <th scope="col" class="num">Per key</th>
              <th scope="col">Oldest pending</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(listed.data ?? []).map((queue) => (
              <tr key={`${queue.tenant}/${queue.name}`} data-queue={queue.name}>
                <th scope="row">
                  <a href={href("/tasks", { queue: queue.name })}>{queue.name}</a>
                </th>
                <td>{queue.tenant}</td>
                <td class="num">{String(queue.depth?.pending ?? 0n)}</td>
                <td class="num">{String(queue.depth?.scheduled ?? 0n)}</td>
                <td class="num">{String(queue.depth?.running ?? 0n)}</td>
                <td class="num">{queue.concurrencyLimit || "none"}</td>
                <td class="num">{queue.keyConcurrencyLimit || "none"}</td>
                <td>{queue.oldestPendingAge ? span(durationMs(queue.oldestPendingAge)) : ""}</td>
                <td>{queue.paused ? <span class="badge paused">paused</span> : <span class="badge">running</span>}</td>
                <td>
                  <button type="button" class="quiet" onClick={() => void toggle(queue)}>
                    {queue.paused ? "Resume" : "Pause"}
                    <span class="visually-hidden"> queue {queue.name}</span>
                  </button>
                </td>
              </tr>
            ))}
            {listed.data?.length === 0 && (
              <tr>
                <td colSpan={10}>No queues yet: a queue appears with its first task.</td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      {can(session, "admin") && (
        <section aria-labelledby="replicas">
          <h2 id="replicas">Replicas</h2>
          <p>
            {replicas.length} replicas, {busy} of {threads.length} threads busy. <a href="#/workers">See every thread.</a>
          </p>
          <ul class="replicas">
            {replicas.map((r) => (
              <li key={r.id}>
                <strong>{r.name}</strong> {r.version && <span class="muted">v{r.version}</span>}{" "}
                {r.threads.filter((t) => t.state === WorkerThreadState.BUSY).map((t) => (
                  <a key={t.index} class="chip" href={`#/tasks/${t.taskId}`}>
                    {t.kind}
                  </a>
                ))}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

// One task, live: its state, input, result or error, attempts and progress (WatchTask), and
// its log lines as they are written (StreamLogs with follow), with search and a follow
// toggle. Cancel and retry act on it; a retry opens the new task.
import type { Task } from "@spool/proto/es/spool/v1/task_pb";
import type { LogEntry } from "@spool/proto/es/spool/v1/task_pb";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { errorText, tasks } from "../api.js";
import { ago, durationMs, json, levelName, relative, retryable, span, terminal, time, dateOf } from "../format.js";
import { follow } from "../parts/follow.js";
import { StateBadge } from "../parts/state-badge.js";
import { go, href } from "../route.js";
import { useSession } from "../session.js";
import { Alert } from "../parts/notes.js";

/** Lines kept on the page; older ones are dropped from view (the stored log keeps them). */
const maxLines = 5000;
/** Lines a page starts with: the end of a long log, not all of it. */
const tailLines = 1000;

export function TaskDetail({ id }: { id: string }) {
  const session = useSession();
  const [task, setTask] = useState<Task>();
  const [watchProblem, setWatchProblem] = useState<string>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    setTask(undefined);
    return follow(async (signal) => {
      for await (const update of tasks.watchTask({ id }, { signal })) if (update.task) setTask(update.task);
    }, setWatchProblem);
  }, [id]);

  const act = async (verb: "cancel" | "retry") => {
    setProblem(undefined);
    try {
      if (verb === "cancel") setTask((await tasks.cancelTask({ id, reason: "cancelled from the dashboard" })).task);
      else {
        const retried = (await tasks.retryTask({ id })).task;
        if (retried) go(`/tasks/${retried.id}`);
      }
    } catch (error) {
      setProblem(errorText(error));
    }
  };

  if (!task) {
    return (
      <section>
        <h1>Task {id}</h1>
        {watchProblem ? <Alert text={watchProblem} /> : <p class="loading">Loading…</p>}
      </section>
    );
  }
  // Only a well-formed id goes into the link (the service stores W3C trace context only).
  const traceLink = /^[0-9a-f]{32}$/.test(task.traceId) && session.settings.traceUrl ? session.settings.traceUrl.replace("{traceId}", task.traceId) : undefined;
  const fraction = task.progress ? Math.min(1, Math.max(0, task.progress.fraction)) : undefined;
  return (
    <>
      <h1>
        {task.kind} <StateBadge task={task} />
      </h1>
      <p class="id">{task.id}</p>
      <div class="toolbar">
        <button type="button" disabled={terminal(task.state) || task.cancelRequested} onClick={() => void act("cancel")}>
          Cancel
        </button>
        <button type="button" disabled={!retryable(task.state)} onClick={() => void act("retry")}>
          Retry
        </button>
        <a href={href("/tasks", { kind: task.kind })}>Tasks of this kind</a>
      </div>
      <Alert text={problem} />
      {watchProblem && <p class="muted">{watchProblem}</p>}
      {fraction !== undefined && (
        <div class="progress">
          <label for="progress">
            Progress {Math.round(fraction * 100)}% {task.progress?.message && `· ${task.progress.message}`}
          </label>
          <progress id="progress" max={1} value={fraction} />
        </div>
      )}
      <dl class="facts">
        <dt>Queue</dt>
        <dd>
          <a href={href("/tasks", { queue: task.queue })}>{task.queue}</a> · priority {task.priority}
        </dd>
        <dt>Attempt</dt>
        <dd>
          {task.attempt} of {task.maxAttempts}, timeout {span(durationMs(task.timeout))}
        </dd>
        <dt>Created</dt>
        <dd>
          {time(task.createdAt)} by {task.createdBy} ({task.tenant})
        </dd>
        <dt>Runs at</dt>
        <dd>
          {time(task.runAt)} {!terminal(task.state) && relative(task.runAt)}
        </dd>
        {task.startedAt && (
          <>
            <dt>Started</dt>
            <dd>{time(task.startedAt)}</dd>
          </>
        )}
        {task.finishedAt && (
          <>
            <dt>Finished</dt>
            <dd>
              {time(task.finishedAt)} ({ago(task.finishedAt)})
              {task.startedAt && `, ran ${span(dateOf(task.finishedAt)!.getTime() - dateOf(task.startedAt)!.getTime())}`}
            </dd>
          </>
        )}
        {task.schedule && (
          <>
            <dt>Schedule</dt>
            <dd>
              <a href={href("/tasks", { schedule: task.schedule })}>{task.schedule}</a> tick {time(task.scheduledFor)}
            </dd>
          </>
        )}
        {task.retryOf && (
          <>
            <dt>Retry of</dt>
            <dd>
              <a href={`#/tasks/${task.retryOf}`}>{task.retryOf}</a>
            </dd>
          </>
        )}
        {task.concurrencyKey && (
          <>
            <dt>Concurrency key</dt>
            <dd>{task.concurrencyKey}</dd>
          </>
        )}
        {Object.keys(task.labels).length > 0 && (
          <>
            <dt>Labels</dt>
            <dd>
              {Object.entries(task.labels).map(([k, v]) => (
                <span key={k} class="chip">
                  {k}={v}
                </span>
              ))}
            </dd>
          </>
        )}
        {task.traceId && (
          <>
            <dt>Trace</dt>
            <dd>{traceLink ? <a href={traceLink}>{task.traceId}</a> : <code>{task.traceId}</code>}</dd>
          </>
        )}
      </dl>
      <div class="values">
        <section aria-labelledby="input">
          <h2 id="input">Input</h2>
          <pre>{json(task.input) || "(none)"}</pre>
        </section>
        {task.result && (
          <section aria-labelledby="result">
            <h2 id="result">Result</h2>
            <pre>{json(task.result)}</pre>
          </section>
        )}
        {task.error && (
          <section aria-labelledby="error">
            <h2 id="error">Error</h2>
            <pre class="failure">
              {task.error.type}: {task.error.message}
              {task.error.stack && `\n\n${task.error.stack}`}
            </pre>
          </section>
        )}
      </div>
      <section aria-labelledby="attempts">
        <h2 id="attempts">Attempts</h2>
        <ol class="timeline">
          {task.failures.map((f) => (
            <li key={f.attempt} class="failed">
              <strong>Attempt {f.attempt}</strong> failed at {time(f.finishedAt)}: {f.type}: {f.message}
            </li>
          ))}
          {task.attempt > 0 && !task.failures.some((f) => f.attempt === task.attempt) && (
            <li class={terminal(task.state) ? "ended" : "current"}>
              <strong>Attempt {task.attempt}</strong> {terminal(task.state) ? <StateBadge task={task} /> : "running"}
              {task.startedAt && ` from ${time(task.startedAt)}`}
            </li>
          )}
          {task.attempt === 0 && <li>Not started yet.</li>}
        </ol>
      </section>
      <Logs id={task.id} />
    </>
  );
}

function Logs({ id }: { id: string }) {
  const [lines, setLines] = useState<LogEntry[]>([]);
  const [problem, setProblem] = useState<string>();
  const [ended, setEnded] = useState(false);
  const [following, setFollowing] = useState(true);
  const [search, setSearch] = useState("");
  const box = useRef<HTMLOListElement>(null);

  useEffect(() => {
    setLines([]);
    setEnded(false);
    let afterSeq = 0n;
    let tail = tailLines;
    return follow(
      async (signal) => {
        // The tail applies to the first read only: a resumed stream goes on from the last line.
        for await (const batch of tasks.streamLogs({ taskId: id, afterSeq, follow: true, tail }, { signal })) {
          tail = 0;
          if (batch.entries.length === 0) continue;
          afterSeq = batch.entries.at(-1)!.seq;
          setLines((old) => {
            const next = old.concat(batch.entries);
            return next.length > maxLines ? next.slice(next.length - maxLines) : next;
          });
        }
        setEnded(true);
      },
      setProblem,
    );
  }, [id]);

  const needle = search.trim().toLowerCase();
  const shown = useMemo(() => (needle ? lines.filter((l) => l.message.toLowerCase().includes(needle)) : lines), [lines, needle]);
  useLayoutEffect(() => {
    if (following && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, following]);

  return (
    <section aria-labelledby="logs" class="logs">
      <h2 id="logs">Logs</h2>
      <div class="toolbar">
        <label>
          Search
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={following} onChange={() => setFollowing(!following)} />
          Follow
        </label>
        <span class="muted" role="status">
          {needle ? `${shown.length} of ${lines.length} lines` : `${lines.length} lines`}
          {ended ? " · ended" : " · live"}
        </span>
      </div>
      {problem && <p class="muted">{problem}</p>}
      {lines.length > 0 && lines[0]!.seq > 1n && (
        <p class="muted">
          Earlier lines are not shown (the page keeps the last {Math.min(maxLines, lines.length)}): <code>spool logs {id}</code> prints the whole log.
        </p>
      )}
      <ol class="log" ref={box} tabIndex={0} aria-label="Log lines">
        {shown.map((line) => (
          <li key={String(line.seq)} class={`level-${levelName(line.level)}`}>
            <span class="log-time">{time(line.time)}</span> <span class="log-level">{levelName(line.level)}</span>{" "}
            <span class="log-attempt">#{line.attempt}</span> <span class="log-message">{line.message}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

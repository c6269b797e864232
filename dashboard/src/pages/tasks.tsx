// Tasks: filtered by state, kind, queue, labels, schedule and creation time (the filters live
// in the address, so a view can be shared), newest first, a page at a time (keyset paging:
// ListTasks' page tokens). The page shown refreshes every 2 s, so new tasks appear at the top
// of the first page. Tasks can be selected to cancel or retry them together.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { TaskView } from "@spool/proto/es/spool/v1/task_service_pb";
import { TaskState, type Task } from "@spool/proto/es/spool/v1/task_pb";
import { useEffect, useState } from "preact/hooks";
import { errorText, tasks } from "../api.js";
import { ago, retryable, stateName, states, terminal, time } from "../format.js";
import { StateBadge } from "../parts/state-badge.js";
import { usePoll } from "../poll.js";
import { go, href } from "../route.js";
import { can, useSession } from "../session.js";
import { Alert, Pager, Status } from "../parts/notes.js";

const pageSize = 50;
const filterNames = ["state", "kind", "queue", "label", "schedule", "after", "before"] as const;

/** `a=1, b=2` as a map; pairs without "=" are left out. */
function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return labels;
}

const dateFrom = (local: string) => (local ? new Date(local) : undefined);

export function Tasks({ query }: { query: URLSearchParams }) {
  const session = useSession();
  const filters = Object.fromEntries(filterNames.map((name) => [name, query.get(name) ?? ""])) as Record<(typeof filterNames)[number], string>;
  const key = filterNames.map((name) => filters[name]).join("\u0000");
  /** Tokens of the pages before this one, to go back; the last is this page's. */
  const [tokens, setTokens] = useState<string[]>([""]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [outcome, setOutcome] = useState<string>();
  useEffect(() => {
    setTokens([""]);
    setSelected(new Set());
  }, [key]);
  const pageToken = tokens.at(-1) ?? "";

  const page = usePoll(async () => {
    const after = dateFrom(filters.after);
    const before = dateFrom(filters.before);
    return tasks.listTasks({
      states: filters.state ? filters.state.split(",").map((name) => TaskState[name as keyof typeof TaskState]).filter((s) => s !== undefined) : [],
      kinds: filters.kind ? filters.kind.split(",").map((k) => k.trim()).filter(Boolean) : [],
      queue: filters.queue,
      labels: labelsOf(filters.label),
      schedule: filters.schedule,
      ...(after && { createdAfter: timestampFromDate(after) }),
      ...(before && { createdBefore: timestampFromDate(before) }),
      pageSize,
      pageToken,
      view: TaskView.BASIC,
    });
  }, [key, pageToken]);

  const shown = page.data?.tasks ?? [];
  const chosen = shown.filter((t) => selected.has(t.id));
  const act = async (verb: "cancel" | "retry") => {
    setOutcome(undefined);
    const targets = chosen.filter((t) => (verb === "cancel" ? !terminal(t.state) : retryable(t.state)));
    const results = await Promise.allSettled(targets.map((t) => (verb === "cancel" ? tasks.cancelTask({ id: t.id, reason: "cancelled from the dashboard" }) : tasks.retryTask({ id: t.id }))));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${targets[i]!.id}: ${errorText(r.reason)}`] : []));
    const skipped = chosen.length - targets.length;
    const done = results.length - failed.length;
    setOutcome(
      `${verb === "cancel" ? "Cancelled" : "Retried"} ${done} of ${chosen.length}` +
        (skipped ? ` (${skipped} ${verb === "cancel" ? "had already ended" : "cannot be retried"})` : "") +
        (failed.length ? `; failed: ${failed.join("; ")}` : ""),
    );
    setSelected(new Set());
    page.reload();
  };

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    setSelected(next);
  };
  const allShown = shown.length > 0 && shown.every((t) => selected.has(t.id));

  return (
    <>
      <h1>Tasks</h1>
      <Filters values={filters} />
      <div class="toolbar" role="group" aria-label="Selected tasks">
        <span>{chosen.length} selected</span>
        <button type="button" disabled={chosen.length === 0} onClick={() => void act("cancel")}>
          Cancel selected
        </button>
        <button type="button" disabled={chosen.length === 0} onClick={() => void act("retry")}>
          Retry selected
        </button>
        <span class="spacer" />
        <Pager tokens={tokens} next={page.data?.nextPageToken} onChange={setTokens} />
      </div>
      <Status text={outcome} />
      <Alert text={page.error} />
      <table class="tasks">
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select every task on this page"
                checked={allShown}
                onChange={() => setSelected(allShown ? new Set() : new Set(shown.map((t) => t.id)))}
              />
            </th>
            <th scope="col">Task</th>
            <th scope="col">State</th>
            <th scope="col">Queue</th>
            <th scope="col">Attempt</th>
            <th scope="col">Created</th>
            <th scope="col">Labels</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((task) => (
            <Row key={task.id} task={task} selected={selected.has(task.id)} onToggle={() => toggle(task.id)} />
          ))}
          {page.data && shown.length === 0 && (
            <tr>
              <td colSpan={7}>No task matches.</td>
            </tr>
          )}
        </tbody>
      </table>
      {!can(session, "operator") && <p class="muted">As a submitter you see the tasks you created.</p>}
    </>
  );
}

function Row({ task, selected, onToggle }: { task: Task; selected: boolean; onToggle(): void }) {
  return (
    <tr data-task={task.id}>
      <td>
        <input type="checkbox" checked={selected} onChange={onToggle} aria-label={`Select task ${task.id}`} />
      </td>
      <th scope="row">
        <a href={`#/tasks/${task.id}`}>{task.kind}</a>
        <div class="id">{task.id}</div>
      </th>
      <td>
        <StateBadge task={task} />
      </td>
      <td>{task.queue}</td>
      <td>
        {task.attempt}/{task.maxAttempts}
      </td>
      <td title={time(task.createdAt)}>{ago(task.createdAt)}</td>
      <td>
        {Object.entries(task.labels).map(([k, v]) => (
          <span key={k} class="chip">
            {k}={v}
          </span>
        ))}
      </td>
    </tr>
  );
}

function Filters({ values }: { values: Record<(typeof filterNames)[number], string> }) {
  const [draft, setDraft] = useState(values);
  useEffect(() => setDraft(values), [Object.values(values).join("\u0000")]);
  const set = (name: (typeof filterNames)[number]) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setDraft({ ...draft, [name]: event.currentTarget.value });
  const chosenStates = new Set(draft.state ? draft.state.split(",") : []);
  const text = (name: (typeof filterNames)[number], label: string, hint?: string) => (
    <label>
      {label}
      <input name={name} value={draft[name]} onInput={set(name)} placeholder={hint} />
    </label>
  );
  return (
    <form
      class="filters"
      aria-label="Filters"
      onSubmit={(event) => {
        event.preventDefault();
        go("/tasks", draft);
      }}
    >
      <fieldset>
        <legend>State</legend>
        {states.map((state) => {
          const name = stateName(state);
          return (
            <label key={name} class="check">
              <input
                type="checkbox"
                checked={chosenStates.has(name)}
                onChange={() => {
                  const next = new Set(chosenStates);
                  if (!next.delete(name)) next.add(name);
                  setDraft({ ...draft, state: [...next].join(",") });
                }}
              />
              {name.toLowerCase()}
            </label>
          );
        })}
      </fieldset>
      {text("kind", "Kind", "demo.echo")}
      {text("queue", "Queue", "default")}
      {text("label", "Labels", "customer=acme, env=prod")}
      {text("schedule", "Schedule", "nightly")}
      <label>
        Created after
        <input type="datetime-local" step="1" name="after" value={draft.after} onInput={set("after")} />
      </label>
      <label>
        Created before
        <input type="datetime-local" step="1" name="before" value={draft.before} onInput={set("before")} />
      </label>
      <div class="actions">
        <button type="submit">Apply</button>
        <a href={href("/tasks")}>Clear</a>
      </div>
    </form>
  );
}

// TaskCreator: CreateTask and CreateTasks calls that arrive together are stored by one
// insertTasks statement, one commit and one wake-up notice (group commit). An idle service still
// answers a lone call after a single round trip. A call's tasks always share one statement,
// so a CreateTasks call is all or none.
//
// A batch the database refuses for a reason other than an outage is tried again one call at a
// time, so that a row Postgres cannot take fails only the call that sent it, never the
// neighbours that happened to share its statement.
//
// Start on create: when the scheduler has idle threads and knows of no due task waiting, new
// tasks are stored already claimed by this replica and handed straight to those threads
// (TaskStarter, insert-tasks.ts: StartOnInsert). A lone task on an idle service then costs
// one write and no claim: no wake-up notice, no claim round trip. The database still decides,
// by the claim's rules, and a task it stores PENDING goes the usual way. An insert whose
// answer is lost after its commit (the primary failed in between) leaves its started tasks
// RUNNING under this replica, which does not run them: the lease renewal's reconciliation
// gives them back, as it does a claim whose reply was lost (Scheduler.reconcile).
//
// A queue exists from its first task: before a batch that names a queue this replica has not
// seen, the queue's row is added (store/queues.ts), so each replica adds a queue at most once
// (until it has seen maxKnownQueues, when it forgets them all and adds again as needed).
import type { NewTask, Task } from "../domain/task.js";
import type { ClaimedTask } from "./claim.js";
import { isConnectionError } from "../errors.js";
import type { Sql } from "./database.js";
import { GroupCommit } from "./group-commit.js";
import { earliestDue, insertTasks, type Inserted } from "./insert-tasks.js";
import type { Notices } from "./notify.js";
import { ensureQueues } from "./queues.js";

/** Most tasks in one insert statement (a larger single call still goes alone). */
const maxTasksPerStatement = 2000;
/** Queues remembered as existing; past this many the memory starts over. */
const maxKnownQueues = 10_000;

/** The scheduler's side of start on create (scheduler/scheduler.ts). */
export interface TaskStarter {
  /** The replica that tasks stored as started belong to. */
  readonly owner: string;
  /** Which of these tasks may be stored as started; each one flagged holds an idle thread. */
  hold(tasks: readonly NewTask[]): boolean[];
  /** The insert is over (or failed): runs `started`, and lets go of the other holds. */
  release(held: number, started: readonly ClaimedTask[]): void;
}

interface PendingCreate {
  tasks: NewTask[];
  resolve: (inserted: Inserted[]) => void;
  reject: (error: unknown) => void;
}

export class TaskCreator {
  readonly #commit: GroupCommit<PendingCreate>;
  readonly #knownQueues = new Set<string>();
  readonly #starter: TaskStarter | undefined;
  readonly #notices: Notices;

  /** `notices`: where the tasks stored PENDING are announced, once committed. */
  constructor(sql: Sql, notices: Notices, starter?: TaskStarter) {
    this.#starter = starter;
    this.#notices = notices;
    this.#commit = new GroupCommit((batch) => this.#insert(sql, batch), maxTasksPerStatement, (p) => p.tasks.length);
  }

  async #insert(sql: Sql, batch: PendingCreate[]): Promise<void> {
    try {
      await this.#ensureQueues(sql, batch);
      const inserted = await this.#insertStarting(
        sql,
        batch.flatMap((p) => p.tasks),
      );
      const due = earliestDue(inserted);
      if (due !== undefined) this.#notices.due(due);
      let offset = 0;
      for (const p of batch) {
        p.resolve(inserted.slice(offset, offset + p.tasks.length));
        offset += p.tasks.length;
      }
    } catch (error) {
      if (batch.length > 1 && !isConnectionError(error)) {
        for (const p of batch) await this.#insert(sql, [p]);
        return;
      }
      for (const p of batch) p.reject(error);
    }
  }

  /** insertTasks, with the tasks the starter holds threads for stored as started, and run. */
  async #insertStarting(sql: Sql, tasks: NewTask[]): Promise<Inserted[]> {
    const starter = this.#starter;
    const rows = starter?.hold(tasks) ?? [];
    const held = rows.filter(Boolean).length;
    if (!starter || held === 0) return insertTasks(sql, tasks);
    let started: ClaimedTask[] = [];
    try {
      const inserted = await insertTasks(sql, tasks, { owner: starter.owner, rows });
      started = inserted.flatMap((row, i) => (rows[i] && row.created && row.task.state === "running" ? [claimedOf(row.task, tasks[i] as NewTask)] : []));
      return inserted;
    } finally {
      starter.release(held, started);
    }
  }

  async #ensureQueues(sql: Sql, batch: PendingCreate[]): Promise<void> {
    const unseen = new Map<string, { tenant: string; name: string }>();
    for (const p of batch) {
      for (const task of p.tasks) {
        const key = JSON.stringify([task.tenant, task.queue]);
        if (!this.#knownQueues.has(key)) unseen.set(key, { tenant: task.tenant, name: task.queue });
      }
    }
    if (unseen.size === 0) return;
    await ensureQueues(sql, [...unseen.values()]);
    if (this.#knownQueues.size + unseen.size > maxKnownQueues) this.#knownQueues.clear();
    for (const key of unseen.keys()) this.#knownQueues.add(key);
  }

  /** Stores the tasks, all or none; resolves once committed (and schedulers were woken). */
  create(tasks: NewTask[]): Promise<Inserted[]> {
    return new Promise((resolve, reject) => this.#commit.push({ tasks, resolve, reject }));
  }

  /** Resolves once every create accepted so far is committed or failed. */
  drained(): Promise<void> {
    return this.#commit.drained();
  }
}

/** A task stored as started, as a claim would have returned it. */
function claimedOf(task: Task, sent: NewTask): ClaimedTask {
  return {
    id: task.id,
    tenant: task.tenant,
    queue: task.queue,
    kind: task.kind,
    input: task.input,
    attempt: task.attempt,
    timeoutMs: task.timeoutMs,
    priority: task.priority,
    runAt: task.runAt.getTime(),
    lastLogSeq: 0,
    traceparent: sent.traceparent ?? null,
  };
}

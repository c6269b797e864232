// TaskCreator: CreateTask calls that arrive together are stored by one insertTasks statement,
// one commit and one wake-up (group commit). An idle service still answers a lone call after
// a single round trip.
import type { NewTask } from "../domain/task.js";
import type { Sql } from "./database.js";
import { GroupCommit } from "./group-commit.js";
import { insertTasks, type Inserted } from "./insert-tasks.js";

/** Most tasks in one insert statement. */
const maxBatch = 1000;

interface PendingCreate {
  task: NewTask;
  resolve: (inserted: Inserted) => void;
  reject: (error: unknown) => void;
}

export class TaskCreator {
  readonly #commit: GroupCommit<PendingCreate>;

  constructor(sql: Sql) {
    this.#commit = new GroupCommit(async (batch) => {
      try {
        const inserted = await insertTasks(
          sql,
          batch.map((p) => p.task),
        );
        batch.forEach((p, i) => p.resolve(inserted[i] as Inserted));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }, maxBatch);
  }

  /** Stores the task; resolves once it is committed (and schedulers were woken). */
  create(task: NewTask): Promise<Inserted> {
    return new Promise((resolve, reject) => this.#commit.push({ task, resolve, reject }));
  }

  /** Resolves once every create accepted so far is committed or failed. */
  drained(): Promise<void> {
    return this.#commit.drained();
  }
}

// TaskWatchers: who waits for news of which task on this replica. Notices from any replica
// (`l:` new lines, `t:` state change) poke the watchers of those tasks; a poke only says
// what to look at again: the watcher reads the database for what changed.

/** What changed: the task's lines, or its state. */
export type News = "lines" | "state";

export class TaskWatchers {
  readonly #watchers = new Map<string, Set<(news: News) => void>>();

  /** Calls poke on news of the task until the returned function is called. */
  watch(taskId: string, poke: (news: News) => void): () => void {
    let set = this.#watchers.get(taskId);
    if (!set) this.#watchers.set(taskId, (set = new Set()));
    set.add(poke);
    return () => {
      set.delete(poke);
      if (set.size === 0 && this.#watchers.get(taskId) === set) this.#watchers.delete(taskId);
    };
  }

  poke(taskIds: Iterable<string>, news: News): void {
    for (const id of taskIds) for (const poke of this.#watchers.get(id) ?? []) poke(news);
  }

  /** After a reconnect, notices may have been missed: everyone looks at everything again. */
  pokeAll(): void {
    for (const set of this.#watchers.values()) for (const poke of set) poke("state");
  }

  get size(): number {
    return this.#watchers.size;
  }
}

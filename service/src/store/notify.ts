// LISTEN/NOTIFY between replicas. One channel, `spool`, carries short messages:
//   w:<epoch ms>          a task became due at that time (created or set to retry): claim
//   t:<id>,<id>...        these tasks changed state (ended, or went back to pending)
//   l:<id>,<id>...        these tasks have new log lines
//   c:<id>                cancel was requested for this running task
//   q:                    a queue's settings changed (paused, resumed, limits): claim again
//   s:                    schedules changed (created, updated, paused, resumed, deleted):
//                         each replica's ticker reads again when the next one is due
// A payload stays under Postgres's 8000-byte limit: senders split id lists into chunks of
// idsPerPayload.
//
// Who sends them. The busy paths (tasks created, claimed and ended, log lines stored) send
// through a Notifier, after their data has committed; the rare ones (a cancel, a queue or
// schedule change, a reaper's take-back, a schedule's tick) in their own transaction. Every
// transaction that notifies takes one lock of the whole Postgres cluster at commit, and holds
// it through its commit's WAL flush: notifying transactions commit one at a time, whichever
// database, replica or connection they come from. When each insert, claim and flush notified,
// the lock serialized every commit of the service, and adding replicas lowered throughput
// (single creates: 1,899 tasks/s with one replica, 1,274 with three, a backend waiting for
// the lock in 59% of samples; bench:replicas). A Notifier sends all its pending notices in
// one statement at a time, from a connection of its own with synchronous_commit off: nothing
// it writes needs to survive a crash (notices never do), so its commit waits for no flush and
// holds the lock for microseconds. The cost: a notice leaves one round trip after the commit
// it announces, and one is lost if the replica dies in between; schedulers and followers
// then learn of the change from their fallback polls.
import type { Logger } from "pino";
import type { Pool, Sql } from "./database.js";
import { GroupCommit } from "./group-commit.js";

export const channel = "spool";

export type Notice =
  | { type: "wake"; at: number }
  | { type: "tasks"; ids: string[] }
  | { type: "logs"; ids: string[] }
  | { type: "cancel"; id: string }
  | { type: "queues" }
  | { type: "schedules" };

/** Ids per message: 36 characters and a comma each, well under 8000 bytes. */
const idsPerPayload = 150;

/**
 * A SQL fragment that selects the payloads (`payload`) announcing the ids of `source`: a
 * CTE name or a parenthesised subquery with an `id` column, written by our own statements
 * (it is inlined). At most idsPerPayload ids per payload; no row when there is no id.
 */
export function idPayloads(sql: Sql, prefix: "t:" | "l:", source: string) {
  return sql`select ${prefix}::text || string_agg(id::text, ',') as payload
    from (select id, (row_number() over ()) / ${idsPerPayload} as chunk from ${sql.unsafe(source)}) c
    group by chunk`;
}

/** `w:` payload: tasks come due at `at` (epoch ms). */
const duePayload = (at: number) => `w:${Math.floor(at)}`;

/** `t:` or `l:` payloads for `ids`, idsPerPayload each. */
function idPayloadsOf(prefix: "t:" | "l:", ids: readonly string[]): string[] {
  const payloads: string[] = [];
  for (let i = 0; i < ids.length; i += idsPerPayload) payloads.push(prefix + ids.slice(i, i + idsPerPayload).join(","));
  return payloads;
}

/** Announces, in the caller's transaction (at commit), that tasks come due at `at` (epoch ms). */
export async function notifyDue(sql: Sql, at: number): Promise<void> {
  await sql`select pg_notify(${channel}, ${duePayload(at)})`;
}

/** Where the busy paths announce what they committed (a Notifier; a test may collect them). */
export interface Notices {
  /** Tasks came due at `at` (epoch ms): created, or set to retry. */
  due(at: number): void;
  /** These tasks changed state or progress. */
  tasks(ids: Iterable<string>): void;
  /** These tasks have new log lines. */
  logs(ids: Iterable<string>): void;
}

type Pending = { due: number } | { tasks: Iterable<string> } | { logs: Iterable<string> };

/**
 * Sends notices after the data they announce has committed: what is pushed while a send is
 * in flight goes in the next, as one statement (GroupCommit), ids merged and the earliest due
 * time kept. On `sql`, a connection of its own with synchronous_commit off (database.ts; the
 * header says why). A send that fails is logged and dropped: the data is stored, and those
 * who missed the notice find it at their next poll.
 */
export class Notifier implements Notices {
  readonly #commit: GroupCommit<Pending>;
  #failing = false;

  constructor(sql: Sql, log: Logger) {
    this.#commit = new GroupCommit((batch) => this.#send(sql, log, batch), Number.MAX_SAFE_INTEGER);
  }

  due(at: number): void {
    this.#commit.push({ due: at });
  }

  tasks(ids: Iterable<string>): void {
    this.#commit.push({ tasks: ids });
  }

  logs(ids: Iterable<string>): void {
    this.#commit.push({ logs: ids });
  }

  /** Resolves once everything pushed so far is sent, or given up. */
  drained(): Promise<void> {
    return this.#commit.drained();
  }

  async #send(sql: Sql, log: Logger, batch: Pending[]): Promise<void> {
    let due = Number.POSITIVE_INFINITY;
    const tasks = new Set<string>();
    const logs = new Set<string>();
    for (const item of batch) {
      if ("due" in item) due = Math.min(due, item.due);
      else if ("tasks" in item) for (const id of item.tasks) tasks.add(id);
      else for (const id of item.logs) logs.add(id);
    }
    const payloads = [...idPayloadsOf("l:", [...logs]), ...idPayloadsOf("t:", [...tasks])];
    if (Number.isFinite(due)) payloads.push(duePayload(due));
    if (payloads.length === 0) return;
    try {
      await sql`select pg_notify(${channel}, p) from unnest(${payloads}::text[]) p`;
      this.#failing = false;
    } catch (error) {
      // Once per outage, not once per send.
      if (!this.#failing) log.warn({ err: error }, "could not send notices; replicas will see the changes at their next poll");
      this.#failing = true;
    }
  }
}

/** Announces that a queue's settings changed; sent in the caller's transaction (at commit). */
export async function notifyQueuesChanged(sql: Sql): Promise<void> {
  await sql`select pg_notify(${channel}, 'q:')`;
}

/**
 * Announces that schedules changed; sent in the caller's transaction, so it reaches the
 * tickers when the change is visible (at commit).
 */
export async function notifySchedulesChanged(sql: Sql): Promise<void> {
  await sql`select pg_notify(${channel}, 's:')`;
}

export function decodeNotice(payload: string): Notice | undefined {
  const body = payload.slice(2);
  switch (payload.slice(0, 2)) {
    case "w:": {
      const at = Number(body);
      return Number.isFinite(at) ? { type: "wake", at } : undefined;
    }
    case "t:":
      return { type: "tasks", ids: body.split(",") };
    case "l:":
      return { type: "logs", ids: body.split(",") };
    case "c:":
      return { type: "cancel", id: body };
    case "q:":
      return { type: "queues" };
    case "s:":
      return { type: "schedules" };
    default:
      return undefined;
  }
}

/**
 * Listens on the channel; postgres.js reconnects by itself and calls onListen again after
 * each reconnect, when notices may have been missed.
 */
export async function listen(sql: Pool, onNotice: (notice: Notice) => void, onListen: () => void) {
  return sql.listen(
    channel,
    (payload) => {
      const notice = decodeNotice(payload);
      if (notice) onNotice(notice);
    },
    onListen,
  );
}

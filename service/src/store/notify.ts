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
import type { Pool, Sql } from "./database.js";

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

// The Notifier against a real Postgres: what it is told goes out after the fact, merged, in
// payloads under Postgres's limit, and a failed send loses nothing but the notices.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { connect, type Database } from "./database.js";
import { decodeNotice, listen, Notifier, type Notice } from "./notify.js";

const testDb = useTestDatabase();
let database: Database;
beforeAll(() => {
  database = connect(testDb.url, { max: 8 });
});
afterAll(() => database.close());

const id = (i: number) => `01a2f000-0000-7000-8000-${String(i).padStart(12, "0")}`;

describe("Notifier", () => {
  it("merges what it is told while a send is on its way, and every listener receives it", async () => {
    const received: Notice[] = [];
    const listener = await listen(database.sql, (notice) => received.push(notice), () => {});
    try {
      const notifier = new Notifier(database.notices, pino({ level: "silent" }));
      // All in one turn: one send, the ids merged and deduplicated, the earliest time kept.
      notifier.tasks([id(1), id(2)]);
      notifier.tasks([id(2), id(3)]);
      notifier.logs([id(1)]);
      notifier.due(2_000_000_000_000);
      notifier.due(1_999_999_999_000);
      await notifier.drained();
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(3);
      expect(received).toEqual(
        expect.arrayContaining([
          { type: "tasks", ids: [id(1), id(2), id(3)] },
          { type: "logs", ids: [id(1)] },
          { type: "wake", at: 1_999_999_999_000 },
        ]),
      );
      // 400 ids: three payloads of at most 150, each under Postgres's 8000 bytes.
      received.length = 0;
      notifier.tasks(Array.from({ length: 400 }, (_, i) => id(i)));
      await notifier.drained();
      await expect.poll(() => received.flatMap((n) => (n.type === "tasks" ? n.ids : [])).length, { timeout: 10_000 }).toBe(400);
      expect(received.map((n) => (n.type === "tasks" ? n.ids.length : 0))).toEqual([150, 150, 100]);
      expect(decodeNotice("x:nonsense")).toBeUndefined();
    } finally {
      await listener.unlisten();
    }
  });

  it("sends from a connection whose commits wait for no WAL flush", async () => {
    const [row] = await database.notices<{ setting: string }[]>`select current_setting('synchronous_commit') as setting`;
    expect(row!.setting).toBe("off");
  });

  it("drops the notices it cannot send, and sends again once it can", async () => {
    const broken = connect(testDb.url.replace(/\/[^/]*$/, "/no_such_database"), { max: 7 });
    const warnings: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    const notifier = new Notifier(broken.notices, log);
    notifier.due(1);
    await notifier.drained();
    notifier.due(2);
    await notifier.drained();
    expect(warnings).toHaveLength(1); // once per outage
    await broken.close();
  });
});

// The primary finder with real connections: hosts that are down are skipped, a URL whose
// hosts are all down fails fast with 08001 (UNAVAILABLE to callers) instead of hanging, and
// the pool recovers by itself once a host comes up. Telling a standby from the primary
// needs a real standby: e2e/failover.test.ts.
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isConnectionError, SpoolError } from "../errors.js";
import { useTestDatabase } from "../test-support/database.js";
import { connect, type Database } from "./database.js";
import { freePort } from "./embedded.js";
import { parseHosts, targetSessionAttrs } from "./primary-finder.js";

const testDb = useTestDatabase();
const opened: Database[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
});

/** The test database's URL with these hosts instead of its own. */
function withHosts(hosts: string[]): string {
  const url = new URL(testDb.url);
  return testDb.url.replace(url.host, hosts.join(","));
}
const real = () => new URL(testDb.url).host;

describe("parseHosts", () => {
  it("reads one host or several, with or without ports, IPv6 in brackets", () => {
    expect(parseHosts("postgres://u:p@db.example:6543/x")).toEqual([{ host: "db.example", port: 6543 }]);
    expect(parseHosts("postgresql://u@h1:5433,h2,[::1]:5434/x?sslmode=require")).toEqual([
      { host: "h1", port: 5433 },
      { host: "h2", port: 5432 },
      { host: "::1", port: 5434 },
    ]);
    expect(parseHosts("postgres://h1:1,h2:2")).toEqual([
      { host: "h1", port: 1 },
      { host: "h2", port: 2 },
    ]);
  });

  it("refuses a host list it cannot read", () => {
    expect(() => parseHosts("postgres://u@h1:5432,,h2/x")).toThrow(/cannot read the host/);
    expect(() => parseHosts("postgres://u@h1:99999/x")).toThrow(/bad port/);
    expect(() => parseHosts("mysql://h1/x")).toThrow(/not a postgres/);
  });

  it("reads target_session_attrs", () => {
    expect(targetSessionAttrs("postgres://h1,h2/x?target_session_attrs=read-write")).toBe("read-write");
    expect(targetSessionAttrs("postgres://h1/x?sslmode=disable")).toBeUndefined();
  });
});

describe("a URL with several hosts", () => {
  it("connects to the host that answers, wherever it is in the list", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    for (const hosts of [[dead, real()], [real(), dead]]) {
      const db = connect(`${withHosts(hosts)}?target_session_attrs=read-write`, { max: 2 });
      opened.push(db);
      const [row] = await db.sql<{ one: number }[]>`select 1 as one`;
      expect(row).toEqual({ one: 1 });
      // drizzle's client goes through the same finder.
      expect(await db.db.execute("select 2 as two")).toEqual([{ two: 2 }]);
    }
  });

  it("fails fast with 08001 (UNAVAILABLE) while no host answers, and recovers when one does", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const db = connect(withHosts([`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]), { max: 2 });
    opened.push(db);
    // More failures than connections in the pool: a slot that failed is usable again.
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const error = await db.sql`select 1`.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "08001" });
      expect((error as Error).message).toMatch(new RegExp(`no primary among 127.0.0.1:${portA} \\(ECONNREFUSED\\), 127.0.0.1:${portB} \\(ECONNREFUSED\\)`));
      expect(isConnectionError(error)).toBe(true);
      expect(SpoolError.from(error).code).toBe("unavailable");
      expect(performance.now() - started).toBeLessThan(5000); // not a hang (bounded, generously)
    }
    // Host B comes up (a forwarder to the test server on B's port): the pool finds it.
    const proxy = await forward(portB, real());
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const result = await db.sql<{ one: number }[]>`select 1 as one`.then(
          (rows) => rows[0]?.one,
          (e: unknown) => e,
        );
        if (result === 1) break;
        expect(result).toMatchObject({ code: "08001" });
        if (Date.now() > deadline) throw new Error("the pool did not find the host that came up");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Every slot of the pool works, not only the one that reconnected first.
      await expect(Promise.all(Array.from({ length: 6 }, () => db.sql`select pg_sleep(0.05)`))).resolves.toHaveLength(6);
    } finally {
      await proxy.close();
    }
  });
});

/** A TCP forwarder from 127.0.0.1:port to target ("host:port"); close() cuts every connection. */
async function forward(port: number, target: string): Promise<{ close(): Promise<void> }> {
  const [host, targetPort] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

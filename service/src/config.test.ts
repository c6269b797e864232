// DATABASE_URL as the configuration reads it: one host or several (an HA Postgres), and a
// target_session_attrs that Spool, which writes, can live with.
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const withUrl = (url: string) => () => loadConfig({ DATABASE_URL: url });

describe("DATABASE_URL", () => {
  it("takes one host or several, with target_session_attrs read-write or primary", () => {
    for (const url of [
      "postgres://u:p@db:5432/spool",
      "postgres://u:p@db1:5432,db2:5432/spool",
      "postgresql://u@db1,db2,db3:6432/spool?target_session_attrs=read-write&sslmode=require",
      "postgres://u@[fd00::1]:5432,[fd00::2]:5432/spool?target_session_attrs=primary",
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it("refuses what is not a postgres URL, an unreadable host list, or a target that is not the primary", () => {
    expect(withUrl("mysql://db/spool")).toThrow(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(withUrl("postgres://u@db1:5432,,db2/spool")).toThrow(/DATABASE_URL: must be postgres:\/\/.*cannot read the host/);
    expect(withUrl("postgres://u@db1,db2/spool?target_session_attrs=prefer-standby")).toThrow(
      /DATABASE_URL: target_session_attrs=prefer-standby: Spool writes/,
    );
  });
});

describe("SPOOL_QUEUES", () => {
  it("is a list of queue names, all of them by default", () => {
    expect(loadConfig({}).queues).toBeUndefined();
    expect(loadConfig({ SPOOL_QUEUES: " mail, alerts,mail ," }).queues).toEqual(["mail", "alerts"]);
    expect(() => loadConfig({ SPOOL_QUEUES: "mail,bad name" })).toThrow(/SPOOL_QUEUES: each queue name must be 1 to 64 letters/);
  });
});

describe("SPOOL_ACTIVITY_FLUSH_MS", () => {
  it("is 5 s by default, from 100 ms to 10 min", () => {
    expect(loadConfig({}).activityFlushMs).toBe(5000);
    expect(loadConfig({ SPOOL_ACTIVITY_FLUSH_MS: "250" }).activityFlushMs).toBe(250);
    for (const bad of ["99", "600001", "1.5", "soon"]) {
      expect(() => loadConfig({ SPOOL_ACTIVITY_FLUSH_MS: bad })).toThrow(/^invalid configuration: SPOOL_ACTIVITY_FLUSH_MS: /);
    }
  });
});

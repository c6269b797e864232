// lockHolder against a real embedded Postgres and real processes: the server's own lock file
// names its postmaster, while a lock file naming some other live process (a pid reused after a
// reboot, or another cluster's postmaster) is stale; without /proc, only the server itself can
// vouch for its pid.
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded.js";
import { lockHolder, postmasterDirectory } from "./postmaster-lock.js";

let root: string;
let server: EmbeddedPostgres;
let clusterDir: string;
let password: string;
let lock: string[];
let stranger: ChildProcess;
/** A directory with no process entries: /proc as it looks where there is none. */
let noProc: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "spool-lock-"));
  await chmod(root, 0o755); // the postgres user must reach it when tests run as root
  server = await startEmbeddedPostgres(join(root, "data"), pino({ level: "silent" }));
  clusterDir = join(root, "data", "pg");
  password = (await readFile(join(root, "data", "pg-password"), "utf8")).trim();
  lock = (await readFile(join(clusterDir, "postmaster.pid"), "utf8")).split("\n");
  stranger = spawn("sleep", ["60"], { stdio: "ignore" }); // ends by itself
  noProc = join(root, "no-proc");
  await mkdir(noProc);
});

afterAll(async () => {
  stranger?.kill("SIGKILL");
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

/** A cluster directory (not a real cluster) whose lock file names `pid` and `port`. */
async function fakeCluster(name: string, pid: number, port: number): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "postmaster.pid"), [String(pid), dir, lock[2], String(port), ...lock.slice(4)].join("\n"));
  return dir;
}

describe("with /proc", () => {
  it("recognises the running server's own postmaster", async () => {
    expect(await lockHolder(clusterDir, password)).toEqual({ kind: "postmaster", pid: Number(lock[0]), port: Number(lock[3]) });
  });

  it("calls a live process that is not a postgres server a stranger", async () => {
    const dir = await fakeCluster("reused-pid", stranger.pid!, Number(lock[3]));
    expect(await lockHolder(dir, password)).toMatchObject({ kind: "stranger", pid: stranger.pid, reason: expect.stringContaining("working directory") });
  });

  it("calls another cluster's postmaster a stranger", async () => {
    const dir = await fakeCluster("other-cluster", Number(lock[0]), Number(lock[3]));
    expect(await lockHolder(dir, password)).toMatchObject({ kind: "stranger", pid: Number(lock[0]) });
  });

  it("says none when there is no lock file or its process is gone", async () => {
    expect(await lockHolder(join(root, "nowhere"), password)).toEqual({ kind: "none" });
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    expect(await lockHolder(await fakeCluster("dead-pid", gone.pid!, Number(lock[3])), password)).toEqual({ kind: "none" });
  });
});

describe("without /proc", () => {
  it("adopts the postmaster only because the server on its port serves this data directory", async () => {
    expect(await lockHolder(clusterDir, password, { procRoot: noProc })).toEqual({ kind: "postmaster", pid: Number(lock[0]), port: Number(lock[3]) });
  });

  it("cannot tell a live process whose recorded port nothing answers on, nor one whose port serves another directory", async () => {
    const deadPort = await freePort();
    const silent = await fakeCluster("silent-port", stranger.pid!, deadPort);
    expect(await lockHolder(silent, password, { procRoot: noProc, connectTimeoutSeconds: 2 })).toEqual({ kind: "unknown", pid: stranger.pid, port: deadPort });
    const elsewhere = await fakeCluster("port-of-another", stranger.pid!, Number(lock[3]));
    expect(await lockHolder(elsewhere, password, { procRoot: noProc })).toEqual({ kind: "unknown", pid: stranger.pid, port: Number(lock[3]) });
  });
});

describe("postmasterDirectory", () => {
  it("reads the data directory of a postgres command line, and rejects anything else", () => {
    expect(postmasterDirectory(["/opt/pg/bin/postgres", "-D", "/data/pg", "-p", "5432"], undefined)).toBe("/data/pg");
    expect(postmasterDirectory(["postgres", "-Dpg"], "/data")).toBe("/data/pg");
    expect(postmasterDirectory(["postgres", "-p", "5432"], undefined)).toBeUndefined(); // PGDATA: cannot tell
    expect(postmasterDirectory(["postgres: checkpointer "], "/data/pg")).toBe(false); // a child, retitled
    expect(postmasterDirectory(["sleep", "60"], "/data/pg")).toBe(false);
    expect(postmasterDirectory([], undefined)).toBe(false);
  });
});

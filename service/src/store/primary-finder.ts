// Finding the primary among the hosts of a multi-host DATABASE_URL
// (postgres://user@h1:5432,h2:5432/db), as an HA Postgres gives: when its primary fails, a
// standby is promoted, and Spool must move its connections to it by itself.
//
// postgres.js 3.4 parses such URLs and tries the hosts in turn, but cannot be left to it:
// - target_session_attrs=read-write only looks at default_transaction_read_only, which a
//   Postgres 14+ standby reports as "off": it settles on a standby (checked on Postgres 15;
//   porsager/postgres#815). `primary` looks at in_hot_standby and works.
// - While no host is the primary (the old one dead, the standby not yet promoted) it goes
//   from host to host with no delay and never fails the query: calls hang instead of
//   answering UNAVAILABLE, and each connection of the pool opens hundreds of sessions a
//   second on the standby (measured: about 440 a second for a pool of 10). When every host
//   is down it never gives up (porsager/postgres#1174).
//
// So postgres.js gets one host only, and its `socket` option asks this module for the
// connection. What it guarantees:
// - Every connection goes to the host that accepts writes, found by asking each host
//   `transaction_read_only` (libpq's test for read-write: off on a primary, on on a standby)
//   in a session of its own; all hosts are asked at once, and the first to answer that it
//   is writable wins. The answer is kept until a connection to that host closes.
// - When no host accepts writes, the connection fails with SQLSTATE 08001
//   (sqlclient_unable_to_establish_sqlconnection) as soon as every host has answered (or
//   timed out), naming each host and why: callers get UNAVAILABLE and the attempt writer
//   retries, as in any outage. The hosts are asked again at most every `searchIntervalMs`;
//   meanwhile connections fail at once, so the standby sees a few sessions a second, not hundreds.
// - postgres.js's own check (target_session_attrs=primary) stays on, for a host that stops
//   being the primary between the question and the connection.
import { connect as tcpConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import postgres from "postgres";

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The hosts of a postgres:// URL, in order: `h1:5432,h2,[::1]:5433`. A host without a port
 * gets 5432. Throws on a URL whose host list cannot be read.
 */
export function parseHosts(url: string): HostPort[] {
  const match = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(url);
  if (!match) throw new Error("not a postgres:// URL");
  const list = decodeURIComponent(match[1]!);
  return list.split(",").map((entry) => {
    const parsed = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(entry.trim());
    if (!parsed) throw new Error(`cannot read the host "${entry}"`);
    const port = parsed[3] === undefined ? 5432 : Number(parsed[3]);
    if (port < 1 || port > 65_535) throw new Error(`bad port in "${entry}"`);
    return { host: parsed[1] ?? parsed[2]!, port };
  });
}

/** The URL's target_session_attrs, if it has one. */
export function targetSessionAttrs(url: string): string | undefined {
  const query = url.indexOf("?");
  if (query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1).split("#")[0]).get("target_session_attrs") ?? undefined;
}

function withoutTargetSessionAttrs(url: string): string {
  const query = url.indexOf("?");
  if (query < 0) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  params.delete("target_session_attrs");
  return params.size ? `${url.slice(0, query)}?${params}` : url.slice(0, query);
}

const label = ({ host, port }: HostPort) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

export interface PrimaryFinderOptions {
  /** Seconds a host may take to accept a session and answer. */
  connectTimeout: number;
  /** Shortest time between two searches that found no primary. */
  searchIntervalMs?: number;
  /** Shown in pg_stat_activity, with " probe" after it, for the sessions that ask a host. */
  applicationName?: string;
}

type Search = { primary: HostPort; why?: undefined } | { primary?: undefined; why: string };

export class PrimaryFinder {
  readonly hosts: readonly HostPort[];
  readonly #url: string;
  readonly #options: PrimaryFinderOptions;
  /** The host found writable, until a connection to it closes. */
  #primary: HostPort | undefined;
  #search: Promise<Search> | undefined;
  /** When the last search that found no primary ended (performance.now()), and why. */
  #missed: { at: number; why: string } | undefined;

  constructor(url: string, options: PrimaryFinderOptions) {
    this.#url = withoutTargetSessionAttrs(url); // the probes ask themselves
    this.hosts = parseHosts(url);
    this.#options = options;
  }

  /**
   * For postgres.js's `socket` option: a socket connected to the primary, or, when there is
   * none or it cannot be reached, one that fails at once (failedSocket says why it is built so).
   */
  readonly socket = async (): Promise<Socket | Duplex> => {
    const found = this.#primary ? { primary: this.#primary } : await this.#find();
    if (!found.primary) return failedSocket(Object.assign(new Error(found.why), { code: "08001" }), this.hosts[0]!);
    const { primary } = found;
    const forget = () => {
      if (this.#primary === primary) this.#primary = undefined;
    };
    let socket: Socket;
    try {
      socket = await tcp(primary, this.#options.connectTimeout * 1000);
    } catch (error) {
      forget();
      return failedSocket(error as Error, primary);
    }
    // The primary may have gone (or this was a routine close): ask again next time.
    socket.once("close", forget);
    Object.assign(socket, primary); // postgres.js names socket.host and socket.port in its errors
    return socket;
  };

  /** One search at a time, and none sooner than searchIntervalMs after one that missed. */
  #find(): Promise<Search> {
    const interval = this.#options.searchIntervalMs ?? 200;
    if (this.#missed && performance.now() - this.#missed.at < interval) return Promise.resolve({ why: this.#missed.why });
    this.#search ??= this.#ask().finally(() => (this.#search = undefined));
    return this.#search;
  }

  async #ask(): Promise<Search> {
    const answers = this.hosts.map((host) => this.#isWritable(host).then((writable) => ({ host, writable })));
    // The first host to say it is writable, without waiting for the others: a dead primary's
    // host may take connectTimeout to time out.
    const primary = await new Promise<HostPort | undefined>((resolve) => {
      let left = answers.length;
      for (const answer of answers) {
        void answer.then(({ host, writable }) => (writable === true ? resolve(host) : --left === 0 && resolve(undefined)));
      }
    });
    if (primary) {
      this.#primary = primary;
      this.#missed = undefined;
      return { primary };
    }
    const why = `no primary among ${(await Promise.all(answers))
      .map(({ host, writable }) => `${label(host)} (${writable === false ? "read-only: a standby" : writable})`)
      .join(", ")}`;
    this.#missed = { at: performance.now(), why };
    return { why };
  }

  /** true if the host accepts writes, false if it is read-only, else why it could not be asked. */
  async #isWritable(host: HostPort): Promise<boolean | string> {
    const sql = postgres(this.#url, {
      // As arrays, which postgres.js takes but its types do not say: an IPv6 address stays whole.
      ...({ host: [host.host], port: [host.port] } as object),
      max: 1,
      connect_timeout: this.#options.connectTimeout,
      fetch_types: false,
      prepare: false,
      backoff: false,
      onnotice: () => {},
      connection: { application_name: `${this.#options.applicationName ?? "spool"} probe` },
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const question = sql<{ readOnly: string }[]>`select current_setting('transaction_read_only') as "readOnly"`;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer")), this.#options.connectTimeout * 1000);
      });
      const [row] = await Promise.race([question, timeout]);
      return row?.readOnly === "off";
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return e.code ?? e.message ?? String(error);
    } finally {
      clearTimeout(timer);
      void sql.end({ timeout: 0 }).catch(() => {});
    }
  }
}

/** A TCP connection to the host, once established (or the error, within timeoutMs). */
function tcp({ host, port }: HostPort, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port, timeout: timeoutMs });
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", fail);
    socket.once("timeout", () => fail(Object.assign(new Error(`connecting to ${label({ host, port })} timed out`), { code: "CONNECT_TIMEOUT" })));
    socket.once("connect", () => {
      socket.removeListener("error", fail);
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}

/**
 * A socket that fails with `error`: an 'error', then a 'close' with hadError (which
 * postgres.js counts towards its reconnect backoff, as for a refused connection).
 *
 * It fails only after postgres.js has written its first message to it, never before:
 * postgres.js writes that message from a setImmediate, and a socket that closes before it
 * ran leaves the timer's stale handle behind, so that the next connection of that slot
 * never sends its startup message and hangs (postgres.js 3.4.9, seen here). Nor may the
 * `socket` option reject: postgres.js would keep that connection slot in its connecting
 * state for good.
 */
function failedSocket(error: Error, { host, port }: HostPort): Duplex {
  let failed = false;
  const socket = new Duplex({
    emitClose: false,
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
      if (failed) return;
      failed = true;
      setImmediate(() => {
        socket.emit("error", error);
        socket.emit("close", true);
        socket.destroy();
      });
    },
  });
  Object.assign(socket, { host, port });
  return socket;
}

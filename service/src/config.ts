// Configuration: one environment variable per setting (documented in the README's table).
// The schema below is the one list of settings: spool-server's flags (command-line.ts) and
// its --help are derived from it, so a setting added here is a flag too. A bad value stops
// the service at start with a message naming the variable (or the flag that set it).
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import { logFormats, type LogFormat } from "./logger.js";
import { authModes, isLoopback, type AuthSettings } from "./auth/auth-mode.js";
import { isJwksUrl } from "./auth/jwt-verifier.js";
import { defaultTransportLimits, type TransportLimits } from "./api/transport-limits.js";
import { parseHosts, targetSessionAttrs } from "./store/primary-finder.js";
import type { TlsConfig } from "./api/tls.js";
import type { TenantQuotas } from "./quotas/tenant-quotas.js";
import { queueNamePattern } from "./domain/task.js";

/** The levels SPOOL_LOG_LEVEL accepts (pino's). */
export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * What is wrong with a postgres:// URL, if anything: its hosts (one, or several separated by
 * commas, `h1:5432,h2:5432`, for an HA Postgres) must be readable, and target_session_attrs,
 * if given, must ask for the primary: Spool writes, and looks for the primary among several
 * hosts whether or not it is given.
 */
function databaseUrlProblem(url: string): string | undefined {
  try {
    parseHosts(url);
  } catch (error) {
    return `must be postgres://[user[:password]@]host[:port][,host[:port]...]/database: ${(error as Error).message}`;
  }
  const target = targetSessionAttrs(url);
  if (target !== undefined && target !== "read-write" && target !== "primary") {
    return `target_session_attrs=${target}: Spool writes, so it needs read-write or primary (or none: with several hosts it finds the primary anyway)`;
  }
  return undefined;
}

/** A setting's one-line description: README's table says more; --help prints this. */
const about = (description: string) => ({ description });

export const configSchema = z
  .object({
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .superRefine((url, ctx) => {
        const problem = databaseUrlProblem(url);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional()
      .meta(about("Postgres to use (postgres://...); unset: start the embedded Postgres")),
    SPOOL_HOST: z.string().min(1).default("127.0.0.1").meta(about("address to listen on (0.0.0.0 for all interfaces)")),
    SPOOL_PORT: integer(0, 65_535).default(50051).meta(about("gRPC port; 0 picks a free one (logged with \"spool serving\")")),
    SPOOL_HTTP_PORT: integer(0, 65_535)
      .default(8080)
      .meta(about("HTTP port on SPOOL_HOST for /metrics, /healthz and /readyz; 0 turns it off")),
    SPOOL_TRACE_URL: z
      .string()
      .max(2000)
      .refine((url) => /^https?:\/\/[^\s]*\{traceId\}/.test(url), "an http(s) address with {traceId} where the trace id goes")
      .optional()
      .meta(about("the dashboard links each task's trace id here, e.g. http://jaeger:16686/trace/{traceId}")),
    SPOOL_QUEUE_FIGURES_MS: integer(1000, 3_600_000)
      .default(15_000)
      .meta(about("how often the queue gauges are measured, once for the whole cluster")),
    SPOOL_ACTIVITY_FLUSH_MS: integer(100, 600_000)
      .default(5000)
      .meta(about("how often this replica adds its counts of ended attempts to the database (GetActivity lags by this much)")),
    SPOOL_DATA_DIR: z.string().min(1).default(".spool").meta(about("where the embedded Postgres keeps its data")),
    SPOOL_WORKERS: integer(1, 1024)
      .default(availableParallelism())
      .meta(about("worker threads, so tasks run at once on this replica (default: the CPU count)")),
    SPOOL_CANCEL_GRACE_MS: integer(0, 600_000)
      .default(5000)
      .meta(about("after a cancel, timeout or shutdown, how long a task may take to stop before its thread is terminated")),
    // A list: its flag may be given more than once (the values are joined with commas).
    SPOOL_TASKS: z
      .string()
      .default("")
      .meta({ ...about("handler modules or folders of them, comma-separated"), list: true }),
    SPOOL_QUEUES: z
      .string()
      .default("")
      .refine((value) => splitList(value).every((name) => queueNamePattern.test(name)), {
        message: "each queue name must be 1 to 64 letters, digits, '.', '_' or '-'",
      })
      .meta({ ...about("the queues this replica claims tasks from, comma-separated (default: all)"), list: true }),
    SPOOL_PRIORITY_AGING_MS: integer(1000, 2 ** 31 - 1)
      .default(60_000)
      .meta(about("a task waiting this long past its run_at is aged: a tenth of each claim goes to aged tasks, oldest first")),
    SPOOL_DEMO_KINDS: z
      .enum(["auto", "true", "false"])
      .default("auto")
      .meta(about("load the built-in demo.* kinds; auto: only while auth is off (they would be an open CPU and disk sink)")),
    SPOOL_POLL_INTERVAL_MS: integer(50, 600_000)
      .default(2000)
      .meta(about("fallback poll for due tasks, should a wake-up notification be missed")),
    SPOOL_WORKER_MAX_HEAP_MB: integer(16, 65_536).default(1024).meta(about("heap limit of each worker thread")),
    SPOOL_DB_POOL_SIZE: integer(7, 1000).default(16).meta(about("Postgres connections of this replica, all told (at least 7)")),
    SPOOL_PREFETCH: integer(0, 10_000)
      .default(500)
      .meta(about("most tasks claimed beyond the free threads (sized automatically up to this)")),
    SPOOL_LEASE_RENEW_MS: integer(50, 600_000)
      .default(2000)
      .meta(about("how often this replica renews its lease on the tasks it runs")),
    SPOOL_LEASE_TTL_MS: integer(100, 3_600_000)
      .default(10_000)
      .meta(about("how long a lease lasts unrenewed (at least twice the renewal interval)")),
    SPOOL_MAX_STREAMS: integer(1, 1_000_000).default(1000).meta(about("most StreamLogs and WatchTask calls served at once")),
    SPOOL_LOG_BYTES_PER_ATTEMPT: integer(64 * 1024, 2 ** 31 - 1)
      .default(64 * 1024 * 1024)
      .meta(about("log text one attempt may store; beyond it, lines are dropped and counted")),
    SPOOL_RETENTION_MS: integer(0, 10 * 365 * 24 * 3600_000)
      .default(7 * 24 * 3600_000)
      .meta(about("how long ended tasks and their logs are kept, in queues that set no retention of their own; 0: kept for good")),
    SPOOL_MAX_CONCURRENT_STREAMS: integer(1, 1_000_000)
      .default(defaultTransportLimits.maxConcurrentStreams)
      .meta(about("calls one connection may have open at once")),
    SPOOL_MAX_CONNECTION_IDLE_MS: integer(100, 86_400_000)
      .default(defaultTransportLimits.maxConnectionIdleMs)
      .meta(about("a connection with no call open for this long is closed")),
    SPOOL_MAX_CONNECTION_AGE_MS: integer(100, 86_400_000)
      .default(defaultTransportLimits.maxConnectionAgeMs)
      .meta(about("every connection is sent GOAWAY after this long (+-10%)")),
    SPOOL_MAX_CONNECTION_AGE_GRACE_MS: integer(0, 86_400_000)
      .default(defaultTransportLimits.maxConnectionAgeGraceMs)
      .meta(about("after that GOAWAY, how long open calls may go on")),
    SPOOL_AUTH: z
      .enum(authModes)
      .default("auto")
      .meta(about("auto: auth is on when an identity source is set, off on loopback without one; none: off anywhere (loudly)")),
    SPOOL_AUTH_TOKENS_FILE: z
      .string()
      .min(1)
      .optional()
      .meta(about("JSON list of static bearer tokens (their SHA-256) with subject, tenant and roles; re-read when it changes")),
    SPOOL_AUTH_JWKS: z
      .string()
      .min(1)
      .superRefine((jwks, ctx) => {
        if (!isJwksUrl(jwks)) return;
        let url: URL;
        try {
          url = new URL(jwks);
        } catch {
          return ctx.addIssue({ code: "custom", message: "is not a valid URL" });
        }
        if (url.protocol === "http:" && !isLoopback(url.hostname)) {
          ctx.addIssue({ code: "custom", message: "must be https (plain http only on a loopback host)" });
        }
      })
      .optional()
      .meta(about("JWKS that signs bearer JWTs: a file (re-read when it changes) or an https URL (cached, refreshed)")),
    SPOOL_AUTH_ISSUER: z.string().min(1).optional().meta(about("the `iss` a JWT must carry (required with SPOOL_AUTH_JWKS)")),
    SPOOL_AUTH_AUDIENCE: z.string().min(1).optional().meta(about("the `aud` a JWT must carry (required with SPOOL_AUTH_JWKS)")),
    SPOOL_AUTH_TENANT_CLAIM: z.string().min(1).default("tenant").meta(about("the JWT claim that names the caller's tenant")),
    SPOOL_AUTH_ROLES_CLAIM: z
      .string()
      .min(1)
      .default("roles")
      .meta(about("the JWT claim that lists the caller's roles (a list, or names separated by spaces)")),
    SPOOL_TENANT_MAX_PENDING: integer(1, 2 ** 31 - 1)
      .default(1_000_000)
      .meta(about("most pending tasks one tenant may have; past it CreateTask answers RESOURCE_EXHAUSTED")),
    SPOOL_TENANT_CREATE_RATE: integer(0, 10_000_000)
      .default(0)
      .meta(about("tasks one tenant may create per second on this replica (token bucket); 0: no limit")),
    SPOOL_TENANT_CREATE_BURST: integer(1, 10_000_000)
      .optional()
      .meta(about("the bucket's size: tasks a tenant may create at once above the rate (default: one second's worth)")),
    SPOOL_LOG_LEVEL: z.enum(logLevels).default("info").meta(about("level of the service's own log")),
    SPOOL_LOG_FORMAT: z
      .enum(logFormats)
      .default("auto")
      .meta(about("the service's own log: json, pretty (for people), or auto (pretty when stdout is a terminal)")),
    // TLS (api/tls.ts). The files are read at start, where a bad one stops it, and again every
    // SPOOL_TLS_REFRESH_MS: a rotated certificate is served to new connections.
    SPOOL_TLS_CERT: z
      .string()
      .min(1)
      .optional()
      .meta(about("PEM certificate chain the server presents; with SPOOL_TLS_KEY, turns TLS on")),
    SPOOL_TLS_KEY: z.string().min(1).optional().meta(about("PEM private key of SPOOL_TLS_CERT")),
    SPOOL_TLS_CLIENT_CA: z
      .string()
      .min(1)
      .optional()
      .meta(about("PEM CA certificates: every client must present a certificate they issued (mTLS)")),
    SPOOL_TLS_REFRESH_MS: integer(100, 86_400_000)
      .default(10_000)
      .meta(about("how often the TLS files are read again; a change is served to new connections")),
    SPOOL_AUTH_CLIENT_CERTS: z
      .string()
      .min(1)
      .optional()
      .meta(about("JSON file mapping client certificates' SANs to a tenant and roles (needs SPOOL_TLS_CLIENT_CA)")),
  })
  .refine((c) => c.SPOOL_AUTH_JWKS === undefined || c.SPOOL_AUTH_ISSUER !== undefined, {
    path: ["SPOOL_AUTH_ISSUER"],
    message: "is required with SPOOL_AUTH_JWKS: a JWT from any issuer using those keys would pass",
  })
  .refine((c) => c.SPOOL_AUTH_JWKS === undefined || c.SPOOL_AUTH_AUDIENCE !== undefined, {
    path: ["SPOOL_AUTH_AUDIENCE"],
    message: "is required with SPOOL_AUTH_JWKS: a JWT meant for another service would pass",
  })
  .refine((c) => c.SPOOL_LEASE_TTL_MS >= 2 * c.SPOOL_LEASE_RENEW_MS, {
    path: ["SPOOL_LEASE_TTL_MS"],
    message: "must be at least twice SPOOL_LEASE_RENEW_MS, so that one late renewal does not lose the lease",
  })
  .superRefine((c, ctx) => {
    // Each problem names the variable that cannot be used as given, and what it needs.
    const needs = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
    if (c.SPOOL_TLS_KEY !== undefined && c.SPOOL_TLS_CERT === undefined) {
      needs("SPOOL_TLS_KEY", "is set without SPOOL_TLS_CERT: give both, the certificate and its key, to turn TLS on");
    }
    if (c.SPOOL_TLS_CERT !== undefined && c.SPOOL_TLS_KEY === undefined) {
      needs("SPOOL_TLS_CERT", "is set without SPOOL_TLS_KEY: give both, the certificate and its key, to turn TLS on");
    }
    if (c.SPOOL_TLS_CLIENT_CA !== undefined && c.SPOOL_TLS_CERT === undefined) {
      needs("SPOOL_TLS_CLIENT_CA", "needs SPOOL_TLS_CERT and SPOOL_TLS_KEY: client certificates are asked for in a TLS handshake");
    }
    if (c.SPOOL_AUTH_CLIENT_CERTS !== undefined && c.SPOOL_TLS_CLIENT_CA === undefined) {
      needs("SPOOL_AUTH_CLIENT_CERTS", "needs SPOOL_TLS_CLIENT_CA: a client certificate is an identity only once a CA has verified it");
    }
  });

/** The environment variables configSchema reads, in its order. */
export type ConfigVariable = keyof typeof configSchema.shape;
export const configVariables = Object.keys(configSchema.shape) as ConfigVariable[];

export interface Config {
  /** Postgres to use; undefined starts the embedded one. */
  databaseUrl: string | undefined;
  host: string;
  /** HTTP port for /metrics and the probes; 0: off. */
  httpPort: number;
  /** How often the queue gauges are measured (once for the cluster). */
  queueFiguresMs: number;
  /** Trace viewer address with {traceId}, for the dashboard's links. */
  traceUrl: string | undefined;
  /** How often the counts of ended attempts are added to spool.task_activity (GetActivity). */
  activityFlushMs: number;
  /** 0 picks a free port (logged at start). */
  port: number;
  /** Where the embedded Postgres keeps its data. */
  dataDir: string;
  workers: number;
  cancelGraceMs: number;
  /** Handler modules or directories, absolute. */
  taskModules: string[];
  /** The queues this replica claims from; undefined: all. */
  queues: string[] | undefined;
  /** Priority aging: how long a task waits past its run_at before it is aged. */
  priorityAgingMs: number;
  /** Whether the demo.* kinds load; undefined: only while auth is off. */
  demoKinds: boolean | undefined;
  /** Per-tenant limits on creating tasks (quotas/tenant-quotas.ts). */
  quotas: TenantQuotas;
  pollIntervalMs: number;
  workerMaxHeapMb: number;
  dbPoolSize: number;
  /** Most tasks claimed beyond the free threads (sized automatically up to this). */
  prefetch: number;
  /** How often this replica renews its lease, and how long a lease lasts unrenewed. */
  leaseRenewMs: number;
  leaseTtlMs: number;
  /** The level of the process's logger (main.ts). */
  logLevel: LogLevel;
  /** json, pretty, or auto: pretty when stdout is a terminal (logger.ts). */
  logFormat: LogFormat;
  /** Most StreamLogs and WatchTask calls this replica serves at once. */
  maxStreams: number;
  /** Log text one attempt may store; beyond it lines are dropped and counted. */
  logBytesPerAttempt: number;
  /** How long ended tasks are kept in queues without a retention of their own, in ms; 0: for good. */
  retentionMs: number;
  /** Per-connection limits of the gRPC server (streams, idle time, age). */
  transport: TransportLimits;
  /** Identity sources, and whether auth may be off (auth/auth-mode.ts). */
  auth: AuthSettings;
  /** TLS on the gRPC port, and mTLS when it has a client CA (api/tls.ts); undefined: plaintext. */
  tls: TlsConfig | undefined;
}

/**
 * Reads the configuration from these variables. `nameOf` says how a problem names the
 * setting (spool-server names the flag when one set it); by default, the variable.
 */
/** The items of a comma-separated list, trimmed, without empty ones. */
function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv, nameOf: (variable: string) => string = (variable) => variable): Config {
  const parsed = configSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${nameOf(issue.path.map(String).join("."))}: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  return {
    databaseUrl: c.DATABASE_URL,
    host: c.SPOOL_HOST,
    port: c.SPOOL_PORT,
    httpPort: c.SPOOL_HTTP_PORT,
    queueFiguresMs: c.SPOOL_QUEUE_FIGURES_MS,
    traceUrl: c.SPOOL_TRACE_URL,
    activityFlushMs: c.SPOOL_ACTIVITY_FLUSH_MS,
    dataDir: resolve(c.SPOOL_DATA_DIR),
    workers: c.SPOOL_WORKERS,
    cancelGraceMs: c.SPOOL_CANCEL_GRACE_MS,
    taskModules: splitList(c.SPOOL_TASKS).map((s) => resolve(s)),
    queues: c.SPOOL_QUEUES === "" ? undefined : [...new Set(splitList(c.SPOOL_QUEUES))],
    priorityAgingMs: c.SPOOL_PRIORITY_AGING_MS,
    demoKinds: c.SPOOL_DEMO_KINDS === "auto" ? undefined : c.SPOOL_DEMO_KINDS === "true",
    quotas: {
      maxPending: c.SPOOL_TENANT_MAX_PENDING,
      createRate: c.SPOOL_TENANT_CREATE_RATE,
      createBurst: c.SPOOL_TENANT_CREATE_BURST ?? Math.max(1, c.SPOOL_TENANT_CREATE_RATE),
    },
    pollIntervalMs: c.SPOOL_POLL_INTERVAL_MS,
    workerMaxHeapMb: c.SPOOL_WORKER_MAX_HEAP_MB,
    dbPoolSize: c.SPOOL_DB_POOL_SIZE,
    prefetch: c.SPOOL_PREFETCH,
    leaseRenewMs: c.SPOOL_LEASE_RENEW_MS,
    leaseTtlMs: c.SPOOL_LEASE_TTL_MS,
    transport: {
      maxConcurrentStreams: c.SPOOL_MAX_CONCURRENT_STREAMS,
      maxConnectionIdleMs: c.SPOOL_MAX_CONNECTION_IDLE_MS,
      maxConnectionAgeMs: c.SPOOL_MAX_CONNECTION_AGE_MS,
      maxConnectionAgeGraceMs: c.SPOOL_MAX_CONNECTION_AGE_GRACE_MS,
    },
    auth: {
      mode: c.SPOOL_AUTH,
      tokensFile: c.SPOOL_AUTH_TOKENS_FILE === undefined ? undefined : resolve(c.SPOOL_AUTH_TOKENS_FILE),
      clientCertsFile: c.SPOOL_AUTH_CLIENT_CERTS === undefined ? undefined : resolve(c.SPOOL_AUTH_CLIENT_CERTS),
      jwt:
        c.SPOOL_AUTH_JWKS === undefined
          ? undefined
          : {
              jwks: isJwksUrl(c.SPOOL_AUTH_JWKS) ? c.SPOOL_AUTH_JWKS : resolve(c.SPOOL_AUTH_JWKS),
              issuer: c.SPOOL_AUTH_ISSUER!,
              audience: c.SPOOL_AUTH_AUDIENCE!,
              tenantClaim: c.SPOOL_AUTH_TENANT_CLAIM,
              rolesClaim: c.SPOOL_AUTH_ROLES_CLAIM,
            },
    },
    logLevel: c.SPOOL_LOG_LEVEL,
    logFormat: c.SPOOL_LOG_FORMAT,
    logBytesPerAttempt: c.SPOOL_LOG_BYTES_PER_ATTEMPT,
    retentionMs: c.SPOOL_RETENTION_MS,
    maxStreams: c.SPOOL_MAX_STREAMS,
    tls:
      c.SPOOL_TLS_CERT === undefined || c.SPOOL_TLS_KEY === undefined
        ? undefined
        : {
            certFile: resolve(c.SPOOL_TLS_CERT),
            keyFile: resolve(c.SPOOL_TLS_KEY),
            clientCaFile: c.SPOOL_TLS_CLIENT_CA === undefined ? undefined : resolve(c.SPOOL_TLS_CLIENT_CA),
            refreshMs: c.SPOOL_TLS_REFRESH_MS,
          },
  };
}

// spool-server's flags are the configuration's variables, derived from its schema: each
// variable has its flag, a flag wins over its variable, and a bad value or a bad command line
// is refused with a message naming the flag.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { expect, it } from "vitest";
import { flagOf, parseCommandLine, UsageError, type Command } from "./command-line.js";
import { configVariables, loadConfig } from "./config.js";

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const command: Command = parseCommandLine(argv, env);
  if (command.kind !== "run") throw new Error(`expected a run, got ${command.kind}`);
  return command.config;
}

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

it("names each variable's flag: SPOOL_ dropped, lower case, dashes", () => {
  expect(flagOf("SPOOL_PORT")).toBe("--port");
  expect(flagOf("DATABASE_URL")).toBe("--database-url");
  expect(flagOf("SPOOL_LOG_BYTES_PER_ATTEMPT")).toBe("--log-bytes-per-attempt");
  expect(new Set(configVariables.map(flagOf)).size).toBe(configVariables.length);
});

it("reads the same configuration from every flag as from its variable", () => {
  const values: Record<string, string> = {
    DATABASE_URL: "postgres://u@db:5432/app",
    SPOOL_HOST: "0.0.0.0",
    SPOOL_PORT: "7001",
    SPOOL_HTTP_PORT: "9090",
    SPOOL_QUEUE_FIGURES_MS: "5000",
    SPOOL_ACTIVITY_FLUSH_MS: "1000",
    SPOOL_TRACE_URL: "https://jaeger.example/trace/{traceId}",
    SPOOL_DATA_DIR: "/var/lib/spool",
    SPOOL_WORKERS: "3",
    SPOOL_CANCEL_GRACE_MS: "1234",
    SPOOL_TASKS: "./tasks",
    SPOOL_QUEUES: "mail,alerts",
    SPOOL_PRIORITY_AGING_MS: "30000",
    SPOOL_POLL_INTERVAL_MS: "500",
    SPOOL_WORKER_MAX_HEAP_MB: "256",
    SPOOL_DB_POOL_SIZE: "9",
    SPOOL_PREFETCH: "7",
    SPOOL_LEASE_RENEW_MS: "1000",
    SPOOL_LEASE_TTL_MS: "4000",
    SPOOL_MAX_STREAMS: "12",
    SPOOL_LOG_BYTES_PER_ATTEMPT: "100000",
    SPOOL_RETENTION_MS: "86400000",
    SPOOL_MAX_CONCURRENT_STREAMS: "50",
    SPOOL_MAX_CONNECTION_IDLE_MS: "60000",
    SPOOL_MAX_CONNECTION_AGE_MS: "600000",
    SPOOL_MAX_CONNECTION_AGE_GRACE_MS: "30000",
    SPOOL_LOG_LEVEL: "debug",
    SPOOL_LOG_FORMAT: "pretty",
    SPOOL_AUTH: "auto",
    SPOOL_AUTH_TOKENS_FILE: "/etc/spool/tokens.json",
    SPOOL_AUTH_JWKS: "https://issuer.example/.well-known/jwks.json",
    SPOOL_AUTH_ISSUER: "https://issuer.example/",
    SPOOL_AUTH_AUDIENCE: "spool",
    SPOOL_AUTH_TENANT_CLAIM: "https://example.com/tenant",
    SPOOL_AUTH_ROLES_CLAIM: "scope",
    SPOOL_TLS_CERT: "/etc/spool/tls/server.pem",
    SPOOL_TLS_KEY: "/etc/spool/tls/server.key",
    SPOOL_TLS_CLIENT_CA: "/etc/spool/tls/clients-ca.pem",
    SPOOL_TLS_REFRESH_MS: "60000",
    SPOOL_AUTH_CLIENT_CERTS: "/etc/spool/client-certs.json",
    SPOOL_DEMO_KINDS: "true",
    SPOOL_TENANT_MAX_PENDING: "5000",
    SPOOL_TENANT_CREATE_RATE: "100",
    SPOOL_TENANT_CREATE_BURST: "250",
  };
  // Every variable is covered here, so a new one without a case fails this test.
  expect(Object.keys(values).sort()).toEqual([...configVariables].sort());
  const fromFlags = config(configVariables.flatMap((variable) => [flagOf(variable), values[variable]!]));
  expect(fromFlags).toEqual(loadConfig(values));
  // And they are not the defaults, so each flag was really read.
  const defaults = loadConfig({});
  for (const key of Object.keys(defaults) as (keyof typeof defaults)[]) expect(fromFlags[key], key).not.toEqual(defaults[key]);
});

it("lets a flag win over its variable and keeps the environment for the rest", () => {
  const result = config(["--port", "0", "--log-level=warn"], { SPOOL_PORT: "7001", SPOOL_LOG_LEVEL: "debug", SPOOL_WORKERS: "5" });
  expect(result).toMatchObject({ port: 0, logLevel: "warn", workers: 5 });
  expect(config([], {}).workers).toBe(availableParallelism());
});

it("joins a repeated --tasks, and refuses any other flag given twice", () => {
  expect(config(["--tasks", "a", "--tasks", "b,c"]).taskModules).toEqual([resolve("a"), resolve("b"), resolve("c")]);
  expect(usageError(["--port", "1", "--port", "2"])).toBe("--port is given 2 times; give it once");
});

it("names the flag, and its variable, in a bad value's message", () => {
  expect(() => config(["--port", "70000"], { SPOOL_WORKERS: "0" })).toThrow(
    /^invalid configuration: --port \(SPOOL_PORT\): .*; SPOOL_WORKERS: /,
  );
  expect(() => config(["--database-url", "mysql://x"])).toThrow("--database-url (DATABASE_URL): must be a postgres:// URL");
});

it("turns TLS on with a certificate and its key, and mTLS with a client CA, paths made absolute", () => {
  expect(config([]).tls).toBeUndefined();
  expect(config(["--tls-cert", "tls/cert.pem", "--tls-key", "tls/key.pem"]).tls).toEqual({
    certFile: resolve("tls/cert.pem"),
    keyFile: resolve("tls/key.pem"),
    clientCaFile: undefined,
    refreshMs: 10_000,
  });
  const mutual = config([], { SPOOL_TLS_CERT: "c", SPOOL_TLS_KEY: "k", SPOOL_TLS_CLIENT_CA: "ca", SPOOL_AUTH_CLIENT_CERTS: "ids.json" });
  expect(mutual.tls?.clientCaFile).toBe(resolve("ca"));
  expect(mutual.auth.clientCertsFile).toBe(resolve("ids.json"));
});

it("refuses TLS settings that do not go together, naming the one to fix", () => {
  expect(() => config([], { SPOOL_TLS_KEY: "k" })).toThrow(
    "invalid configuration: SPOOL_TLS_KEY: is set without SPOOL_TLS_CERT: give both, the certificate and its key, to turn TLS on",
  );
  expect(() => config(["--tls-cert", "c"])).toThrow("--tls-cert (SPOOL_TLS_CERT): is set without SPOOL_TLS_KEY");
  expect(() => config([], { SPOOL_TLS_CLIENT_CA: "ca" })).toThrow(
    "invalid configuration: SPOOL_TLS_CLIENT_CA: needs SPOOL_TLS_CERT and SPOOL_TLS_KEY",
  );
  expect(() => config([], { SPOOL_TLS_CERT: "c", SPOOL_TLS_KEY: "k", SPOOL_AUTH_CLIENT_CERTS: "ids.json" })).toThrow(
    "invalid configuration: SPOOL_AUTH_CLIENT_CERTS: needs SPOOL_TLS_CLIENT_CA",
  );
  expect(() => config([], { SPOOL_TLS_CERT: "c", SPOOL_TLS_KEY: "k", SPOOL_TLS_REFRESH_MS: "10" })).toThrow(
    "invalid configuration: SPOOL_TLS_REFRESH_MS: ",
  );
});

it("refuses an unknown flag, a flag without its value, and a stray argument", () => {
  expect(usageError(["--prot", "1"])).toBe("unknown option --prot");
  expect(usageError(["--port"])).toBe("--port needs a value");
  expect(usageError(["--help=yes"])).toBe("--help takes no value");
  expect(usageError(["./tasks"])).toBe("unexpected argument ./tasks (did you mean --tasks ./tasks?)");
});

it("lists every flag in --help with its variable, default and description", () => {
  const command = parseCommandLine(["--help"], { SPOOL_PORT: "not even a number" });
  expect(command.kind).toBe("print");
  const text = command.kind === "print" ? command.text : "";
  for (const variable of configVariables) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(`${flagOf(variable)} <value>`));
    expect(line, variable).toContain(variable);
  }
  expect(text).toMatch(/--port <value> +SPOOL_PORT; default 50051\n +gRPC port; 0 picks a free one/);
  expect(text).toMatch(/--log-level <value> +SPOOL_LOG_LEVEL; default info; one of trace, debug, info, warn, error, fatal, silent\n/);
  expect(text).toMatch(/--tasks <value> +SPOOL_TASKS; may be repeated\n +handler modules/);
  expect(text).toMatch(/--database-url <value> +DATABASE_URL\n +Postgres to use/);
});

it("prints the package's version", () => {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  expect(parseCommandLine(["--version"], {})).toEqual({ kind: "print", text: `${version}\n` });
});

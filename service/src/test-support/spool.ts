// Starts a real Spool replica (gRPC on loopback, worker threads, Postgres) for a test, and a
// client for it.
import { fileURLToPath } from "node:url";
import { SpoolClient } from "@spool/sdk";
import { pino } from "pino";
import { defaultTransportLimits } from "../api/transport-limits.js";
import type { Config } from "../config.js";
import { startSpool, type Spool } from "../spool.js";

export const fixturesDir = fileURLToPath(new URL("./fixtures", import.meta.url));

export function testConfig(databaseUrl: string, overrides: Partial<Config> = {}): Config {
  return {
    databaseUrl,
    host: "127.0.0.1",
    port: 0,
    httpPort: 0,
    queueFiguresMs: 15_000,
    traceUrl: undefined,
    activityFlushMs: 5000,
    dataDir: "/nonexistent",
    workers: 2,
    cancelGraceMs: 500,
    taskModules: [],
    queues: undefined,
    priorityAgingMs: 60_000,
    demoKinds: undefined,
    quotas: { maxPending: 1_000_000, createRate: 0, createBurst: 1 },
    pollIntervalMs: 1000,
    workerMaxHeapMb: 256,
    dbPoolSize: 10,
    prefetch: 500,
    leaseRenewMs: 2000,
    leaseTtlMs: 10_000,
    transport: defaultTransportLimits,
    logLevel: "silent",
    logFormat: "json",
    auth: { mode: "auto", tokensFile: undefined, clientCertsFile: undefined, jwt: undefined },
    logBytesPerAttempt: 64 * 1024 * 1024,
    retentionMs: 7 * 24 * 3600_000,
    maxStreams: 1000,
    tls: undefined,
    ...overrides,
  };
}

export interface TestSpool {
  spool: Spool;
  client: SpoolClient;
  stop(): Promise<void>;
}

export async function startTestSpool(databaseUrl: string, overrides: Partial<Config> = {}): Promise<TestSpool> {
  const config = testConfig(databaseUrl, overrides);
  const spool = await startSpool(config, pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? "silent" }));
  const client = new SpoolClient(`127.0.0.1:${spool.port}`);
  return {
    spool,
    client,
    async stop() {
      client.close();
      await spool.stop();
    },
  };
}

/** Polls until check() returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

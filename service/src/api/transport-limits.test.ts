// The transport limits as an operator sets them (SPOOL_MAX_* variables) and as grpc-js reads
// them. Their effect on real connections is proved in e2e/http2-limits.test.ts.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { defaultTransportLimits, maxMessageBytes, serverOptions } from "./transport-limits.js";

describe("transport limits", () => {
  it("default to defaultTransportLimits, and take SPOOL_MAX_* from the environment", () => {
    expect(loadConfig({}).transport).toEqual(defaultTransportLimits);
    expect(
      loadConfig({
        SPOOL_MAX_CONCURRENT_STREAMS: "250",
        SPOOL_MAX_CONNECTION_IDLE_MS: "1000",
        SPOOL_MAX_CONNECTION_AGE_MS: "2000",
        SPOOL_MAX_CONNECTION_AGE_GRACE_MS: "0",
      }).transport,
    ).toEqual({ maxConcurrentStreams: 250, maxConnectionIdleMs: 1000, maxConnectionAgeMs: 2000, maxConnectionAgeGraceMs: 0 });
  });

  it("refuses a value that would disable a limit, naming the variable", () => {
    expect(() => loadConfig({ SPOOL_MAX_CONCURRENT_STREAMS: "0" })).toThrow(/SPOOL_MAX_CONCURRENT_STREAMS/);
    expect(() => loadConfig({ SPOOL_MAX_CONNECTION_AGE_MS: "-1" })).toThrow(/SPOOL_MAX_CONNECTION_AGE_MS/);
    expect(() => loadConfig({ SPOOL_MAX_CONNECTION_IDLE_MS: "soon" })).toThrow(/SPOOL_MAX_CONNECTION_IDLE_MS/);
  });

  it("become the grpc-js options of the same meaning, with 4 MiB messages both ways", () => {
    const limits = { maxConcurrentStreams: 7, maxConnectionIdleMs: 11, maxConnectionAgeMs: 13, maxConnectionAgeGraceMs: 17 };
    expect(serverOptions(limits)).toMatchObject({
      "grpc.max_concurrent_streams": 7,
      "grpc.max_connection_idle_ms": 11,
      "grpc.max_connection_age_ms": 13,
      "grpc.max_connection_age_grace_ms": 17,
      "grpc.max_receive_message_length": 4 * 1024 * 1024,
      "grpc.max_send_message_length": 4 * 1024 * 1024,
    });
    expect(maxMessageBytes).toBe(4 * 1024 * 1024);
  });
});

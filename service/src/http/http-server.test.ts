// The HTTP port's own rules: the probes follow the replica's state, unknown paths and methods
// are refused, and a slow or oversized request cannot hold the port.
import { connect } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer, type HttpServer } from "./http-server.js";

let server: HttpServer;
let ready = true;
let base: string;

beforeAll(async () => {
  server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    ready: () => ready,
    metrics: (_request, response) => response.end("metric 1\n"),
    log: pino({ level: "silent" }),
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

describe("the HTTP port", () => {
  it("says ready while the replica serves, and 503 otherwise; alive either way", async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    ready = false;
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: "not ready" });
    const alive = await fetch(`${base}/healthz`);
    expect(alive.status).toBe(200);
    expect(((await alive.json()) as { eventLoopDelayMsP99: number }).eventLoopDelayMsP99).toBeGreaterThanOrEqual(0);
    ready = true;
  });

  it("serves the metrics route, ignores a query string, and refuses other paths and methods", async () => {
    expect(await (await fetch(`${base}/metrics?x=1`)).text()).toBe("metric 1\n");
    const missing = await fetch(`${base}/${"x".repeat(5000)}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error.length).toBeLessThan(200);
    const posted = await fetch(`${base}/readyz`, { method: "POST", body: "x" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${base}/healthz`, { method: "HEAD" })).status).toBe(200);
  });

  it("refuses headers over 16 KiB and goes on serving", async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(server.port, "127.0.0.1", () => {
        socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
      });
      let data = "";
      socket.on("data", (chunk) => (data += chunk.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

it("names SPOOL_HTTP_PORT when its port is taken", async () => {
  await expect(
    startHttpServer({ host: "127.0.0.1", port: server.port, ready: () => true, metrics: undefined, log: pino({ level: "silent" }) }),
  ).rejects.toThrow(new RegExp(`^SPOOL_HTTP_PORT: cannot listen on 127\\.0\\.0\\.1:${server.port} \\(.*EADDRINUSE.*\\); choose another port, or 0 to turn HTTP off$`));
});

// The HTTP port (SPOOL_HTTP_PORT, default 8080; 0 turns it off), beside gRPC on the same host:
//   GET /metrics   Prometheus text, from the OpenTelemetry meters (telemetry/meter-provider.ts)
//   GET /healthz   liveness: 200 while the event loop answers (a stuck loop answers nothing,
//                  and the probe times out); the loop's recent delay is in the body
//   GET /readyz    readiness: 200 while the replica serves (the database answers and it is
//                  not draining), else 503
//   GET /          the dashboard (dashboard-assets.ts), and its files under /assets/
//   POST /spool.v1.<Service>/<Method>
//                  the Connect gateway (connect-gateway.ts): the gRPC API for browsers and curl
// Anything else is 404, a method other than GET or HEAD on the fixed routes 405. Headers are at
// most 16 KiB, and slow clients are cut off (headersTimeout, requestTimeout), so the port
// cannot be held open; bodies are read only by the gateway, up to its message limit.
//
// TLS: with the gRPC port's certificate (api/tls.ts), the port serves HTTPS, rotated with it.
//
// DNS rebinding: a port bound to loopback answers only requests whose Host is a loopback
// name (localhost, 127.x, [::1]). Otherwise a web page the operator visits could point its own
// host name at 127.0.0.1 and drive the dashboard's API, which is open when auth is off there.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Logger } from "pino";
import { isLoopback } from "../auth/auth-mode.js";
import type { ConnectGateway } from "./connect-gateway.js";
import type { DashboardAssets } from "./dashboard-assets.js";
import type { ServerTls } from "../api/tls.js";

export type Route = (request: IncomingMessage, response: ServerResponse) => void;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Whether the replica serves (readiness). */
  ready: () => boolean;
  /** Answers GET /metrics; undefined: 404. */
  metrics: Route | undefined;
  /** Serves `/spool.v1.*`; undefined: 404. */
  gateway?: ConnectGateway;
  /** Serves `/` and `/assets/*`; undefined: 404. */
  dashboard?: DashboardAssets;
  /**
   * TLS from the gRPC port's certificate files (api/tls.ts), reloaded as they change; no
   * client certificate is asked. Undefined: plain HTTP.
   */
  tls?: Pick<ServerTls, "identity" | "watchIdentity">;
  log: Logger;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const resetDelay = setInterval(() => delay.reset(), 10_000);
  resetDelay.unref();

  const routes = new Map<string, Route>([
    ["/healthz", (_request, response) => json(response, 200, { status: "alive", eventLoopDelayMsP99: round(delay.percentile(99) / 1e6) })],
    ["/readyz", (_request, response) => (options.ready() ? json(response, 200, { status: "ready" }) : json(response, 503, { status: "not ready" }))],
  ]);
  if (options.metrics) routes.set("/metrics", options.metrics);

  const loopbackOnly = isLoopback(options.host);
  const limits = { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 };
  const tls = options.tls;
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    if (loopbackOnly && request.headers.host !== undefined && !isLoopback(hostName(request.headers.host))) {
      return json(response, 403, { error: `Host ${String(request.headers.host).slice(0, 100)} is refused: this port listens on loopback only, so it answers loopback names (localhost, 127.0.0.1, [::1])` });
    }
    const path = (request.url ?? "/").split("?")[0]!;
    if (options.gateway?.serves(path)) return void options.gateway.handle(request, response);
    const route = routes.get(path);
    if (!route) {
      if (options.dashboard?.serve(path, request, response)) return;
      return json(response, 404, { error: `no route ${path.slice(0, 100)}` });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("Allow", "GET, HEAD");
      return json(response, 405, { error: `${request.method} is not allowed here` });
    }
    try {
      route(request, response);
    } catch (error) {
      options.log.error({ err: error, path }, "HTTP route failed");
      if (!response.headersSent) json(response, 500, { error: "internal error" });
      else response.destroy();
    }
  };
  const server: Server = tls
    ? createTlsServer({ ...limits, cert: tls.identity.certificate, key: tls.identity.privateKey }, handle)
    : createServer(limits, handle);
  const unwatch = tls?.watchIdentity((identity) => (server as ReturnType<typeof createTlsServer>).setSecureContext({ cert: identity.certificate, key: identity.privateKey }));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const refused = (error: Error) => {
      unwatch?.();
      clearInterval(resetDelay);
      delay.disable();
      reject(new Error(`SPOOL_HTTP_PORT: cannot listen on ${options.host}:${options.port} (${error.message}); choose another port, or 0 to turn HTTP off`));
    };
    server.once("error", refused);
    server.listen(options.port, options.host, () => {
      server.off("error", refused);
      resolve();
    });
  });
  server.on("error", (error) => options.log.error({ err: error }, "HTTP server error"));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      unwatch?.();
      clearInterval(resetDelay);
      delay.disable();
      server.closeIdleConnections();
      // Followed streams (the dashboard's logs) would hold the close forever: they get a
      // moment to end, then are cut; the page resumes them against another replica.
      const cut = setTimeout(() => server.closeAllConnections(), closeGraceMs);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}

/** How long close() lets open requests (streams) run before cutting them. */
const closeGraceMs = 1_000;

/** The host part of a Host header: without its port, brackets kept off. */
function hostName(header: string | undefined): string {
  if (!header) return "";
  const bracketed = /^\[([^\]]*)\]/.exec(header);
  if (bracketed) return bracketed[1]!;
  return header.replace(/:\d*$/, "");
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  response.end(text);
}

const round = (n: number) => Math.round(n * 100) / 100;

// The limits of the gRPC server's HTTP/2 transport: how many calls one connection may hold
// open, how long a connection may live and sit idle, how often a client may ping, how large a
// message may be. Without them one client could hold unbounded memory: a probe that opened
// 400,000 streams on one connection (HEADERS sent, request never finished) took 2.7 GB, and
// connections holding idle streams were kept forever.
//
// Guarantees, per connection:
// - At most `maxConcurrentStreams` calls at once, announced in the server's SETTINGS. Streams
//   past it that a client opens before acknowledging them are refused (REFUSED_STREAM; Node
//   closes the connection after 1000 refused); a client that opens more once it acknowledged
//   them loses the connection (nghttp2 treats it as a protocol error).
// - Closed after `maxConnectionIdleMs` without a call, and sent GOAWAY after
//   `maxConnectionAgeMs` (+-10% jitter) in any case, so new calls go to a new connection; open
//   calls then get `maxConnectionAgeGraceMs` before the connection is cut (followed
//   StreamLogs/WatchTask streams get UNAVAILABLE, and the SDK resumes them where they were).
//   Once the server has finished a connection, a client that does not close its side within
//   that grace period has its socket destroyed.
// - A client that pings more often than `minPingIntervalMs` while the server sends it nothing
//   gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" at the third such ping, and is cut.
// - Messages over 4 MiB are refused both ways with RESOURCE_EXHAUSTED.
//
// Memory: a half-open stream costs about 6 KB (measured: 100,000 took 625 MB), so the stream
// cap bounds those to under a megabyte per connection; but a stream may also hold a partly
// received message of up to 4 MiB, so the worst case is `maxConcurrentStreams` x 4 MiB per
// connection. Nothing here caps the number of connections.
import { constants as http2, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { Socket } from "node:net";
import { Server, type ChannelOptions, type ServerCredentials } from "@grpc/grpc-js";

/** The limits an operator may need to change (SPOOL_MAX_* in config.ts and the README). */
export interface TransportLimits {
  /** Calls one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** A connection without an open call for this long is closed (GOAWAY, then close). */
  maxConnectionIdleMs: number;
  /** A connection is sent GOAWAY after this long (+-10% jitter), open calls or not. */
  maxConnectionAgeMs: number;
  /** After that GOAWAY, how long open calls may go on before the connection is cut. */
  maxConnectionAgeGraceMs: number;
}

export const defaultTransportLimits: TransportLimits = {
  // One SDK client sends all its calls over one connection, long followed streams included
  // (waitForTask and run() hold a WatchTask each): beyond this many, its further calls wait
  // for a slot. 100 is HTTP/2's recommended minimum, and bounds a connection's half-finished
  // max-size requests to 400 MB.
  maxConcurrentStreams: 100,
  // Idle connections cost a session each; a client that went quiet reconnects in a few ms.
  maxConnectionIdleMs: 5 * 60_000,
  // Connections are recycled: a client cannot hold one forever, and clients spread over new
  // replicas behind a load balancer.
  maxConnectionAgeMs: 30 * 60_000,
  // Twice the SDK's default unary deadline (30 s): every ordinary call ends within it.
  maxConnectionAgeGraceMs: 60_000,
};

/** Largest message received or sent: 4 MiB, gRPC's default receive limit, stated. */
export const maxMessageBytes = 4 * 1024 * 1024;

/** gRPC keepalive enforcement (gRFC A8), which grpc-js 1.14's server does not implement. */
export const pingPolicy = {
  /**
   * A client's ping sooner than this after its previous one, with no call data sent to it in
   * between, is a strike. The SDK pings every 30 s while it has calls open.
   */
  minPingIntervalMs: 10_000,
  /** Strikes tolerated; the next one gets GOAWAY (gRPC's default: 2). */
  maxPingStrikes: 2,
};

/** The grpc-js server options for these limits. */
export function serverOptions(limits: TransportLimits): ChannelOptions {
  return {
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc.max_connection_idle_ms": limits.maxConnectionIdleMs,
    "grpc.max_connection_age_ms": limits.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": limits.maxConnectionAgeGraceMs,
    // Followers of long tasks keep streams open for a long time: ping every connection each
    // minute, so that middleboxes do not drop it silently, and close it if the client has not
    // answered within 20 s (a dead peer's calls and memory are released).
    // (grpc.keepalive_permit_without_calls, set here before, is a client option: grpc-js's
    // server pings every connection, with calls or not.)
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    // grpc-js refuses larger requests with RESOURCE_EXHAUSTED as soon as their length prefix
    // arrives, before buffering them.
    "grpc.max_receive_message_length": maxMessageBytes,
    // grpc-js's default is unlimited. A grpc-js client refuses a response over 4 MiB anyway
    // (its default receive limit): stop before serializing and sending it.
    "grpc.max_send_message_length": maxMessageBytes,
    // grpc-node.max_session_memory is left at grpc-js's default (unlimited): it counts only
    // nghttp2's own buffers, which the stream cap already bounds, not the JS objects and
    // message buffers that made up the memory measured; and grpc-js found Node's behaviour
    // poor once it is reached.
  };
}

/** A grpc-js Server with these limits, the ping policy and the close deadline in force. */
export function limitedServer(limits: TransportLimits = defaultTransportLimits): Server {
  const server = new Server(serverOptions(limits));
  watchConnections(server, limits);
  return server;
}

/**
 * Watches every connection and HTTP/2 session of the server. grpc-js gives no public access
 * to them, so this wraps its (private) createHttp2Server, which every bind goes through; it
 * fails at start, not silently, should a grpc-js upgrade remove it (e2e/http2-limits.test.ts
 * proves that both watches work).
 */
function watchConnections(server: Server, limits: TransportLimits): void {
  const internals = server as unknown as { createHttp2Server?: (credentials: ServerCredentials) => Http2Server };
  const create = internals.createHttp2Server;
  if (typeof create !== "function") {
    throw new Error("@grpc/grpc-js Server has no createHttp2Server: the limits of api/transport-limits.ts cannot be installed");
  }
  internals.createHttp2Server = function (this: Server, credentials: ServerCredentials) {
    const http2Server = create.call(this, credentials);
    http2Server.on("connection", (socket: Socket) => destroyIfNotClosed(socket, limits.maxConnectionAgeGraceMs));
    http2Server.on("session", (session: ServerHttp2Session) => watchPings(session));
    return http2Server;
  };
}

/**
 * A connection closed gracefully (at max idle, or at max age with no call open) only gets a
 * GOAWAY and a FIN: Node then waits for the client's FIN, and a client that never reads nor
 * closes would keep the socket forever. Once the server has finished writing, the client gets
 * the grace period to close its side, then the socket is destroyed.
 */
function destroyIfNotClosed(socket: Socket, graceMs: number): void {
  socket.once("finish", () => {
    const timer = setTimeout(() => socket.destroy(), graceMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });
}

/**
 * Most bytes the server writes between two pings without sending call data: the ACK of the
 * previous ping (17 bytes) and one more control frame (its own keepalive PING 17, a SETTINGS
 * ACK 9, a WINDOW_UPDATE 13). A response's HEADERS and DATA frames take at least 24 more.
 */
const controlFrameBytes = 34;

function watchPings(session: ServerHttp2Session): void {
  let lastPingAt = Number.NEGATIVE_INFINITY;
  let writtenAtLastPing = 0;
  let strikes = 0;
  session.on("ping", () => {
    if (session.destroyed) return;
    const now = performance.now();
    const written = session.socket?.bytesWritten ?? 0;
    // As in gRPC's own servers, pings are expected while data flows to the client (gRPC
    // clients probe the bandwidth with them), so sending call data clears the strikes.
    if (written - writtenAtLastPing > controlFrameBytes) strikes = 0;
    else if (now - lastPingAt < pingPolicy.minPingIntervalMs) strikes++;
    lastPingAt = now;
    writtenAtLastPing = written;
    if (strikes > pingPolicy.maxPingStrikes) {
      // What gRPC clients recognise (grpc-js doubles its keepalive interval on it). The
      // connection is cut at once, open calls with it: gRPC's servers do the same.
      // (destroy sends a second GOAWAY, with this code and no debug data; Node passes the
      // error to the http2 server's 'sessionError' event, which nothing needs to handle.)
      session.goaway(http2.NGHTTP2_ENHANCE_YOUR_CALM, session.state.lastProcStreamID ?? 0, Buffer.from("too_many_pings"));
      session.destroy(new Error("too many pings"), http2.NGHTTP2_ENHANCE_YOUR_CALM);
    }
  });
}

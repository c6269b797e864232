// The limits of the gRPC server's HTTP/2 transport: how many calls one connection may hold
// open, how long a connection may live and sit idle, how large a message may be. Without them one client could hold unbounded memory: a probe that opened
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
// - Messages over 4 MiB are refused both ways with RESOURCE_EXHAUSTED.
//
// Memory: a half-open stream costs about 6 KB (measured: 100,000 took 625 MB), so the stream
// cap bounds those to under a megabyte per connection; but a stream may also hold a partly
// received message of up to 4 MiB, so the worst case is `maxConcurrentStreams` x 4 MiB per
// connection. Nothing here caps the number of connections.
import { Server, type ChannelOptions } from "@grpc/grpc-js";

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

/** A grpc-js Server with these limits. */
export function limitedServer(limits: TransportLimits = defaultTransportLimits): Server {
  return new Server(serverOptions(limits));
}

// The browser's API, and curl's: every method of Spool's four services over the Connect
// protocol (and gRPC-Web) on the HTTP port, as `POST /spool.v1.TaskService/GetTask` with JSON
// or binary protobuf. The dashboard calls it; so may any Connect client, `buf curl --protocol
// connect`, or curl with `content-type: application/json`.
//
// How: each call is forwarded, as protobuf bytes, to this process's own gRPC server over a
// private Unix socket, with the caller's authorization and trace headers. So a browser call
// runs through exactly the handlers and checks a gRPC call runs through: authentication,
// roles and tenants, validation and its field-naming statuses, stream slots, server spans.
// There is one implementation of each method, and nothing here decides anything but the
// protocol (docs/dashboard.md says why this and not a second set of handlers).
//
// Parameters and guarantees:
// - Requests and replies are capped at the gRPC port's message size (4 MiB) both ways.
// - A unary call without a Connect timeout gets `unaryDeadlineMs`; a client's timeout is
//   honoured up to it. Streams (StreamLogs, WatchTask) run until either side ends them: a
//   browser that goes away cancels its gRPC call at once (the request's abort signal).
// - A gRPC status comes back as the same Connect code with the same message, and the
//   google.rpc details (BadRequest field violations and the like) as Connect error details.
// - Calls are spread over a few gRPC connections, each kept under the server's per-connection
//   stream limit (SPOOL_MAX_CONCURRENT_STREAMS): on one connection, the dashboards of a team,
//   each following logs, would wait behind one another. At most `maxConnections`.
// - The socket lives in a directory only this user can open (0700), made at start and
//   removed at close; it is an extra listener of the same gRPC server, so its calls need the
//   same credentials as any other (a token: there is no client certificate on it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AdminService } from "@spool/proto/es/spool/v1/admin_service_pb";
import { QueueService } from "@spool/proto/es/spool/v1/queue_service_pb";
import { ScheduleService } from "@spool/proto/es/spool/v1/schedule_service_pb";
import { TaskService } from "@spool/proto/es/spool/v1/task_service_pb";
import { StatusSchema } from "@spool/proto/es/google/rpc/status_pb";
import { maxMessageBytes } from "../api/transport-limits.js";

/** The services the gateway serves: all of Spool's own (health and reflection stay gRPC-only). */
export const gatewayServices: readonly DescService[] = [TaskService, QueueService, ScheduleService, AdminService];

/** Request headers passed on to the gRPC call: identity and trace context, nothing else. */
const forwardedHeaders = ["authorization", "traceparent", "tracestate", "baggage"];

/** A private Unix socket path for the gRPC server to listen on, and its removal. */
export function privateSocket(): { address: string; remove(): void } {
  const directory = mkdtempSync(join(tmpdir(), "spool-gateway-"));
  return {
    address: `unix:${join(directory, "grpc.sock")}`,
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}

export interface ConnectGateway {
  /** The request handler for `/spool.v1.*` paths. */
  readonly handle: ReturnType<typeof connectNodeAdapter>;
  /** Whether the path is one of the gateway's (a known service's method or not). */
  serves(path: string): boolean;
  close(): void;
}

export function connectGateway(options: {
  grpcAddress: string;
  unaryDeadlineMs: number;
  /** The gRPC server's limit of calls per connection. */
  streamsPerConnection: number;
  /** Most connections to open (default 10). */
  maxConnections?: number;
}): ConnectGateway {
  const pool = new ClientPool(options.grpcAddress, options.streamsPerConnection, options.maxConnections ?? 10);
  const handle = connectNodeAdapter({
    grpc: false,
    readMaxBytes: maxMessageBytes,
    writeMaxBytes: maxMessageBytes,
    maxTimeoutMs: options.unaryDeadlineMs,
    // A misspelt field is named in an INVALID_ARGUMENT rather than silently dropped.
    jsonOptions: { ignoreUnknownFields: false },
    routes: (router) => {
      for (const service of gatewayServices) for (const method of service.methods) route(router, pool, method, options.unaryDeadlineMs);
    },
  });
  const prefixes = gatewayServices.map((service) => `/${service.typeName}/`);
  return {
    handle,
    serves: (path) => prefixes.some((prefix) => path.startsWith(prefix)),
    close: () => pool.close(),
  };
}

/**
 * gRPC clients to one address, each on a connection of its own (a local subchannel pool), and
 * the calls open on each. A call goes to the first client with room; a new one is opened when
 * all are full, up to `max`; past that the least loaded takes it (and the call waits there
 * for a stream, as on any full connection).
 */
class ClientPool {
  readonly #clients: { client: Client; open: number }[] = [];
  constructor(
    readonly address: string,
    readonly perConnection: number,
    readonly max: number,
  ) {}

  /** A client for one call, and what to call when the call ends (once). */
  take(): { client: Client; done: () => void } {
    let entry = this.#clients.find((c) => c.open < this.perConnection);
    if (!entry && this.#clients.length < this.max) {
      entry = {
        client: new Client(this.address, credentials.createInsecure(), {
          "grpc.max_receive_message_length": maxMessageBytes,
          "grpc.max_send_message_length": maxMessageBytes,
          "grpc.use_local_subchannel_pool": 1,
        }),
        open: 0,
      };
      this.#clients.push(entry);
    }
    entry ??= this.#clients.reduce((a, b) => (b.open < a.open ? b : a));
    const taken = entry;
    taken.open += 1;
    let ended = false;
    return { client: taken.client, done: () => void (!ended && ((ended = true), (taken.open -= 1))) };
  }

  close(): void {
    for (const { client } of this.#clients) client.close();
  }
}

function route(router: ConnectRouter, pool: ClientPool, method: DescMethod, unaryDeadlineMs: number): void {
  const path = `/${method.parent.typeName}/${method.name}`;
  const pass = (bytes: Buffer) => bytes;
  if (method.methodKind === "unary") {
    router.rpc(method, (async (request: never, context: HandlerContext) => {
      const { client, done } = pool.take();
      try {
        const bytes = await new Promise<Buffer>((resolve, reject) => {
          const deadline = Date.now() + Math.min(context.timeoutMs() ?? unaryDeadlineMs, unaryDeadlineMs);
          const call = client.makeUnaryRequest(path, pass, pass, Buffer.from(toBinary(method.input, request)), metadataOf(context), { deadline }, (error, reply) =>
            error ? reject(connectErrorOf(error)) : resolve(reply!),
          );
          context.signal.addEventListener("abort", () => call.cancel(), { once: true });
        });
        return fromBinary(method.output, bytes);
      } finally {
        done();
      }
    }) as never);
  } else if (method.methodKind === "server_streaming") {
    router.rpc(method, async function* (request: never, context: HandlerContext) {
      const { client, done } = pool.take();
      const call = client.makeServerStreamRequest(path, pass, pass, Buffer.from(toBinary(method.input, request)), metadataOf(context), {});
      call.once("close", done);
      const cancel = () => call.cancel();
      context.signal.addEventListener("abort", cancel, { once: true });
      try {
        for await (const bytes of call as AsyncIterable<Buffer>) yield fromBinary(method.output, bytes);
      } catch (error) {
        throw connectErrorOf(error);
      } finally {
        context.signal.removeEventListener("abort", cancel);
        call.cancel();
        done();
      }
    } as never);
  }
}

function metadataOf(context: HandlerContext): Metadata {
  const metadata = new Metadata();
  for (const name of forwardedHeaders) {
    const value = context.requestHeader.get(name);
    if (value !== null) metadata.set(name, value);
  }
  return metadata;
}

/** A gRPC failure as the same Connect error: code, message and google.rpc details. */
function connectErrorOf(error: unknown): ConnectError {
  const failure = error as Partial<ServiceError>;
  if (typeof failure.code !== "number") return new ConnectError("the gateway's call failed", Code.Internal, undefined, undefined, error);
  const connectError = new ConnectError(failure.details ?? "", failure.code as number as Code);
  const packed = failure.metadata?.get("grpc-status-details-bin")[0];
  if (packed instanceof Buffer) {
    try {
      for (const detail of fromBinary(StatusSchema, packed).details) {
        connectError.details.push({ type: detail.typeUrl.slice(detail.typeUrl.lastIndexOf("/") + 1), value: detail.value });
      }
    } catch {
      // Details that do not decode are left out; the code and message stand.
    }
  }
  return connectError;
}

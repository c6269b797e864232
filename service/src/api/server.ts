// The gRPC server: spool.v1.TaskService, QueueService, ScheduleService and AdminService, the standard health
// service (grpc.health.v1), and server reflection, so grpcurl and `buf curl` work without .proto
// files. Plaintext, or TLS with the credentials of tls.ts.
import { readFileSync } from "node:fs";
import { ServerCredentials } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  AdminServiceService,
  healthDescriptorSetPath,
  QueueServiceService,
  ScheduleServiceService,
  spoolDescriptorSetPath,
  TaskServiceService,
} from "@spool/proto";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticator.js";
import type { AdminOperations, QueueOperations, TaskOperations } from "../domain/operations.js";
import { adminService } from "./admin-service.js";
import type { ScheduleOperations } from "../domain/schedule.js";
import { scheduleService } from "./schedule-service.js";
import { guardDecoding } from "./decode-guard.js";
import { StreamSlots } from "./stream-slots.js";
import { queueService } from "./queue-service.js";
import { taskService } from "./task-service.js";
import type { ServerTls } from "./tls.js";
import { limitedServer, type TransportLimits } from "./transport-limits.js";

export const taskServiceName = "spool.v1.TaskService";
export const queueServiceName = "spool.v1.QueueService";
export const scheduleServiceName = "spool.v1.ScheduleService";
export const adminServiceName = "spool.v1.AdminService";
/**
 * The names the health service reports on, besides the whole server (""): each Spool service,
 * and "readiness" with them (serving: the database answers and the replica is not draining).
 * "liveness" is SERVING for as long as the server answers at all: the probes of Kubernetes
 * (`grpc: { port, service: liveness }`) and of the HTTP port (/healthz, /readyz) alike.
 */
const servedNames = [taskServiceName, queueServiceName, scheduleServiceName, adminServiceName, "readiness"];

export interface ApiServer {
  /** The port it listens on (the chosen one when asked for port 0). */
  readonly port: number;
  /** SERVING or NOT_SERVING, for the whole server and for each Spool service. */
  setServing(serving: boolean): void;
  /** Lets running calls finish for up to graceMs, then cuts the rest (e.g. followed streams). */
  close(graceMs: number): Promise<void>;
}

export async function startApiServer(options: {
  host: string;
  port: number;
  ops: TaskOperations;
  queues: QueueOperations;
  schedules: ScheduleOperations;
  admin: AdminOperations;
  /** Who each Spool call runs as; health and reflection are open to all. */
  auth: Authenticator;
  log: Logger;
  /** Most StreamLogs and WatchTask calls served at once. */
  maxStreams: number;
  /** Default: defaultTransportLimits. */
  limits?: TransportLimits;
  /** TLS (tls.ts); default: plaintext. */
  tls?: ServerTls;
  /**
   * A second, plaintext listener on a private Unix socket (`unix:/path`): the HTTP port's
   * Connect gateway forwards browser calls through it (http/connect-gateway.ts).
   */
  localAddress?: string;
}): Promise<ApiServer> {
  const server = limitedServer(options.limits);
  server.addService(guardDecoding(TaskServiceService), taskService(options.ops, options.log, new StreamSlots(options.maxStreams), options.auth));
  server.addService(guardDecoding(QueueServiceService), queueService(options.queues, options.log, options.auth));
  server.addService(guardDecoding(ScheduleServiceService), scheduleService(options.schedules, options.ops, options.log, options.auth));
  server.addService(guardDecoding(AdminServiceService), adminService(options.admin, options.log, options.auth));

  const health = new HealthImplementation({
    ...Object.fromEntries(["", ...servedNames].map((name) => [name, "NOT_SERVING" as const])),
    liveness: "SERVING",
  });
  health.addToServer(server);

  // Reflection serves the descriptors exactly as buf built them (see proto/gen/*.binpb):
  // going through proto-loader would rename map entries and lose file dependencies, which Go
  // clients (grpcurl, buf curl) reject.
  const fileDescriptorProtos = [spoolDescriptorSetPath, healthDescriptorSetPath].flatMap((path) =>
    filesOfDescriptorSet(readFileSync(path)),
  );
  new ReflectionService({ spool: { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${bindHost(options.host)}:${options.port}`,
      options.tls?.credentials ?? ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );

  if (options.localAddress) {
    const address = options.localAddress;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
    );
  }

  return {
    port,
    setServing(serving) {
      const state = serving ? "SERVING" : "NOT_SERVING";
      for (const name of ["", ...servedNames]) health.setStatus(name, state);
    },
    async close(graceMs) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** An IPv6 address in brackets, as a host:port target needs it (`::` failed to resolve). */
function bindHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The FileDescriptorProtos (each still encoded) of a FileDescriptorSet: its field 1. */
function filesOfDescriptorSet(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

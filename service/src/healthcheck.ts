#!/usr/bin/env node
// Container health check: asks the local replica's standard gRPC health service whether it is
// SERVING. Exit code 0 if it is, 1 otherwise (NOT_SERVING while starting or draining).
import { credentials, loadPackageDefinition, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

type HealthClient = Client & {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: string }) => void,
  ): void;
};

const port = process.env.SPOOL_PORT || "50051";
const definition = loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => HealthClient } } };
};
const client = new definition.grpc.health.v1.Health(`127.0.0.1:${port}`, credentials.createInsecure());
client.check({ service: "spool.v1.TaskService" }, { deadline: Date.now() + 3000 }, (error, response) => {
  const status = error ? `error: ${error.details || error.message}` : response?.status;
  console.log(`spool.v1.TaskService: ${status}`);
  client.close();
  process.exit(status === "SERVING" ? 0 : 1);
});

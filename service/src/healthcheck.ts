#!/usr/bin/env node
// Container health check: asks the local replica's standard gRPC health service whether it is
// SERVING. Exit code 0 if it is, 1 otherwise (NOT_SERVING while starting or draining, not
// reachable, or a configuration that does not say where it listens).
//
// It reads the replica's own configuration (same environment, same parser and defaults), and
// dials where SPOOL_HOST and SPOOL_PORT make it listen (dial-address.ts).
import { credentials, loadPackageDefinition, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { loadConfig } from "./config.js";
import { dialAddress } from "./dial-address.js";

type HealthClient = Client & {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: string }) => void,
  ): void;
};

function target(): string {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    console.log(`spool.v1.TaskService: ${(error as Error).message}`);
    process.exit(1);
  }
  if (config.port === 0) {
    console.log("spool.v1.TaskService: SPOOL_PORT=0 picks the port at start; set SPOOL_PORT for the health check to find it");
    process.exit(1);
  }
  return dialAddress(config.host, config.port);
}

const address = target();
const definition = loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => HealthClient } } };
};
const client = new definition.grpc.health.v1.Health(address, credentials.createInsecure());
client.check({ service: "spool.v1.TaskService" }, { deadline: Date.now() + 3000 }, (error, response) => {
  const status = error ? `error: ${error.details || error.message}` : response?.status;
  console.log(`spool.v1.TaskService at ${address}: ${status}`);
  client.close();
  process.exit(status === "SERVING" ? 0 : 1);
});

#!/usr/bin/env node
// Container health check: asks the local replica's standard gRPC health service whether it is
// SERVING. Exit code 0 if it is, 1 otherwise (NOT_SERVING while starting or draining, not
// reachable, or a configuration that does not say where it listens).
//
// It reads the replica's own configuration (same environment, same parser and defaults), and
// dials where SPOOL_HOST and SPOOL_PORT make it listen (dial-address.ts).
//
// With TLS on (SPOOL_TLS_CERT) it connects with TLS but does not verify the server's
// certificate: it dials its own replica on this machine, asks whether it serves, not who it is,
// and the address it dials (127.0.0.1) is seldom a name in that certificate. It sends nothing
// secret. With mTLS (SPOOL_TLS_CLIENT_CA) it must present a client certificate the client CA
// issued: SPOOL_HEALTHCHECK_CERT and SPOOL_HEALTHCHECK_KEY when they are set, else the server's
// own SPOOL_TLS_CERT and SPOOL_TLS_KEY, which works when the client CA issued that certificate
// and it allows client authentication (no extendedKeyUsage, or one with clientAuth).
import { readFileSync } from "node:fs";
import { credentials, loadPackageDefinition, type ChannelCredentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { loadConfig, type Config } from "./config.js";
import { dialAddress } from "./dial-address.js";

type HealthClient = Client & {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: string }) => void,
  ): void;
};

function fail(message: string): never {
  console.log(`spool.v1.TaskService: ${message}`);
  process.exit(1);
}

function replicaConfig(): Config {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    fail((error as Error).message);
  }
  if (config.port === 0) fail("SPOOL_PORT=0 picks the port at start; set SPOOL_PORT for the health check to find it");
  return config;
}

function read(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    fail(`${variable} (${file}): cannot read it: ${(error as Error).message}`);
  }
}

/** Plaintext, or TLS as the replica serves it (see the header). */
function channelCredentials(config: Config): ChannelCredentials {
  if (!config.tls) return credentials.createInsecure();
  const certFile = process.env.SPOOL_HEALTHCHECK_CERT || undefined;
  const keyFile = process.env.SPOOL_HEALTHCHECK_KEY || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) fail("SPOOL_HEALTHCHECK_CERT and SPOOL_HEALTHCHECK_KEY go together: give both");
  let identity: { cert: Buffer; key: Buffer } | undefined;
  if (certFile !== undefined && keyFile !== undefined) {
    identity = { cert: read("SPOOL_HEALTHCHECK_CERT", certFile), key: read("SPOOL_HEALTHCHECK_KEY", keyFile) };
  } else if (config.tls.clientCaFile !== undefined) {
    identity = { cert: read("SPOOL_TLS_CERT", config.tls.certFile), key: read("SPOOL_TLS_KEY", config.tls.keyFile) };
  }
  try {
    return credentials.createSsl(null, identity?.key, identity?.cert, { rejectUnauthorized: false });
  } catch (error) {
    fail(`client certificate: ${(error as Error).message}`);
  }
}

const config = replicaConfig();
const address = dialAddress(config.host, config.port);
const definition = loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, creds: ChannelCredentials, options?: object) => HealthClient } } };
};
// The name sent as SNI. Not verified (see the header); set so that dialling an IP address does
// not send that address as SNI, which Node warns about on every run.
const client = new definition.grpc.health.v1.Health(address, channelCredentials(config), { "grpc.ssl_target_name_override": "localhost" });
client.check({ service: "spool.v1.TaskService" }, { deadline: Date.now() + 3000 }, (error, response) => {
  let status = error ? `error: ${error.details || error.message}` : response?.status;
  if (error && config.tls?.clientCaFile !== undefined) {
    const presented = process.env.SPOOL_HEALTHCHECK_CERT ? "SPOOL_HEALTHCHECK_CERT" : "SPOOL_TLS_CERT";
    status += ` (with mTLS this check presents ${presented} as its client certificate: SPOOL_TLS_CLIENT_CA must have issued it, for clientAuth)`;
  }
  console.log(`spool.v1.TaskService at ${address}: ${status}`);
  client.close();
  process.exit(status === "SERVING" ? 0 : 1);
});

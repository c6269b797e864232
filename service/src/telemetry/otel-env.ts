// What the standard OTEL_* variables say, read the same way for traces and for metrics:
// which exporters a signal names, which OTLP protocol it uses (http/protobuf by default, or
// http/json; the signal's own variable first), and the resource every exported signal carries:
// service.name (OTEL_SERVICE_NAME, default "spool"), service.version, service.instance.id (the
// replica), with OTEL_RESOURCE_ATTRIBUTES merged over them.
import { detectResources, envDetector, resourceFromAttributes, type Resource } from "@opentelemetry/resources";

export type OtlpProtocol = "http/protobuf" | "http/json";
const supportedProtocols: readonly string[] = ["http/protobuf", "http/json"] satisfies OtlpProtocol[];

/** The exporters OTEL_<SIGNAL>_EXPORTER names (comma-separated). */
export function exportersOf(env: NodeJS.ProcessEnv, signal: "TRACES" | "METRICS"): string[] {
  return (env[`OTEL_${signal}_EXPORTER`] ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}

/** The OTLP protocol of a signal; throws, naming the variable, for one Spool has no exporter for (grpc). */
export function otlpProtocol(env: NodeJS.ProcessEnv, signal: "TRACES" | "METRICS"): OtlpProtocol {
  const protocol = env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  if (!supportedProtocols.includes(protocol)) {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} is not supported for ${signal.toLowerCase()}; use ${supportedProtocols.join(" or ")}`);
  }
  return protocol as OtlpProtocol;
}

export function spoolResource(version: string, instanceId: string): Resource {
  return resourceFromAttributes({
    "service.name": "spool",
    "service.version": version,
    "service.instance.id": instanceId,
  }).merge(detectResources({ detectors: [envDetector] }));
}

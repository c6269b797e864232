// The OpenTelemetry MeterProvider of a replica, configured from the standard OTEL_* variables:
//   - a Prometheus reader, scraped at /metrics on the HTTP port (http/http-server.ts), unless
//     that port is off: it only answers scrapes, so it costs nothing between them;
//   - an OTLP exporter when OTEL_METRICS_EXPORTER names `otlp`, over http/protobuf (the
//     default) or http/json (OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL),
//     to OTEL_EXPORTER_OTLP_ENDPOINT (the exporters read their endpoint, headers and timeout
//     from the environment), every OTEL_METRIC_EXPORT_INTERVAL ms (60 s).
// The OTLP exporters are loaded only when asked for (they hold megabytes of modules).
// The resource names the service (OTEL_SERVICE_NAME, default "spool"), its version and this
// replica (service.instance.id), with OTEL_RESOURCE_ATTRIBUTES merged over them.
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import type { Logger } from "pino";
import { exportersOf, otlpProtocol, spoolResource } from "./otel-env.js";

export interface MeterSetup {
  provider: MeterProvider;
  /** Serves /metrics; undefined when the HTTP port is off. */
  prometheus: PrometheusExporter | undefined;
  shutdown(): Promise<void>;
}

export interface MeterOptions {
  env: NodeJS.ProcessEnv;
  version: string;
  instanceId: string;
  prometheus: boolean;
  log: Logger;
}

export async function setUpMeters(options: MeterOptions): Promise<MeterSetup> {
  const { env, log } = options;
  const readers: MetricReader[] = [];
  const prometheus = options.prometheus ? new PrometheusExporter({ preventServerStart: true }) : undefined;
  if (prometheus) readers.push(prometheus);
  const exporters = exportersOf(env, "METRICS");
  if (exporters.includes("otlp")) {
    const protocol = otlpProtocol(env, "METRICS");
    const { OTLPMetricExporter } =
      protocol === "http/json" ? await import("@opentelemetry/exporter-metrics-otlp-http") : await import("@opentelemetry/exporter-metrics-otlp-proto");
    const exporter = new OTLPMetricExporter();
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
    const timeout = Number(env.OTEL_METRIC_EXPORT_TIMEOUT ?? 30_000);
    readers.push(
      new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
        exportTimeoutMillis: Number.isFinite(timeout) && timeout > 0 ? Math.min(timeout, interval) : 30_000,
      }),
    );
    log.info({ protocol }, "exporting metrics over OTLP");
  }
  const unknown = exporters.filter((name) => !["otlp", "prometheus", "none"].includes(name));
  if (unknown.length > 0) log.warn({ exporters: unknown }, "OTEL_METRICS_EXPORTER names exporters Spool does not have; /metrics and otlp are");
  const provider = new MeterProvider({ resource: spoolResource(options.version, options.instanceId), readers });
  return { provider, prometheus, shutdown: () => provider.shutdown() };
}

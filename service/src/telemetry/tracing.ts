// Traces: an OpenTelemetry TracerProvider configured from the standard OTEL_* variables, in
// the main thread and in each worker thread alike (each exports its own spans):
//   - on when OTEL_TRACES_EXPORTER names `otlp` (or `console`, for a look at the spans on
//     stdout); with nothing set there is no provider at all, and the API's no-op tracer costs
//     next to nothing;
//   - OTLP over http/protobuf (the default) or http/json (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
//     or OTEL_EXPORTER_OTLP_PROTOCOL), to OTEL_EXPORTER_OTLP_ENDPOINT (the exporters read
//     endpoint, headers and timeout themselves), batched (OTEL_BSP_* as the SDK reads them);
//   - W3C trace context (traceparent, tracestate) and baggage as the propagators, the active
//     context kept in AsyncLocalStorage, so a span follows `await`;
//   - the resource as for metrics (meter-provider.ts): service.name (OTEL_SERVICE_NAME,
//     default "spool"), service.version, service.instance.id, OTEL_RESOURCE_ATTRIBUTES.
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { exportersOf, otlpProtocol, spoolResource } from "./otel-env.js";

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  env: NodeJS.ProcessEnv;
  version: string;
  instanceId: string;
}

export function setUpTracing(options: TracingOptions): Tracing {
  const exporters = exportersOf(options.env, "TRACES");
  const processors: SpanProcessor[] = [];
  if (exporters.includes("otlp")) {
    const protocol = otlpProtocol(options.env, "TRACES");
    processors.push(new BatchSpanProcessor(protocol === "http/json" ? new OtlpJsonExporter() : new OtlpProtoExporter()));
  }
  if (exporters.includes("console")) processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
  if (processors.length === 0) return { enabled: false, flush: async () => {}, shutdown: async () => {} };
  const provider = new NodeTracerProvider({ resource: spoolResource(options.version, options.instanceId), spanProcessors: processors });
  provider.register();
  return { enabled: true, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

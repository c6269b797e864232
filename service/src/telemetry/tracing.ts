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
//   - the SDK and the exporters are loaded only when tracing is on: the main thread and every
//     worker thread held about 5 MB more each for modules they never used.
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
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

export async function setUpTracing(options: TracingOptions): Promise<Tracing> {
  const exporters = exportersOf(options.env, "TRACES");
  if (!exporters.includes("otlp") && !exporters.includes("console")) return { enabled: false, flush: async () => {}, shutdown: async () => {} };
  const [{ BatchSpanProcessor, ConsoleSpanExporter }, { NodeTracerProvider }] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/sdk-trace-node"),
  ]);
  const processors: SpanProcessor[] = [];
  if (exporters.includes("otlp")) {
    const { OTLPTraceExporter } =
      otlpProtocol(options.env, "TRACES") === "http/json"
        ? await import("@opentelemetry/exporter-trace-otlp-http")
        : await import("@opentelemetry/exporter-trace-otlp-proto");
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  if (exporters.includes("console")) processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
  const provider = new NodeTracerProvider({ resource: spoolResource(options.version, options.instanceId), spanProcessors: processors });
  provider.register();
  return { enabled: true, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

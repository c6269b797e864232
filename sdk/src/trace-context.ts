// The caller's trace context on every call: when the application traces with OpenTelemetry,
// the active span's W3C trace context (traceparent, tracestate) goes in the call's metadata,
// so the service's spans, and the runs of the tasks the call creates, continue the caller's
// trace. Without an OpenTelemetry SDK in the application the API injects nothing and the
// client's own metadata goes as it is.
import type { Metadata } from "@grpc/grpc-js";
import { context, propagation } from "@opentelemetry/api";

export function withTraceContext(metadata: Metadata): Metadata {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const entries = Object.entries(carrier);
  if (entries.length === 0) return metadata;
  const traced = metadata.clone();
  for (const [key, value] of entries) traced.set(key, value);
  return traced;
}

// Server spans: every Spool RPC runs inside a SERVER span named by its path
// (`spool.v1.TaskService/CreateTask`), with the RPC semantic-convention attributes (rpc.system,
// rpc.service, rpc.method, rpc.grpc.status_code), as a child of the caller's span when the
// call's metadata carries W3C trace context (traceparent). The handler runs in the span's
// context, so what it does (a CreateTask storing the context with its tasks) continues it.
// Without a tracer provider (telemetry/tracing.ts: tracing off) these are the API's no-ops.
import { status, type Metadata } from "@grpc/grpc-js";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from "@opentelemetry/api";

const tracer = trace.getTracer("spool");

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((value): value is string => typeof value === "string");
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

/** Codes that are the server's fault: the span's status is ERROR (the others are the caller's). */
const serverFaults = new Set<number>([status.UNKNOWN, status.DEADLINE_EXCEEDED, status.UNIMPLEMENTED, status.INTERNAL, status.UNAVAILABLE, status.DATA_LOSS]);

/**
 * Runs `handle` in a SERVER span for the call at `path` ("/spool.v1.TaskService/CreateTask");
 * `handle` returns the gRPC status code the call ended with.
 */
export function inServerSpan(path: string, metadata: Metadata, handle: (span: Span) => Promise<number>): Promise<void> {
  const name = path.startsWith("/") ? path.slice(1) : path;
  const slash = name.lastIndexOf("/");
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const attributes = { "rpc.system": "grpc", "rpc.service": name.slice(0, slash), "rpc.method": name.slice(slash + 1) };
  return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
    try {
      const code = await handle(span);
      span.setAttribute("rpc.grpc.status_code", code);
      if (serverFaults.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] });
    } finally {
      span.end();
    }
  });
}

/** The active context as a W3C traceparent, to store with what it creates; undefined when tracing is off. */
export function activeTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

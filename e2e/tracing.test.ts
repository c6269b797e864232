// Traces from outside: the built service exports over OTLP (http/json) to a receiver in this
// test, and this process traces its own calls with the OpenTelemetry SDK. One trace must run
// from the client's span, through the CreateTask server span, to `spool.run <kind>` in the
// worker thread, and on to the span the handler made; a retried task has a run span per
// attempt, the failed one with status ERROR; and the task's log lines name their spans.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { propagation } from "@opentelemetry/api";
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished } from "./support/tasks.js";

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  attributes: { key: string; value: Record<string, unknown> }[];
}

const database = useTestDatabase();
const received: ExportedSpan[] = [];
let receiver: Server;
let service: ServiceProcess;
let serviceEnv: Record<string, string>;
let client: SpoolClient;
const mine = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(mine)] });

beforeAll(async () => {
  // The receiver: OTLP/HTTP JSON, as a collector takes it.
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      if (request.url === "/v1/traces") {
        const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[] };
        for (const resource of payload.resourceSpans) for (const scope of resource.scopeSpans) received.push(...scope.spans);
      }
      response.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const { port } = receiver.address() as AddressInfo;
  serviceEnv = {
    DATABASE_URL: database.url,
    SPOOL_TASKS: fileURLToPath(new URL("./fixtures/traced", import.meta.url)),
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_SERVICE_NAME: "spool-under-test",
  };
  service = await startService(serviceEnv);
  client = new SpoolClient(service.address);
  // This process traces too, with the W3C propagator the SDK injects through.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  client.close();
  await killAll();
  await new Promise((resolve) => receiver.close(resolve));
  trace.disable();
  context.disable();
  propagation.disable();
});

interface Timed {
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
}

/** The trace as text: each span under its parent, with its start and length in ms. */
function render(root: { name: string; spanContext(): { spanId: string }; startTime: [number, number] }, spans: ExportedSpan[]): string {
  const origin = root.startTime[0] * 1e3 + root.startTime[1] / 1e6;
  const lines = [`${root.name} (client, this process)`];
  const walk = (parentId: string, depth: number) => {
    for (const span of spans.filter((s) => s.parentSpanId === parentId)) {
      const timed = span as ExportedSpan & Timed;
      const start = Number(BigInt(timed.startTimeUnixNano ?? "0") / 1000n) / 1e3;
      const end = Number(BigInt(timed.endTimeUnixNano ?? "0") / 1000n) / 1e3;
      lines.push(`${"  ".repeat(depth)}└─ ${span.name}  +${(start - origin).toFixed(1)} ms, ${(end - start).toFixed(1)} ms`);
      walk(span.spanId, depth + 1);
    }
  };
  walk(root.spanContext().spanId, 1);
  return lines.join("\n");
}

const attribute = (span: ExportedSpan, key: string) => Object.values(span.attributes.find((a) => a.key === key)?.value ?? {})[0];

async function spansOf(traceId: string, enough: (spans: ExportedSpan[]) => boolean): Promise<ExportedSpan[]> {
  for (let i = 0; i < 150; i++) {
    const spans = received.filter((s) => s.traceId === traceId);
    if (enough(spans)) return spans;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return received.filter((s) => s.traceId === traceId);
}

describe("a trace from the caller into the task", () => {
  it("runs from the client's span to CreateTask, to spool.run in the worker thread, to the handler's span", async () => {
    const tracer = trace.getTracer("e2e");
    const task = await tracer.startActiveSpan("client.request", { kind: SpanKind.CLIENT }, async (span) => {
      try {
        return await client.createTask("test.traced", {});
      } finally {
        span.end();
      }
    });
    expect((await finished(client, task.id)).state).toBe("succeeded");
    const [root] = mine.getFinishedSpans().filter((s) => s.name === "client.request");
    const traceId = root!.spanContext().traceId;
    const spans = await spansOf(traceId, (found) => found.some((s) => s.name === "handler.work"));

    const create = spans.find((s) => s.name === "spool.v1.TaskService/CreateTask");
    expect(create).toBeDefined();
    expect(create!.parentSpanId).toBe(root!.spanContext().spanId);
    expect(create!.kind).toBe(2); // SERVER
    expect(attribute(create!, "rpc.system")).toBe("grpc");
    expect(attribute(create!, "rpc.method")).toBe("CreateTask");
    expect(Number(attribute(create!, "rpc.grpc.status_code"))).toBe(0);

    const run = spans.find((s) => s.name === "spool.run test.traced");
    expect(run).toBeDefined();
    expect(run!.parentSpanId).toBe(create!.spanId);
    expect(attribute(run!, "spool.task.id")).toBe(task.id);
    expect(attribute(run!, "spool.task.queue")).toBe("default");
    expect(Number(attribute(run!, "spool.task.attempt"))).toBe(1);
    expect(attribute(run!, "spool.tenant")).toBe("default");
    expect(run!.status?.code).toBe(1); // OK

    const work = spans.find((s) => s.name === "handler.work");
    expect(work!.parentSpanId).toBe(run!.spanId);
    console.log(render(root!, spans));

    // The task's log line carries the span it was logged in: the handler's.
    const lines = [];
    for await (const line of client.streamLogs(task.id)) lines.push(line);
    expect(lines.find((l) => l.message === "working inside handler.work")).toMatchObject({ traceId, spanId: work!.spanId });
  });

  it("gives each attempt its own run span, a failed one with status ERROR", async () => {
    const tracer = trace.getTracer("e2e");
    const task = await tracer.startActiveSpan("client.retrying", async (span) => {
      try {
        return await client.createTask("test.traced", { fail: true }, { maxAttempts: 2, backoff: { baseMs: 100, maxMs: 100 } });
      } finally {
        span.end();
      }
    });
    expect((await finished(client, task.id)).state).toBe("failed");
    const [root] = mine.getFinishedSpans().filter((s) => s.name === "client.retrying");
    const runs = (await spansOf(root!.spanContext().traceId, (found) => found.filter((s) => s.name === "spool.run test.traced").length >= 2)).filter(
      (s) => s.name === "spool.run test.traced",
    );
    expect(runs.map((r) => Number(attribute(r, "spool.task.attempt"))).sort()).toEqual([1, 2]);
    for (const run of runs) {
      expect(run.status?.code).toBe(2); // ERROR
      expect(run.status?.message).toBe("failed as asked");
    }
  });

  it("exports the spans it still holds when it stops, its threads' too", async () => {
    // A replica that exports only once a minute: what reaches the receiver came from the stop.
    await service.kill("SIGTERM");
    const patient = await startService({ ...serviceEnv, OTEL_BSP_SCHEDULE_DELAY: "60000" });
    const patientClient = new SpoolClient(patient.address);
    try {
      const task = await patientClient.createTask("test.traced", {});
      expect((await finished(patientClient, task.id)).state).toBe("succeeded");
      const before = received.filter((s) => attribute(s, "spool.task.id") === task.id).length;
      expect(before).toBe(0);
      expect(await patient.kill("SIGTERM")).toBe(0);
      // Exported before the process exited: no waiting needed, but the receiver may still be
      // reading the last request.
      for (let i = 0; i < 50 && !received.some((s) => attribute(s, "spool.task.id") === task.id); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const run = received.find((s) => attribute(s, "spool.task.id") === task.id);
      expect(run?.name).toBe("spool.run test.traced");
      const trace = received.filter((s) => s.traceId === run!.traceId).map((s) => s.name);
      expect(trace.sort()).toEqual(["handler.work", "spool.run test.traced", "spool.v1.TaskService/CreateTask"]);
    } finally {
      patientClient.close();
    }
  });
});

import { PassThrough } from "node:stream";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { expect, it } from "vitest";
import { createLogger, prettyFor } from "./logger.js";

/** A stream that collects what is written, and says whether it is a terminal. */
function sink(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY });
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

it("is pretty on a terminal and JSON elsewhere, unless told", () => {
  expect(prettyFor("auto", { isTTY: true })).toBe(true);
  expect(prettyFor("auto", { isTTY: false })).toBe(false);
  expect(prettyFor("auto", {})).toBe(false);
  expect(prettyFor("json", { isTTY: true })).toBe(false);
  expect(prettyFor("pretty", { isTTY: false })).toBe(true);
});

it("writes JSON lines a collector can parse", () => {
  const out = sink(false);
  createLogger({ stream: out.stream }).info({ port: 7 }, "spool serving");
  expect(JSON.parse(out.text())).toMatchObject({ level: 30, name: "spool", msg: "spool serving", port: 7 });
});

it("writes a readable line at once, for a person at a terminal", () => {
  const out = sink(true);
  const log = createLogger({ stream: out.stream, format: "pretty", level: "debug" });
  log.warn({ port: 7 }, "spool serving");
  // Synchronous: the line is there before any tick passes (a fatal line before exit).
  // eslint-disable-next-line no-control-regex
  const plain = out.text().replace(/\x1b\[[0-9;]*m/g, "");
  expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: spool serving \{"port":7\}\n$/);
});

it("puts the active span's trace_id and span_id on a line logged inside it, and none outside", () => {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  try {
    const out = sink(false);
    const log = createLogger({ stream: out.stream });
    let ids = { traceId: "", spanId: "" };
    trace.getTracer("test").startActiveSpan("work", (span) => {
      ids = span.spanContext();
      log.info("inside");
      span.end();
    });
    log.info("outside");
    const [inside, outside] = out.text().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(inside).toMatchObject({ msg: "inside", trace_id: ids.traceId, span_id: ids.spanId });
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(outside!.trace_id).toBeUndefined();
  } finally {
    trace.disable();
    context.disable();
  }
});

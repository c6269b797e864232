// The process's own log (pino). Two forms of the same records:
//
// - `json`: one JSON object per line, for log collectors; the default when stdout is not a
//   terminal (a container, a service manager, a pipe).
// - `pretty`: a line a person reads (time, level in colour, message, then the fields), the
//   default when stdout is a terminal, as it is under `npm start` or `npx spool-server`.
//
// A line logged while a span is active (tracing on: an RPC, a run) carries its trace_id and
// span_id. SPOOL_LOG_FORMAT (auto, json, pretty) overrides the choice. Pretty lines are formatted and
// written synchronously on the main thread (pino-pretty with sync: true), not in a transport
// thread: a fatal line written just before process.exit() is on the terminal before the
// process ends, as a JSON line is.
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { pino, type Logger, type LoggerOptions } from "pino";
import { PinoPretty } from "pino-pretty";

export const logFormats = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LoggerSettings {
  level?: LoggerOptions["level"];
  format?: LogFormat;
  /** Where lines go; stdout by default. Its isTTY decides `auto`. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; fd?: number };
}

/** Whether `auto` means pretty for this stream. */
export function prettyFor(format: LogFormat, stream: { isTTY?: boolean }): boolean {
  return format === "pretty" || (format === "auto" && stream.isTTY === true);
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const stream = settings.stream ?? process.stdout;
  const options: LoggerOptions = { name: "spool", level: settings.level ?? "info", mixin: traceFields };
  if (!prettyFor(settings.format ?? "auto", stream)) {
    return stream === process.stdout ? pino(options) : pino(options, stream);
  }
  const pretty = PinoPretty({
    destination: stream,
    sync: true,
    colorize: stream.isTTY === true && !process.env.NO_COLOR,
    translateTime: "SYS:HH:MM:ss.l",
    // Name, pid and host are the same on every line of one process at a terminal: noise
    // there. The JSON form keeps them for collectors that mix many processes.
    ignore: "name,pid,hostname",
    singleLine: true,
  });
  return pino(options, pretty);
}

/** A line logged inside a span (tracing on) carries its trace_id and span_id. */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}

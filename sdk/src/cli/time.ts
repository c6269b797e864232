// Times and durations as the `spool` command reads them from flags and prints them.
//
// Read: a duration is a number and one unit (1500ms, 30s, 5m, 2h, 1d; decimals allowed);
// a time is ISO 8601 (a date and time without a zone is local time, a bare date is UTC
// midnight, as JavaScript reads them), or a duration relative to now: "+5m" from now for
// times in the future (--at), "30m" ago for times in the past (--since, --until), since a
// filter on creation time looks back and a run time looks ahead. A bad value throws
// commander's InvalidArgumentError, which commander prints with the flag's name.
//
// Printed: a duration is short and human, with at most two units (850ms, 1.2s, 3m4s,
// 2h5m, 1d3h); a terminal column has no room for more precision than that.
import { InvalidArgumentError } from "commander";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of "1500ms", "30s", "5m", "2h", "1d" (a decimal number and one unit). */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new InvalidArgumentError("not a duration: use e.g. 1500ms, 30s, 5m, 2h, 1d");
  return Math.round(Number(match[1]) * units[match[2]!]!);
}

/** A time ahead: ISO 8601, or "+30s", "+5m", "+2h" from `now`. */
export function parseFutureTime(value: string, now = Date.now()): Date {
  if (value.startsWith("+")) return new Date(now + parseDuration(value.slice(1)));
  return parseIsoTime(value, "+30s, +5m from now");
}

/** A time behind: ISO 8601, or "30m", "2h", "1d" ago from `now`. */
export function parsePastTime(value: string, now = Date.now()): Date {
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d)$/.test(value)) return new Date(now - parseDuration(value));
  return parseIsoTime(value, "30m, 2h, 1d ago");
}

function parseIsoTime(value: string, relative: string): Date {
  // Date also reads forms like "March 7" or "1"; asking for a leading year keeps to ISO 8601's.
  const time = /^\d{4}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) throw new InvalidArgumentError(`not a time: use ISO 8601 (2026-01-31T09:00:00Z) or ${relative}`);
  return time;
}

/**
 * A duration for a terminal column: 850ms, 1.2s, 42.0s, 3m4s, 2h5m, 1d3h. Each form is
 * rounded in its last unit; a negative duration (clocks apart) prints as 0ms.
 */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return "0ms";
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1440) return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
  const hours = Math.round(ms / 3_600_000);
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

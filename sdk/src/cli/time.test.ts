// How the `spool` command reads times and durations from flags and prints durations.
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, parseFutureTime, parsePastTime } from "./time.js";

const now = Date.parse("2026-03-01T12:00:00Z");

describe("parseDuration", () => {
  it("reads a number and one unit", () => {
    expect(parseDuration("1500ms")).toBe(1500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1.5m")).toBe(90_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
  });

  it("refuses anything else, saying what it takes", () => {
    for (const bad of ["", "30", "s", "-5m", "5 m", "5min", "1h30m"]) {
      expect(() => parseDuration(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseDuration("5min")).toThrow(/use e.g. 1500ms, 30s/);
  });
});

describe("parseFutureTime", () => {
  it("reads +duration as from now, and ISO 8601 as it is", () => {
    expect(parseFutureTime("+5m", now).toISOString()).toBe("2026-03-01T12:05:00.000Z");
    expect(parseFutureTime("2026-01-31T09:00:00Z", now).toISOString()).toBe("2026-01-31T09:00:00.000Z");
  });

  it("refuses what is not ISO 8601, though Date would read it", () => {
    for (const bad of ["March 7", "1", "tomorrow", "5m", "2026-13-45"]) expect(() => parseFutureTime(bad, now), bad).toThrow(/not a time/);
  });
});

describe("parsePastTime", () => {
  it("reads a bare duration as that long ago", () => {
    expect(parsePastTime("30m", now).toISOString()).toBe("2026-03-01T11:30:00.000Z");
    expect(parsePastTime("2h", now).toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(parsePastTime("1d", now).toISOString()).toBe("2026-02-28T12:00:00.000Z");
  });

  it("reads ISO 8601, with a zone, an offset, or as a bare date (UTC)", () => {
    expect(parsePastTime("2026-02-01T08:30:00Z", now).toISOString()).toBe("2026-02-01T08:30:00.000Z");
    expect(parsePastTime("2026-02-01T08:30:00+02:00", now).toISOString()).toBe("2026-02-01T06:30:00.000Z");
    expect(parsePastTime("2026-02-01", now).toISOString()).toBe("2026-02-01T00:00:00.000Z");
  });

  it("refuses a time ahead written as +duration, and words", () => {
    for (const bad of ["+5m", "yesterday", "30", "-1h"]) expect(() => parsePastTime(bad, now), bad).toThrow(/not a time: use ISO 8601 .* 30m, 2h, 1d ago/);
  });
});

describe("formatDuration", () => {
  it("prints at most two units, rounded in the last", () => {
    expect(formatDuration(0)).toBe("0ms");
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(999.6)).toBe("1.0s");
    expect(formatDuration(1234)).toBe("1.2s");
    expect(formatDuration(42_000)).toBe("42.0s");
    expect(formatDuration(59_960)).toBe("1m0s");
    expect(formatDuration(184_000)).toBe("3m4s");
    expect(formatDuration(3_599_600)).toBe("1h0m");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000 + 20_000)).toBe("2h5m");
    expect(formatDuration(27 * 3_600_000)).toBe("1d3h");
  });

  it("prints a negative duration (clocks apart) as 0ms", () => {
    expect(formatDuration(-250)).toBe("0ms");
  });
});

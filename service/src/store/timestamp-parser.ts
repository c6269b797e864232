// Timestamps from Postgres to JavaScript, exact over the whole range Spool accepts
// (0001-01-01 to 9999-12-31, protobuf's Timestamp range, checked by api/validate.ts).
//
// Postgres writes a timestamptz as "0001-01-01 00:00:00+00" (DateStyle ISO). `new Date()` reads
// that form with V8's legacy parser, which takes years 0-99 for 1900-1999 or 2000-2049: a
// run_at in year 0001 came back as 2001. Every connection runs with TimeZone UTC (database.ts),
// so the offset is always "+00" and never one with seconds (historical local mean time).

const pattern = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

/** A Postgres timestamptz or timestamp (as UTC) in text form, as a Date; Invalid Date if unreadable. */
export function parseTimestamp(text: string): Date {
  const m = pattern.exec(text);
  if (!m) return new Date(Number.NaN); // infinity, -infinity
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  let year = Number(y);
  if (bc) year = 1 - year; // 1 BC is year 0 in ISO 8601
  const date = new Date(0);
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), frac ? Math.floor(Number(`0${frac}`) * 1000) : 0);
  if (sign) {
    const offsetMs = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * 1000;
    date.setTime(date.getTime() - (sign === "+" ? offsetMs : -offsetMs));
  }
  return date;
}

/** postgres.js type override for timestamp, timestamptz and date columns. */
export const timestampType = {
  to: 1184,
  from: [1082, 1114, 1184],
  serialize: (value: Date | string | number) => (value instanceof Date ? value : new Date(value)).toISOString(),
  parse: parseTimestamp,
};

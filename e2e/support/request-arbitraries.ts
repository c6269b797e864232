// fast-check generators of TaskService and QueueService requests, field by field, each value
// tagged with what the service must answer (the oracle):
//   - valid: inside every documented limit; the call must succeed (or, for an id of no task,
//     answer NOT_FOUND; for a retry of a task that cannot be retried, FAILED_PRECONDITION);
//   - bad: beyond one limit; INVALID_ARGUMENT whose message starts with that field's path;
//   - other: odd values the contract does not settle (invalid UTF-8, values on the edge of a
//     limit); only the general properties apply.
// The limits are the documented ones (proto/spool/v1) and those the service is being changed
// to enforce: input at most 1 MiB as JSON, nested at most 32 levels, no NUL, no NaN or
// Infinity; run_at and created_* within 0001-01-01..9999-12-31 (the protobuf Timestamp range,
// nanos 0..999,999,999); timeout 1 s..24 h as a valid Duration; at most 100 kinds and 32
// labels; ids are UUIDs; after_seq 0..2^53-1; page_size 0..1000; a backoff's fields in their
// ranges (base 0..24 h, factor 1..10, max 0..7 days and at least base, jitter 0..1); a queue's
// limits 0..100000 and retention 1 minute..10 years; tenants, schedules and keys at most 200
// characters. Where a limit could be counted two ways (UTF-16 units or bytes, nesting with or
// without the leaf, nanoseconds or whole milliseconds), "valid" and "bad" keep clear of the
// boundary and the boundary itself is "other". Each field also names edge values (int64 max,
// 100,000 kinds, NaN, year 1, ...) that every run tries, whatever the seed.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import fc, { type Arbitrary } from "fast-check";
import {
  brief,
  minimalTask,
  type BackoffSpec,
  type CreateSpec,
  type IdempotencyKey,
  type IdRef,
  type LabelsSpec,
  type ListSpec,
  type Rpc,
  type Spec,
  type TaskRpc,
} from "./requests.js";
import { objectOf, RawText, writeValueField, type Json, type Text, type WireTime } from "./wire.js";

export type Expect =
  | { type: "ok" }
  | { type: "not_found" }
  | { type: "failed_precondition" }
  /** INVALID_ARGUMENT naming `path` first; null: any path of the request. */
  | { type: "refused"; path: string | null }
  | { type: "any" };

export interface Case {
  spec: Spec;
  expect: Expect;
}

/** One field's values for one RPC, as cases: `oracle` holds valid and bad ones, `wild` all. */
export interface FieldCases {
  field: string;
  oracle: Arbitrary<Case>;
  wild: Arbitrary<Case>;
  /** Named edge cases (int64 max, 100,000 kinds, ...), each tried in every run, whatever the seed. */
  edges?: Case[];
}

export interface Tagged<T> {
  value: T;
  expect: Expect;
}

export interface Values<T> {
  valid: Arbitrary<Tagged<T>>;
  bad: Arbitrary<Tagged<T>>;
  other?: Arbitrary<Tagged<T>>;
  /** Values a run must always try, whatever the seed: random generation may miss them. */
  edges?: Tagged<T>[];
}

export const OK: Expect = { type: "ok" };
export const ANY: Expect = { type: "any" };
const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
export const int64Min = -(2n ** 63n);
export const int64Max = 2n ** 63n - 1n;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the protobuf Timestamp range. */
const minSeconds = -62_135_596_800n;
const maxSeconds = 253_402_300_799n;
const registeredKinds = new Set(["demo.echo", "demo.sleep", "demo.spin", "demo.log"]);

export const valid = <T>(arb: Arbitrary<T>): Arbitrary<Tagged<T>> => arb.map((value) => ({ value, expect: OK }));
export const bad = <T>(path: string, arb: Arbitrary<T>): Arbitrary<Tagged<T>> =>
  arb.map((value) => ({ value, expect: { type: "refused", path } }));
export const other = <T>(arb: Arbitrary<T>): Arbitrary<Tagged<T>> => arb.map((value) => ({ value, expect: ANY }));
export const ok = <T>(value: T): Tagged<T> => ({ value, expect: OK });
export const refused = <T>(path: string, value: T): Tagged<T> => ({ value, expect: { type: "refused", path } });

/** Prints as the request it stands for (fast-check shows it in counterexamples). */
export function caseOf(spec: Spec, expect: Expect): Case {
  return {
    spec,
    expect,
    [fc.toStringMethod]: () => `${spec.rpc} ${brief(shown(spec))}, expected: ${describeExpect(expect)}`,
  } as Case;
}

/** The spec without its rpc and without fields left at their defaults (so the odd one stands out). */
function shown(spec: Spec): object {
  const { rpc: _rpc, ...rest } = spec;
  if ("request" in rest && "kind" in rest.request) return { request: changed(rest.request, minimalTask) };
  if ("request" in rest) return { request: changed(rest.request, emptyList) };
  if ("tasks" in rest && Array.isArray(rest.tasks)) return { tasks: rest.tasks.map((task) => changed(task, minimalTask)) };
  if ("cut" in rest) return { ...rest, cut: shown(rest.cut) };
  if ("corrupt" in rest) return { ...rest, corrupt: shown(rest.corrupt) };
  return rest;
}

function changed<T extends object>(value: T, defaults: T): Partial<T> {
  const kept = Object.entries(value).filter(([key, item]) => {
    const standard = (defaults as Record<string, unknown>)[key];
    if (key === "kind") return true;
    if (item === undefined || item === standard || (Array.isArray(item) && item.length === 0)) return false;
    return !(typeof item === "object" && item !== null && "entries" in item && Array.isArray(item.entries) && item.entries.length === 0);
  });
  return Object.fromEntries(kept) as Partial<T>;
}

export function describeExpect(expect: Expect): string {
  if (expect.type === "refused") return expect.path === null ? "INVALID_ARGUMENT" : `INVALID_ARGUMENT "${expect.path}: ..."`;
  return { ok: "OK", not_found: "NOT_FOUND", failed_precondition: "FAILED_PRECONDITION", any: "any allowed status" }[expect.type];
}

export function field<T>(name: string, values: Values<T>, build: (value: T) => Spec): FieldCases {
  const toCase = ({ value, expect }: Tagged<T>) => caseOf(build(value), expect);
  return {
    field: name,
    oracle: fc.oneof(values.valid, values.bad).map(toCase),
    wild: fc.oneof(values.valid, values.bad, ...(values.other ? [values.other] : [])).map(toCase),
    edges: (values.edges ?? []).map(toCase),
  };
}

/** The field path a bad value reports, moved under a prefix (`tasks[2].` + `kind`). */
function under<T>(prefix: string, tagged: Tagged<T>): Tagged<T> {
  const { expect } = tagged;
  if (expect.type !== "refused" || expect.path === null) return tagged;
  return { value: tagged.value, expect: { type: "refused", path: `${prefix}${expect.path}` } };
}

// ---------------------------------------------------------------------------------------------
// Text

const oddPieces = [
  "\u0000", "\uD800", "\uDBFF\uDBFF", "\uDC00", "\u202E", "\u200F", "\u061C", "مرحبا", "שָׁלוֹם",
  "👩‍👩‍👧‍👦", "🚀", "\uFEFF", "\uFFFF", "\uFFFE", "\u{10FFFF}", "e\u0301", "\n", "\r\n", '"', "\\",
  "%", "%00", "'", "</script>", "__proto__", "constructor", "NaN", "null", " ", "\t", "Ω", "a", "Z",
  "0", "-", "_", ".", "/",
];

/** Short text of odd pieces: NUL, lone surrogates, RTL marks, emoji, quotes, ... */
const oddText = (pieces = 6): Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.constantFrom(...oddPieces), fc.string({ maxLength: 6 }), fc.string({ unit: "binary", maxLength: 3 })), {
      maxLength: pieces,
    })
    .map((parts) => parts.join(""));

/** Odd text without NUL (which Postgres cannot store, so the service must refuse it). */
export const cleanText = (pieces = 6): Arbitrary<string> => oddText(pieces).map((text) => text.replaceAll("\u0000", ""));

/** Bytes that are not UTF-8: a lone 0xFF, an overlong NUL, encoded surrogates, a cut sequence, beyond U+10FFFF. */
export const invalidUtf8: Arbitrary<RawText> = fc
  .tuple(
    fc.string({ maxLength: 4 }),
    fc.constantFrom(
      [0xff],
      [0xc0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0xe2, 0x82],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xfe, 0xff],
    ),
    fc.string({ maxLength: 4 }),
  )
  .map(([before, bytes, after]) => new RawText(Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])));

/** One short unit repeated to about `bytes` bytes of UTF-8 (up to ~1.5 MiB, fast to build). */
const hugeText = (unit: Arbitrary<string>, bytes: Arbitrary<number>): Arbitrary<string> =>
  fc.tuple(unit.filter((u) => u.length > 0), bytes).map(([u, n]) => u.repeat(Math.max(1, Math.ceil(n / Buffer.byteLength(u)))));

/** A single code point repeated `count` times: exactly `count` characters however counted. */
export const repeated = (count: Arbitrary<number>): Arbitrary<string> =>
  fc.tuple(fc.constantFrom("k", "é", "€", "👍", "\u202E"), count).map(([unit, n]) => unit.repeat(n));

const hugeUnit = fc.oneof(fc.constantFrom("a", "é", "👩‍👩‍👧‍👦", "\u202E", "\uD800", "x\u0000"), oddText(3));
const anyHugeText = hugeText(hugeUnit, fc.integer({ min: 1, max: 1_600_000 }));
export const asciiText = (maxLength: number) => fc.string({ maxLength }).map((text) => text.replaceAll("\u0000", ""));

/** Free text of at most `max` characters, no NUL; "" means none (concurrency_key, schedule). */
function boundedTextValues(path: string, max: number): Values<Text> {
  return {
    edges: [ok("k".repeat(max)), refused(path, "k".repeat(max + 1)), refused(path, "k\u0000"), refused(path, mib15)],
    valid: valid(fc.oneof(fc.constant(""), asciiText(max), cleanText(8).filter((text) => text.length <= max))),
    bad: bad(path, fc.oneof(repeated(intRange(max + 1, 600_000)), fc.tuple(cleanText(3), cleanText(3)).map(([a, b]) => `${a}\u0000${b}`))),
    other: other(invalidUtf8),
  };
}

// ---------------------------------------------------------------------------------------------
// JSON input

const numberOf = (clean: boolean): Arbitrary<number> =>
  fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(0, -0, 2 ** 53, -(2 ** 53), 2 ** 63, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 0.1, 1e21),
    ...(clean ? [] : [fc.constantFrom(Number.NaN, Infinity, -Infinity)]),
  );

const keyOf = (clean: boolean): Arbitrary<string> =>
  fc.oneof(
    // A "__proto__" key is refused (the generated decoders would drop it): not clean.
    fc.constantFrom(...(clean ? [] : ["__proto__"]), "constructor", "toString", "hasOwnProperty", "", "a", "0", "\u202E", "👍", "k\uD800"),
    clean ? cleanText(3).filter((key) => key !== "__proto__") : oddText(3),
  );

const leafOf = (clean: boolean): Arbitrary<Json> =>
  fc.oneof(fc.constant(null), fc.boolean(), numberOf(clean), clean ? cleanText() : oddText());

const jsonOf = (clean: boolean): Arbitrary<Json> =>
  fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { maxDepth: 4, depthSize: "small" },
      leafOf(clean),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.array(fc.tuple(keyOf(clean), tie("value")), { maxLength: 4 }).map((entries) => objectOf(entries)),
    ),
  })).value;

/** A leaf inside `depth` arrays and objects (the pattern says which, in turn). */
const nestedOf = (clean: boolean, depth: Arbitrary<number>): Arbitrary<Json> =>
  fc
    .tuple(depth, fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), leafOf(clean), keyOf(clean))
    .map(([levels, pattern, leaf, key]) => {
      let value: Json = leaf;
      for (let i = 0; i < levels; i++) value = pattern[i % pattern.length] ? [value] : objectOf([[key, value]]);
      return value;
    });

/** Bytes a string takes in the input's JSON as the service gets it (after UTF-8; "\n" is 2). */
const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(Buffer.from(text).toString())) - 2;

/** A huge string of about `bytes` bytes as JSON, bare or inside an object or an array. */
const hugeInput = (unit: Arbitrary<string>, bytes: Arbitrary<number>): Arbitrary<Json> =>
  fc
    .tuple(
      unit.filter((u) => u.length > 0),
      bytes,
      fc.constantFrom("bare", "object", "array"),
    )
    .map(([u, n, shape]) => {
      const text = u.repeat(Math.max(1, Math.ceil(n / jsonBytes(u))));
      return shape === "bare" ? text : shape === "object" ? objectOf([["data", text]]) : [text, 1];
    });

const cleanUnit = fc.oneof(fc.constantFrom("a", "é", "👩‍👩‍👧‍👦", "\u202E", "\uD800"), cleanText(3));

/** Inputs small enough to send many in one CreateTasks. */
const smallValidInput: Arbitrary<Json | undefined> = fc.oneof(
  fc.constant(undefined),
  jsonOf(true),
  nestedOf(true, fc.integer({ min: 1, max: 30 })),
);

const nested = (levels: number, inObjects: boolean): Json => {
  let value: Json = 1;
  for (let i = 0; i < levels; i++) value = inObjects ? objectOf([["a", value]]) : [value];
  return value;
};
export const mib15 = "a".repeat(1_572_864);

const inputValues: Values<Json | undefined> = {
  edges: [
    refused("input", Number.NaN),
    refused("input", Infinity),
    refused("input", -Infinity),
    refused("input", objectOf([["n", Number.NaN]])),
    refused("input", "\u0000"),
    refused("input", objectOf([["__proto__", objectOf([["a", 1]])]])),
    // Its path once read `input. .__proto__`, a key unquoted.
    refused("input", objectOf([[" ", objectOf([["__proto__", false]])]])),
    ok(["\u202Eevil", "👩‍👩‍👧‍👦", "\uD800"]),
    // Strings that read as JSON once more: GetTask once answered "0" as 0 and "null" as null.
    ok("0"),
    ok("null"),
    ok('"q"'),
    ok("[1]"),
    ok(nested(30, false)),
    refused("input", nested(35, false)),
    refused("input", nested(35, true)),
    refused("input", nested(200, false)),
    refused("input", nested(200, true)),
    refused("input", mib15),
  ],
  valid: valid(fc.oneof(smallValidInput, hugeInput(cleanUnit, fc.integer({ min: 1, max: 999_000 })))),
  bad: bad(
    "input",
    fc.oneof(
      fc.constantFrom(Number.NaN, Infinity, -Infinity, "\u0000"),
      fc
        .tuple(jsonOf(true), fc.constantFrom<Json>(Number.NaN, Infinity, -Infinity, "\u0000", "a\u0000b"), fc.boolean())
        .map(([json, poison, inObject]) => (inObject ? objectOf([["x", json], ["poison", poison]]) : [json, poison])),
      jsonOf(true).map((json) => objectOf([["k\u0000", json]])),
      nestedOf(true, fc.integer({ min: 35, max: 200 })),
      hugeInput(cleanUnit, fc.integer({ min: 1_100_000, max: 1_600_000 })),
    ),
  ),
  other: other(
    fc.oneof(
      fc.tuple(jsonOf(true), invalidUtf8).map(([json, raw]): Json => [json, raw]),
      nestedOf(true, fc.integer({ min: 31, max: 34 })),
      hugeInput(cleanUnit, fc.integer({ min: 999_000, max: 1_100_000 })),
      jsonOf(false),
      nestedOf(false, fc.integer({ min: 1, max: 200 })),
    ),
  ),
};

// ---------------------------------------------------------------------------------------------
// Numbers and times

export const intRange = (min: number, max: number) => fc.integer({ min, max });

/** Values in min..max are valid; int32 values outside, and the extremes, are bad. */
export function int32Values(path: string, min: number, max: number): Values<number> {
  return {
    edges: [ok(min), ok(max), refused(path, min - 1), refused(path, max + 1), refused(path, int32Min), refused(path, int32Max)],
    valid: valid(fc.oneof(intRange(min, max), fc.constantFrom(min, max))),
    bad: bad(
      path,
      fc.oneof(
        fc.constantFrom(int32Min, int32Max, min - 1, max + 1),
        intRange(max + 1, int32Max),
        intRange(int32Min, min - 1),
      ),
    ),
  };
}

export const nanos = intRange(0, 999_999_999);
export const badNanos = fc.oneof(intRange(int32Min, -1), intRange(1_000_000_000, int32Max));
export const time = (seconds: Arbitrary<bigint>, nanosOf: Arbitrary<number>) =>
  fc.record({ seconds, nanos: nanosOf }) as Arbitrary<WireTime>;

/** 0100-01-01T00:00:00Z: years 1 to 99 are where two-digit-year parsers go wrong. */
const year100Seconds = -59_011_459_200n;

const validTime: Arbitrary<WireTime> = fc.oneof(
  time(fc.bigInt({ min: minSeconds, max: maxSeconds }), nanos),
  time(fc.bigInt({ min: minSeconds, max: year100Seconds }), nanos),
  fc.constantFrom<WireTime>(
    { seconds: minSeconds, nanos: 0 },
    { seconds: maxSeconds, nanos: 999_999_999 },
    { seconds: 0n, nanos: 0 },
    { seconds: -1n, nanos: 999_999_999 },
  ),
);

const badTime: Arbitrary<WireTime> = fc.oneof(
  time(fc.bigInt({ min: int64Min, max: minSeconds - 1n }), nanos),
  time(fc.bigInt({ min: maxSeconds + 1n, max: int64Max }), nanos),
  time(fc.bigInt({ min: minSeconds, max: maxSeconds }), badNanos),
  fc.constantFrom<WireTime>(
    { seconds: int64Max, nanos: 0 },
    { seconds: int64Min, nanos: 0 },
    { seconds: minSeconds - 1n, nanos: 999_999_999 },
    { seconds: maxSeconds + 1n, nanos: 0 },
    // The far ends of JavaScript's Date (±100,000,000 days).
    { seconds: 8_640_000_000_000n, nanos: 0 },
    { seconds: -8_640_000_000_000n, nanos: 0 },
    { seconds: 0n, nanos: -1 },
    { seconds: 0n, nanos: 1_000_000_000 },
  ),
);

const timeEdges = (path: string): Tagged<WireTime>[] => [
  ok({ seconds: minSeconds, nanos: 0 }),
  ok({ seconds: maxSeconds, nanos: 999_999_999 }),
  // 4283-05-31T22:20:38.181Z: its milliseconds do not survive a trip through float8 seconds.
  ok({ seconds: 73_004_278_838n, nanos: 181_000_000 }),
  refused(path, { seconds: 0n, nanos: -1 }),
  refused(path, { seconds: 0n, nanos: 1_000_000_000 }),
  refused(path, { seconds: minSeconds - 1n, nanos: 0 }),
  refused(path, { seconds: maxSeconds + 1n, nanos: 0 }),
  refused(path, { seconds: int64Max, nanos: 0 }),
  refused(path, { seconds: int64Min, nanos: 0 }),
];

function timeValues(path: string): Values<WireTime | undefined> {
  return { valid: valid(fc.option(validTime, { nil: undefined })), bad: bad(path, badTime), edges: timeEdges(path) };
}

export const day = 86_400n;
const timeoutValues: Values<WireTime | undefined> = {
  edges: [
    ok({ seconds: 1n, nanos: 0 }),
    ok({ seconds: day, nanos: 0 }),
    refused("timeout", { seconds: 0n, nanos: 0 }),
    refused("timeout", { seconds: 2n, nanos: -1 }),
    refused("timeout", { seconds: 1n, nanos: 1_000_000_000 }),
    refused("timeout", { seconds: day + 1n, nanos: 0 }),
    refused("timeout", { seconds: int64Max, nanos: 0 }),
    refused("timeout", { seconds: int64Min, nanos: 0 }),
  ],
  valid: valid(
    fc.oneof(
      fc.constant(undefined),
      time(fc.bigInt({ min: 1n, max: day - 1n }), nanos),
      fc.constantFrom<WireTime>({ seconds: 1n, nanos: 0 }, { seconds: day, nanos: 0 }),
    ),
  ),
  bad: bad(
    "timeout",
    fc.oneof(
      time(fc.constant(0n), nanos), // under 1 s
      time(fc.bigInt({ min: int64Min, max: -1n }), intRange(-999_999_999, 0)), // negative
      time(fc.bigInt({ min: day + 1n, max: int64Max }), nanos), // over 24 h
      time(fc.constant(day), intRange(1, 999_999_999)),
      time(fc.bigInt({ min: 1n, max: day - 1n }), badNanos), // not a valid Duration
      fc.constantFrom<WireTime>({ seconds: int64Max, nanos: 0 }, { seconds: int64Min, nanos: 0 }, { seconds: 2n, nanos: -1 }),
    ),
  ),
};

// ---------------------------------------------------------------------------------------------
// Backoff: base 0..24 h, factor 1..10 (0 unset), max 0..7 days, jitter 0..1 (with presence).
// The fields set go over the kind's backoff (demo.echo sets none, so the defaults), and the
// resolved max must be at least the resolved base. The service counts durations in whole
// milliseconds, so values within a millisecond over a limit, or a max within a millisecond
// under its base, are on the boundary: "other".

const week = 7n * day;
const defaultBaseNs = 1_000_000_000n;
const defaultMaxNs = 3_600_000_000_000n;
const nsOf = (time: WireTime) => time.seconds * 1_000_000_000n + BigInt(time.nanos);
const msOf = (ns: bigint) => ns / 1_000_000n;

/** A valid Duration of at most `limit` seconds (its end exactly, not a nanosecond past it). */
const durationUpTo = (limit: bigint): Arbitrary<WireTime> =>
  fc.oneof(
    time(fc.bigInt({ min: 0n, max: limit - 1n }), nanos),
    time(fc.bigInt({ min: 0n, max: 5n }), nanos), // short waits, where a base and a max meet
    fc.constantFrom<WireTime>({ seconds: 0n, nanos: 0 }, { seconds: 1n, nanos: 0 }, { seconds: limit, nanos: 0 }),
  );

/** Not a valid Duration, or past `limit` seconds by a millisecond or more. */
const badDuration = (limit: bigint): Arbitrary<WireTime> =>
  fc.oneof(
    time(fc.bigInt({ min: int64Min, max: -1n }), intRange(-999_999_999, 0)), // negative
    time(fc.bigInt({ min: 0n, max: limit }), badNanos), // nanos out of range
    time(fc.bigInt({ min: limit + 1n, max: int64Max }), nanos),
    time(fc.constant(limit), intRange(1_000_000, 999_999_999)),
    fc.constantFrom<WireTime>(
      { seconds: int64Max, nanos: 0 },
      { seconds: int64Min, nanos: 0 },
      { seconds: -1n, nanos: 0 },
      { seconds: 0n, nanos: -1 },
      { seconds: 0n, nanos: 1_000_000_000 },
      { seconds: limit + 1n, nanos: 0 },
    ),
  );

const validFactor = fc.oneof(fc.constantFrom(0, -0, 1, 10, 2), fc.double({ min: 1, max: 10, noNaN: true }));
const validJitter = fc.oneof(fc.constantFrom(0, -0, 1, 0.25), fc.double({ min: 0, max: 1, noNaN: true }));
const notFinite = fc.constantFrom(Number.NaN, Infinity, -Infinity);
/** The doubles next to 1 and 10. */
const justUnder1 = 1 - Number.EPSILON / 2;
const justOver1 = 1 + Number.EPSILON;
const justOver10 = 10 + 8 * Number.EPSILON;
const badFactor = fc.oneof(
  notFinite,
  fc.constantFrom(-1, 0.5, Number.MIN_VALUE, justUnder1, justOver10, 11, 1e308, Number.MAX_VALUE, -Number.MAX_VALUE),
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: Number.MIN_VALUE, max: justUnder1, noNaN: true }),
  fc.double({ min: justOver10, noNaN: true, noDefaultInfinity: true }),
);
const badJitter = fc.oneof(
  notFinite,
  fc.constantFrom(-Number.MIN_VALUE, -1, justOver1, 2, 1e308, Number.MAX_VALUE, -Number.MAX_VALUE),
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: justOver1, noNaN: true, noDefaultInfinity: true }),
);

/** A BackoffSpec without its undefined fields (they print as noise in counterexamples). */
function backoffOf(base: WireTime | undefined, factor: number | undefined, max: WireTime | undefined, jitter: number | undefined): BackoffSpec {
  return Object.fromEntries(Object.entries({ base, factor, max, jitter }).filter(([, value]) => value !== undefined)) as BackoffSpec;
}

const maybe = <T>(arb: Arbitrary<T>) => fc.option(arb, { nil: undefined });
const anyBackoff = (base: Arbitrary<WireTime>, factor: Arbitrary<number>, max: Arbitrary<WireTime>, jitter: Arbitrary<number>) =>
  fc.tuple(maybe(base), maybe(factor), maybe(max), maybe(jitter)).map(([b, f, m, j]) => backoffOf(b, f, m, j));

/** Base and max as the service resolves them, in nanoseconds. */
const resolvedNs = (backoff: BackoffSpec) => ({
  base: backoff.base ? nsOf(backoff.base) : defaultBaseNs,
  max: backoff.max ? nsOf(backoff.max) : defaultMaxNs,
});

/** Every field in range, and a max at least the base once resolved (else max is made the base). */
const validBackoff: Arbitrary<BackoffSpec> = anyBackoff(durationUpTo(day), validFactor, durationUpTo(week), validJitter).map((backoff) => {
  const { base, max } = resolvedNs(backoff);
  return max >= base ? backoff : { ...backoff, max: backoff.base ?? { seconds: 1n, nanos: 0 } };
});

/** One field out of range, the others valid: refused naming that field. */
const oneBadBackoffField: Arbitrary<Tagged<BackoffSpec>> = fc
  .tuple(
    validBackoff,
    fc.oneof(
      badDuration(day).map((base) => ["base", base] as const),
      badFactor.map((factor) => ["factor", factor] as const),
      badDuration(week).map((max) => ["max", max] as const),
      badJitter.map((jitter) => ["jitter", jitter] as const),
    ),
  )
  .map(([backoff, [name, value]]) => refused(`backoff.${name}`, { ...backoff, [name]: value }));

/** Each field in range, but a max under the base (a millisecond or more) once resolved. */
const invertedBackoff: Arbitrary<BackoffSpec> = fc.oneof(
  fc
    .tuple(durationUpTo(day), durationUpTo(day), maybe(validFactor), maybe(validJitter))
    .filter(([a, b]) => msOf(nsOf(a)) !== msOf(nsOf(b)))
    .map(([a, b, factor, jitter]) => (nsOf(a) > nsOf(b) ? backoffOf(a, factor, b, jitter) : backoffOf(b, factor, a, jitter))),
  // Over the default max of 1 h, with no max of its own.
  time(fc.bigInt({ min: 3601n, max: day - 1n }), nanos).map((base) => backoffOf(base, undefined, undefined, undefined)),
  // Under the default base of 1 s, with no base of its own.
  time(fc.constant(0n), intRange(0, 998_999_999)).map((max) => backoffOf(undefined, undefined, max, undefined)),
);

const backoffValues: Values<BackoffSpec | undefined> = {
  edges: [
    ok({}),
    ok({ base: { seconds: 0n, nanos: 0 }, max: { seconds: 0n, nanos: 0 } }),
    ok({ base: { seconds: day, nanos: 0 }, factor: 10, max: { seconds: week, nanos: 0 }, jitter: 1 }),
    ok({ factor: 1, jitter: 0 }),
    ok({ factor: -0, jitter: -0 }),
    refused("backoff.factor", { factor: Number.NaN }),
    refused("backoff.factor", { factor: Infinity }),
    refused("backoff.factor", { factor: -Infinity }),
    refused("backoff.factor", { factor: Number.MIN_VALUE }),
    refused("backoff.factor", { factor: justOver10 }),
    refused("backoff.factor", { factor: Number.MAX_VALUE }),
    refused("backoff.factor", { factor: -1 }),
    refused("backoff.jitter", { jitter: Number.NaN }),
    refused("backoff.jitter", { jitter: Infinity }),
    refused("backoff.jitter", { jitter: -Number.MIN_VALUE }),
    refused("backoff.jitter", { jitter: justOver1 }),
    refused("backoff.jitter", { jitter: -Number.MAX_VALUE }),
    refused("backoff.base", { base: { seconds: -1n, nanos: 0 } }),
    refused("backoff.base", { base: { seconds: 0n, nanos: -1 } }),
    refused("backoff.base", { base: { seconds: 0n, nanos: 1_000_000_000 } }),
    refused("backoff.base", { base: { seconds: day, nanos: 1_000_000 }, max: { seconds: week, nanos: 0 } }),
    refused("backoff.base", { base: { seconds: int64Max, nanos: 0 } }),
    refused("backoff.base", { base: { seconds: int64Min, nanos: 0 } }),
    refused("backoff.max", { max: { seconds: week + 1n, nanos: 0 } }),
    refused("backoff.max", { max: { seconds: int64Max, nanos: 999_999_999 } }),
    refused("backoff.max", { max: { seconds: -1n, nanos: 0 } }),
    refused("backoff.max", { base: { seconds: 7200n, nanos: 0 } }), // over the default max of 1 h
    refused("backoff.max", { max: { seconds: 0n, nanos: 999_000_000 } }), // under the default base of 1 s
    refused("backoff.max", { base: { seconds: 10n, nanos: 0 }, max: { seconds: 5n, nanos: 0 } }),
    // Past a limit, or under the base, by less than the millisecond the service counts in.
    { value: { base: { seconds: day, nanos: 1 }, max: { seconds: week, nanos: 0 } }, expect: ANY },
    { value: { max: { seconds: week, nanos: 999_999 } }, expect: ANY },
    { value: { base: { seconds: 1n, nanos: 900_000 }, max: { seconds: 1n, nanos: 100_000 } }, expect: ANY },
  ],
  valid: valid(fc.oneof(fc.constant(undefined), validBackoff)),
  bad: fc.oneof(oneBadBackoffField, bad("backoff.max", invertedBackoff)),
  // Boundaries, and anything at all: each field valid, bad or missing.
  other: other(
    fc.oneof(
      anyBackoff(time(fc.constant(day), intRange(1, 999_999)), validFactor, time(fc.constant(week), intRange(1, 999_999)), validJitter),
      anyBackoff(durationUpTo(day), validFactor, durationUpTo(week), validJitter),
      anyBackoff(
        fc.oneof(durationUpTo(day), badDuration(day)),
        fc.oneof(validFactor, badFactor),
        fc.oneof(durationUpTo(week), badDuration(week)),
        fc.oneof(validJitter, badJitter),
      ),
    ),
  ),
};

// ---------------------------------------------------------------------------------------------
// CreateTask

const kindValues: Values<Text> = {
  edges: [refused("kind", ""), refused("kind", "demo.echo\u0000"), refused("kind", "k".repeat(1001)), refused("kind", mib15)],
  valid: valid(fc.constant("demo.echo")),
  bad: bad(
    "kind",
    fc.oneof(
      fc.constantFrom("", "demo.echo\u0000", "DEMO.ECHO", " demo.echo", "demo.echo "),
      oddText().filter((kind) => !registeredKinds.has(kind)),
      anyHugeText,
      invalidUtf8,
    ),
  ),
};

const queuePattern = /^[A-Za-z0-9._-]{1,64}$/;
export const validQueue = fc.stringMatching(queuePattern);
export const queueValues = (path: string): Values<Text> => ({
  edges: [ok("q".repeat(64)), ok("__proto__"), refused(path, "q".repeat(65)), refused(path, "q\u0000"), refused(path, "q".repeat(1001)), refused(path, mib15)],
  valid: valid(fc.oneof(fc.constant(""), validQueue)),
  bad: bad(
    path,
    fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._-]{65,100}$/),
      fc
        .tuple(validQueue, fc.constantFrom(" ", "/", "é", "\u0000", "👍", "\n", "*", "\uD800"), fc.nat())
        .map(([queue, odd, at]) => queue.slice(0, at % (queue.length + 1)) + odd + queue.slice(at % (queue.length + 1))),
      hugeText(fc.constantFrom("q", "é"), fc.integer({ min: 65, max: 1_600_000 })),
      invalidUtf8,
    ),
  ),
});

const validLabelKey = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/);
const validLabelValue = fc.oneof(asciiText(255), cleanText(8).filter((value) => value.length <= 60));
const validLabelEntries = (maxLength: number) =>
  fc.uniqueArray(fc.tuple(validLabelKey, validLabelValue), { maxLength, selector: ([key]) => key });
const badLabelKey = fc.oneof(
  fc.constantFrom("", "__proto__", "-a", ".a", "/a", "a b", "é", "a\u0000", "👍", "a\n"),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._/-]{63,100}$/),
  hugeText(fc.constantFrom("k", "é"), fc.integer({ min: 64, max: 1_600_000 })),
);
const badLabelValue = fc.oneof(repeated(intRange(256, 400_000)), cleanText(3).map((text) => `${text}\u0000`));

/** Inserts one entry at a position chosen by `at`. */
const insertAt = <T>(items: T[], item: T, at: number): T[] => {
  const i = at % (items.length + 1);
  return [...items.slice(0, i), item, ...items.slice(i)];
};

const labelsValues = (path: string): Values<LabelsSpec> => ({
  edges: [
    ok({ count: 32, value: "v" }),
    refused(path, { count: 33, value: "v" }),
    refused(path, { entries: [["__proto__", "v"]] }),
    refused(path, { entries: [["k", "v\u0000"]] }),
    refused(path, { entries: [["k".repeat(1001), "v"]] }),
    refused(path, { count: 10_000, value: "v" }),
    refused(path, { entries: [[mib15, "v"]] }),
  ],
  valid: valid(validLabelEntries(32).map((entries) => ({ entries }))),
  bad: bad(
    path,
    fc.oneof(
      fc
        .tuple(fc.oneof(intRange(33, 100), intRange(100, 10_000), fc.constant(10_000)), validLabelValue)
        .map(([count, value]) => ({ count, value })),
      fc
        .tuple(validLabelEntries(4), badLabelKey, validLabelValue, fc.nat())
        .filter(([entries, key]) => !entries.some(([k]) => k === key))
        .map(([entries, key, value, at]) => ({ entries: insertAt(entries, [key, value] as [Text, Text], at) })),
      fc
        .tuple(validLabelEntries(4), validLabelKey, badLabelValue, fc.nat())
        .filter(([entries, key]) => !entries.some(([k]) => k === key))
        .map(([entries, key, value, at]) => ({ entries: insertAt(entries, [key, value] as [Text, Text], at) })),
    ),
  ),
  other: other(
    fc.oneof(
      fc.tuple(validLabelKey, invalidUtf8).map(([key, value]) => ({ entries: [[key, value]] as [Text, Text][] })),
      fc.tuple(invalidUtf8, validLabelValue).map(([key, value]) => ({ entries: [[key, value]] as [Text, Text][] })),
      fc.tuple(validLabelKey, validLabelValue, validLabelValue).map(([key, a, b]) => ({ entries: [[key, a], [key, b]] as [Text, Text][] })),
      fc.array(fc.tuple(oddText(3), oddText(6)), { maxLength: 40 }).map((entries) => ({ entries: entries as [Text, Text][] })),
    ),
  ),
});

const idempotencyKeyValues: Values<IdempotencyKey> = {
  edges: [
    ok("k".repeat(200)),
    refused("idempotency_key", "k".repeat(201)),
    refused("idempotency_key", "k\u0000"),
    refused("idempotency_key", mib15),
  ],
  // Unique keys, so that no run depends on an earlier one (CreateTasks reuses a key within one
  // batch instead); the salt takes up to 10 of the 200 characters.
  valid: valid(
    fc.oneof(
      fc.constant(""),
      fc.uuid().map((id) => ({ unique: id })),
      asciiText(180).map((text) => ({ unique: text })),
      cleanText(6)
        .filter((text) => text.length <= 50)
        .map((text) => ({ unique: text })),
    ),
  ),
  bad: bad(
    "idempotency_key",
    fc.oneof(repeated(intRange(201, 600_000)), fc.tuple(cleanText(3), cleanText(3)).map(([a, b]) => `${a}\u0000${b}`)),
  ),
  other: other(invalidUtf8.map((raw) => ({ unique: raw }))),
};

export const createValues = {
  kind: kindValues,
  input: inputValues,
  queue: queueValues("queue"),
  priority: int32Values("priority", -1000, 1000),
  run_at: timeValues("run_at"),
  max_attempts: int32Values("max_attempts", 0, 100),
  timeout: timeoutValues,
  idempotency_key: idempotencyKeyValues,
  labels: labelsValues("labels"),
  concurrency_key: boundedTextValues("concurrency_key", 200),
  backoff: backoffValues,
};

type CreateField = keyof typeof createValues;
const createFields = Object.keys(createValues) as CreateField[];
const specKey: Record<CreateField, keyof CreateSpec> = {
  kind: "kind",
  input: "input",
  queue: "queue",
  priority: "priority",
  run_at: "runAt",
  max_attempts: "maxAttempts",
  timeout: "timeout",
  idempotency_key: "idempotencyKey",
  labels: "labels",
  concurrency_key: "concurrencyKey",
  backoff: "backoff",
};

const withField = (task: CreateSpec, name: CreateField, value: unknown): CreateSpec => ({ ...task, [specKey[name]]: value });

/** Tagged values of every field at once; `pick` chooses which class of each field. */
function everyField(pick: (values: Values<unknown>) => Arbitrary<Tagged<unknown>>, only: readonly CreateField[] = createFields) {
  return fc.tuple(...only.map((name) => pick(createValues[name] as Values<unknown>))).map((tagged) => {
    let task: CreateSpec = minimalTask;
    only.forEach((name, i) => (task = withField(task, name, tagged[i]!.value)));
    return { task, tagged };
  });
}

export const wildOf = (values: Values<unknown>) => fc.oneof(values.valid, values.bad, ...(values.other ? [values.other] : []));

/** A task whose every field is valid (small input, so that many fit in one call). */
const validTask: Arbitrary<CreateSpec> = everyField((values) => (values === inputValues ? valid(smallValidInput) : values.valid)).map(
  ({ task }) => task,
);

/** A task with exactly one bad field: the spec and the path the refusal must name. */
const oneBadTask: Arbitrary<Tagged<CreateSpec>> = fc
  .constantFrom(...createFields)
  .chain((name) =>
    createValues[name].bad.map((tagged): Tagged<CreateSpec> => ({ value: withField(minimalTask, name, tagged.value), expect: tagged.expect })),
  );

export function createTaskFields(): FieldCases[] {
  const build = (name: CreateField) => (value: unknown): Spec => ({ rpc: "CreateTask", request: withField(minimalTask, name, value) });
  return [
    ...createFields.map((name) => field(name, createValues[name] as Values<unknown>, build(name))),
    {
      field: "every field at once",
      oracle: validTask.map((task) => caseOf({ rpc: "CreateTask", request: task }, OK)),
      wild: everyField(wildOf).map(({ task }) => caseOf({ rpc: "CreateTask", request: task }, ANY)),
    },
    garbage("CreateTask", validTask.map((task): Spec => ({ rpc: "CreateTask", request: task }))),
  ];
}

/** The fields a task reads back with, which the round trip varies (kind stays demo.echo). */
const roundTripNames: readonly CreateField[] = ["input", "run_at", "timeout", "priority", "labels", "idempotency_key", "concurrency_key", "backoff"];

/** CreateTask requests with wild values in one field (edges first), then in all of them at once. */
export function roundTripFields(): FieldCases[] {
  const single = (names: readonly CreateField[]) =>
    everyField(wildOf, names).map(({ task }) => caseOf({ rpc: "CreateTask", request: task }, ANY));
  return [
    ...roundTripNames.map((name) => ({
      field: name,
      oracle: single([name]),
      wild: single([name]),
      edges: ((createValues[name] as Values<unknown>).edges ?? []).map((edge) =>
        caseOf({ rpc: "CreateTask", request: withField(minimalTask, name, edge.value) }, ANY),
      ),
    })),
    { field: "every field at once", oracle: single(roundTripNames), wild: single(roundTripNames) },
  ];
}

/** CreateTasks batches of 1 to 4 tasks with one wild field each, so that most are accepted. */
export function roundTripBatches(): FieldCases {
  const batches = fc
    .array(
      fc.constantFrom(...roundTripNames).chain((name) => everyField(wildOf, [name]).map(({ task }) => task)),
      { minLength: 1, maxLength: 4 },
    )
    .map((tasks) => caseOf({ rpc: "CreateTasks", tasks }, ANY));
  return { field: "tasks", oracle: batches, wild: batches };
}

/** 1 to 5 valid tasks; sometimes the first two share an idempotency key (the first one wins). */
const validBatch: Arbitrary<CreateSpec[]> = fc
  .tuple(fc.array(validTask, { minLength: 1, maxLength: 5 }), fc.option(fc.uuid(), { nil: undefined }))
  .map(([tasks, key]) =>
    key === undefined ? tasks : tasks.map((task, i) => (i < 2 ? { ...task, idempotencyKey: { unique: key } } : task)),
  );

export function createTasksFields(): FieldCases[] {
  const batch = (tasks: CreateSpec[] | { count: number }): Spec => ({ rpc: "CreateTasks", tasks });
  return [
    field(
      "tasks",
      {
        edges: [refused("tasks", []), ok({ count: 1000 }), refused("tasks", { count: 1001 })],
        valid: valid(validBatch),
        bad: bad("tasks", fc.oneof(fc.constant<CreateSpec[] | { count: number }>([]), intRange(1001, 3000).map((count) => ({ count })))),
      },
      batch,
    ),
    field(
      "one bad task",
      {
        valid: valid(validBatch),
        bad: fc.tuple(fc.array(validTask, { maxLength: 3 }), oneBadTask, fc.nat()).map(([tasks, badTask, at]) => {
          const i = at % (tasks.length + 1);
          return under(`tasks[${i}].`, { value: insertAt(tasks, badTask.value, i), expect: badTask.expect });
        }),
        other: other(fc.array(everyField(wildOf).map(({ task }) => task), { minLength: 1, maxLength: 4 })),
      },
      batch,
    ),
    garbage("CreateTasks", fc.array(validTask, { minLength: 1, maxLength: 3 }).map(batch)),
  ];
}

// ---------------------------------------------------------------------------------------------
// Ids: GetTask, WatchTask, CancelTask, StreamLogs

/** UUIDs of no task. */
const freshId: Arbitrary<Tagged<IdRef>> = fc
  .oneof(
    fc.uuid(),
    fc.uuid().map((id) => id.toUpperCase()),
    fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
  )
  .map((id): Tagged<IdRef> => ({ value: { fresh: id }, expect: { type: "not_found" } }));

/** Known ids are the tasks the test created first (World.knownIds); fresh UUIDs name no task. */
const idValues = (path: string): Values<IdRef> => ({
  edges: [
    ok({ known: 0 }),
    ok({ known: 0, upperCase: true }),
    { value: { fresh: "00000000-0000-0000-0000-000000000000" }, expect: { type: "not_found" } },
    refused(path, ""),
    refused(path, "not-a-uuid"),
    refused(path, "x".repeat(1001)),
    refused(path, mib15),
  ],
  valid: fc.oneof(fc.record({ known: intRange(0, 2), upperCase: fc.boolean() }).map((id) => ({ value: id as IdRef, expect: OK })), freshId),
  bad: bad(
    path,
    fc.oneof(
      fc.constant(""),
      oddText().filter((id) => !/^[0-9a-f-]{32,36}$/i.test(id)),
      anyHugeText,
      fc
        .tuple(fc.uuid(), fc.constantFrom("\n", " ", "0", "x", "\u0000", "/../x", "'; drop table spool.tasks; --"))
        .map(([id, suffix]) => id + suffix),
      fc.uuid().map((id) => id.replace(/[0-9a-f]/, "g")),
      fc.uuid().map((id) => `urn:uuid:${id}`),
      invalidUtf8,
    ),
  ),
  // Forms Postgres would read as a UUID, which the contract does not settle either way.
  other: other(fc.oneof(fc.uuid().map((id) => id.replaceAll("-", "")), fc.uuid().map((id) => `{${id}}`))),
});

const reasonValues: Values<Text> = {
  edges: [ok("r".repeat(1000)), refused("reason", "r".repeat(1001)), refused("reason", "r\u0000"), refused("reason", mib15)],
  valid: valid(fc.oneof(fc.constant(""), asciiText(1000), cleanText(8).filter((reason) => reason.length <= 200))),
  bad: bad("reason", fc.oneof(repeated(intRange(1001, 600_000)), fc.tuple(cleanText(3), cleanText(3)).map(([a, b]) => `${a}\u0000${b}`))),
  other: other(invalidUtf8),
};

export function idFields(rpc: "GetTask" | "WatchTask"): FieldCases[] {
  const byId = (id: IdRef): Spec => ({ rpc, id });
  return [field("id", idValues("id"), byId), garbage(rpc, idValues("id").valid.map((tagged) => byId(tagged.value)))];
}

const failedPrecondition: Expect = { type: "failed_precondition" };

/**
 * RetryTask's ids: the cancelled and the failed task are retried (OK, each time as a new
 * task); the succeeded ones and the one still due are FAILED_PRECONDITION.
 */
const retryIdValues: Values<IdRef> = {
  ...idValues("id"),
  edges: [
    ok({ known: 3 }),
    ok({ known: 4, upperCase: true }),
    { value: { known: 0 }, expect: failedPrecondition },
    { value: { known: 5 }, expect: failedPrecondition },
    ...(idValues("id").edges ?? []).filter(({ value }) => typeof value !== "object" || !("known" in value)),
  ],
  valid: fc.oneof(
    fc.record({ known: fc.constantFrom(3, 4), upperCase: fc.boolean() }).map((id): Tagged<IdRef> => ({ value: id, expect: OK })),
    fc.record({ known: fc.constantFrom(0, 1, 5), upperCase: fc.boolean() }).map((id): Tagged<IdRef> => ({ value: id, expect: failedPrecondition })),
    freshId,
  ),
};

export function retryTaskFields(): FieldCases[] {
  const retry = (id: IdRef): Spec => ({ rpc: "RetryTask", id });
  return [field("id", retryIdValues, retry), garbage("RetryTask", retryIdValues.valid.map((tagged) => retry(tagged.value)))];
}

export function cancelTaskFields(): FieldCases[] {
  const cancel = (id: IdRef, reason: Text): Spec => ({ rpc: "CancelTask", id, reason });
  return [
    field("id", idValues("id"), (id) => cancel(id, "")),
    field("reason", reasonValues, (reason) => cancel({ known: 2 }, reason)),
    {
      field: "every field at once",
      oracle: fc.tuple(idValues("id").valid, reasonValues.valid).map(([id, reason]) => caseOf(cancel(id.value, reason.value), id.expect)),
      wild: fc.tuple(wildOf(idValues("id") as Values<unknown>), wildOf(reasonValues as Values<unknown>)).map(([id, reason]) =>
        caseOf(cancel(id.value as IdRef, reason.value as Text), ANY),
      ),
    },
    garbage("CancelTask", idValues("id").valid.map((tagged) => cancel(tagged.value, "by a property test"))),
  ];
}

const afterSeqValues: Values<bigint> = {
  edges: [
    ok(0n),
    ok(2n ** 53n - 1n),
    refused("after_seq", -1n),
    refused("after_seq", 2n ** 53n),
    refused("after_seq", int64Max),
    refused("after_seq", int64Min),
  ],
  valid: valid(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.constantFrom(0n, 1n, 2n ** 53n - 1n))),
  bad: bad(
    "after_seq",
    fc.oneof(
      fc.bigInt({ min: int64Min, max: -1n }),
      fc.bigInt({ min: 2n ** 53n, max: int64Max }),
      fc.constantFrom(-1n, 2n ** 53n, int64Max, int64Min),
    ),
  ),
};

const tailValues: Values<number> = {
  edges: [ok(0), ok(1), ok(100_000), refused("tail", -1), refused("tail", 100_001), refused("tail", 2 ** 31 - 1), refused("tail", -(2 ** 31))],
  valid: valid(fc.integer({ min: 0, max: 100_000 })),
  bad: bad("tail", fc.oneof(fc.integer({ min: -(2 ** 31), max: -1 }), fc.integer({ min: 100_001, max: 2 ** 31 - 1 }))),
};

export function streamLogsFields(): FieldCases[] {
  const logs = (taskId: IdRef, afterSeq: bigint, follow: boolean, tail = 0): Spec => ({ rpc: "StreamLogs", taskId, afterSeq, follow, tail });
  /** The field's values with a follow flag each (edges without follow: they end by themselves). */
  const withFollow = <T>(values: Values<T>): Values<[T, boolean]> => {
    const paired = (tagged: Arbitrary<Tagged<T>>) =>
      fc.tuple(tagged, fc.boolean()).map(([{ value, expect }, follow]) => ({ value: [value, follow] as [T, boolean], expect }));
    return {
      valid: paired(values.valid),
      bad: paired(values.bad),
      ...(values.other ? { other: paired(values.other) } : {}),
      edges: (values.edges ?? []).map(({ value, expect }) => ({ value: [value, false] as [T, boolean], expect })),
    };
  };
  return [
    field("task_id", withFollow(idValues("task_id")), ([id, follow]) => logs(id, 0n, follow)),
    field("after_seq", withFollow(afterSeqValues), ([afterSeq, follow]) => logs({ known: 1 }, afterSeq, follow)),
    field("tail", withFollow(tailValues), ([tail, follow]) => logs({ known: 1 }, 0n, follow, tail)),
    {
      field: "every field at once",
      oracle: fc
        .tuple(idValues("task_id").valid, afterSeqValues.valid, fc.boolean())
        .map(([id, afterSeq, follow]) => caseOf(logs(id.value, afterSeq.value, follow), id.expect)),
      wild: fc
        .tuple(wildOf(idValues("task_id") as Values<unknown>), wildOf(afterSeqValues as Values<unknown>), fc.boolean())
        .map(([id, afterSeq, follow]) => caseOf(logs(id.value as IdRef, afterSeq.value as bigint, follow), ANY)),
    },
    garbage("StreamLogs", idValues("task_id").valid.map((tagged) => logs(tagged.value, 0n, false))),
  ];
}

// ---------------------------------------------------------------------------------------------
// ListTasks

const emptyList: ListSpec = { states: [], kinds: [], queue: "", labels: { entries: [] }, pageSize: 0, pageToken: "", schedule: "" };
const validStates = fc.subarray([1, 2, 3, 4, 5, 6]);
const badState = fc.oneof(fc.constantFrom(0, 7, 99, -1, int32Max, int32Min), intRange(7, int32Max), intRange(int32Min, -1));
const kindName = fc.oneof(fc.constant("demo.echo"), fc.stringMatching(/^[a-z.]{1,20}$/), cleanText(4).filter((kind) => kind.length > 0));

const listValues = {
  states: {
    edges: [ok([1, 2, 3, 4, 5, 6]), refused("states[0]", [99]), refused("states[0]", [0]), refused("states[1]", [1, -1])],
    valid: valid(validStates),
    bad: fc.tuple(validStates, badState, fc.nat()).map(([states, state, at]): Tagged<number[]> => {
      const i = at % (states.length + 1);
      return { value: insertAt(states, state, i), expect: { type: "refused", path: `states[${i}]` } };
    }),
  } satisfies Values<number[]>,
  kinds: {
    edges: [
      ok({ count: 100 }),
      refused("kinds", { count: 101 }),
      refused("kinds[0]", [""]),
      refused("kinds", { count: 65_535 }),
      refused("kinds", { count: 100_000 }),
    ],
    valid: valid(fc.array(kindName, { maxLength: 100 })),
    bad: fc.oneof(
      bad("kinds", fc.oneof(intRange(101, 2000), intRange(2000, 100_000), fc.constant(100_000)).map((count) => ({ count }))),
      fc
        .tuple(fc.array(kindName, { maxLength: 10 }), fc.constantFrom("", "\u0000", "a\u0000b"), fc.nat())
        .map(([kinds, kind, at]): Tagged<Text[]> => {
          const i = at % (kinds.length + 1);
          return { value: insertAt<Text>(kinds, kind, i), expect: { type: "refused", path: `kinds[${i}]` } };
        }),
    ),
    other: other(
      fc.oneof(
        fc.array(fc.oneof(invalidUtf8, anyHugeText), { minLength: 1, maxLength: 3 }),
        intRange(90, 110).map((count) => ({ count })),
      ),
    ),
  } satisfies Values<Text[] | { count: number }>,
  queue: queueValues("queue"),
  labels: labelsValues("labels"),
  created_after: timeValues("created_after"),
  created_before: timeValues("created_before"),
  page_size: int32Values("page_size", 0, 1000),
  page_token: {
    edges: [ok({ issued: true }), refused("page_token", "garbage"), refused("page_token", "x".repeat(1001)), refused("page_token", mib15)],
    valid: valid(fc.constantFrom<ListSpec["pageToken"]>("", { issued: true })),
    bad: bad(
      "page_token",
      fc.oneof(
        cleanText().filter((token) => token.length > 0),
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("base64url")),
        fc.uuid().map((id) => Buffer.from(`${id}.AAAAAAAAAAAA`).toString("base64url")),
        anyHugeText,
      ),
    ),
    other: other(invalidUtf8),
  } satisfies Values<ListSpec["pageToken"]>,
  schedule: boundedTextValues("schedule", 200),
};

/** Filters other than the empty one the issued token was made for. */
const otherFilters: Arbitrary<Partial<ListSpec>> = fc.oneof(
  fc.array(kindName, { minLength: 1, maxLength: 3 }).map((kinds) => ({ kinds })),
  fc.oneof(asciiText(200), cleanText(8)).filter((schedule) => schedule.length > 0 && schedule.length <= 200).map((schedule) => ({ schedule })),
);

type ListField = keyof typeof listValues;
const listKey: Record<ListField, keyof ListSpec> = {
  states: "states",
  kinds: "kinds",
  queue: "queue",
  labels: "labels",
  created_after: "createdAfter",
  created_before: "createdBefore",
  page_size: "pageSize",
  page_token: "pageToken",
  schedule: "schedule",
};

export function listTasksFields(): FieldCases[] {
  const names = Object.keys(listValues) as ListField[];
  const list = (name: ListField) => (value: unknown): Spec => ({ rpc: "ListTasks", request: { ...emptyList, [listKey[name]]: value } });
  const every = (pick: (values: Values<unknown>) => Arbitrary<Tagged<unknown>>) =>
    fc.tuple(...names.map((name) => pick(listValues[name] as Values<unknown>))).map((tagged) => {
      const request = { ...emptyList };
      names.forEach((name, i) => Object.assign(request, { [listKey[name]]: tagged[i]!.value }));
      return request;
    });
  return [
    ...names.map((name) => field(name, listValues[name] as Values<unknown>, list(name))),
    {
      field: "page_token of other filters",
      oracle: otherFilters.map((filters) =>
        caseOf({ rpc: "ListTasks", request: { ...emptyList, ...filters, pageToken: { issued: true } } }, { type: "refused", path: "page_token" }),
      ),
      wild: otherFilters.map((filters) => caseOf({ rpc: "ListTasks", request: { ...emptyList, ...filters, pageToken: { issued: true } } }, ANY)),
      // The token was issued for no filter at all: a schedule is another filter too.
      edges: [caseOf({ rpc: "ListTasks", request: { ...emptyList, schedule: "nightly", pageToken: { issued: true } } }, { type: "refused", path: "page_token" })],
    },
    {
      field: "every field at once",
      // A token is only valid with the filters it was issued for: none here.
      oracle: every((values) => values.valid).map((request) => caseOf({ rpc: "ListTasks", request: { ...request, pageToken: "" } }, OK)),
      wild: every(wildOf).map((request) => caseOf({ rpc: "ListTasks", request }, ANY)),
    },
    garbage("ListTasks", every((values) => values.valid).map((request): Spec => ({ rpc: "ListTasks", request: { ...request, pageToken: "" } }))),
  ];
}

// ---------------------------------------------------------------------------------------------
// Bytes that are not a valid request, or barely one

const deepValue = (levels: number): Uint8Array => {
  let value: Json = 1;
  for (let i = 0; i < levels; i++) value = [value];
  const writer = new BinaryWriter();
  writeValueField(writer, 2, value);
  return writer.finish();
};

/** Hand-made malformations protobuf decoders are known to trip on. */
const craftedGarbage: Uint8Array[] = [
  [0x0a, 0x05, 0x61], // a length beyond the end
  [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // an 11-byte varint
  [0x0f], // wire type 7
  [0x0e], // wire type 6
  [0x00], // field number 0
  [0x0b], // a group that never ends
  [0x0c], // the end of a group that never started
  [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // a length of 4 GiB
  [0x12, 0x80], // a cut varint length
].map((bytes) => Uint8Array.from(bytes));

/** Random bytes, hand-made malformations, deep values, and valid requests cut or corrupted. */
export function garbage(rpc: Rpc, validSpec: Arbitrary<Spec>): FieldCases {
  const cases: Arbitrary<Case> = fc
    .oneof(
      fc.uint8Array({ maxLength: 256 }).map((bytes): Spec => ({ rpc, bytes })),
      fc.constantFrom(...craftedGarbage).map((bytes): Spec => ({ rpc, bytes })),
      intRange(1, 300).map((levels): Spec => ({ rpc, bytes: deepValue(levels) })),
      fc.tuple(validSpec, fc.nat()).map(([spec, keep]): Spec => ({ rpc, cut: spec, keep })),
      fc
        .tuple(validSpec, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.array(intRange(0, 255), { minLength: 4, maxLength: 4 }))
        .map(([spec, at, bytes]): Spec => ({ rpc, corrupt: spec, at, with: bytes })),
    )
    // Whether the bytes decode at all is settled when they are sent (expectationOf).
    .map((spec) => caseOf(spec, ANY));
  return { field: "bytes", oracle: cases, wild: cases };
}

export const taskFieldsByRpc: Record<TaskRpc, () => FieldCases[]> = {
  CreateTask: createTaskFields,
  CreateTasks: createTasksFields,
  GetTask: () => idFields("GetTask"),
  ListTasks: listTasksFields,
  StreamLogs: streamLogsFields,
  CancelTask: cancelTaskFields,
  WatchTask: () => idFields("WatchTask"),
  RetryTask: retryTaskFields,
};

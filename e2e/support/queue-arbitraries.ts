// fast-check generators of QueueService requests, field by field, tagged with what the service
// must answer, in the manner of request-arbitraries.ts (whose building blocks they use).
// With auth off the caller is an admin of tenant "default": "" and "default" are its own
// tenant, any other name (at most 200 characters, no NUL) is another tenant it may act on,
// and "*" (every tenant) is only for ListQueues. A queue's name is required, as for
// CreateTask's queue; limits are 0..100000 (0 removes one), retention 1 minute..10 years in
// whole milliseconds. A change of a queue that has no row yet makes one.
import fc, { type Arbitrary } from "fast-check";
import {
  ANY,
  asciiText,
  bad,
  badNanos,
  caseOf,
  cleanText,
  day,
  field,
  garbage,
  int32Values,
  int64Max,
  int64Min,
  intRange,
  invalidUtf8,
  mib15,
  nanos,
  OK,
  ok,
  other,
  queueValues,
  refused,
  repeated,
  time,
  valid,
  validQueue,
  wildOf,
  type FieldCases,
  type Tagged,
  type Values,
} from "./request-arbitraries.js";
import type { QueueRpc, QueueUpdateSpec, Spec } from "./requests.js";
import type { Text, WireTime } from "./wire.js";

/** A queue's name for QueueService: as CreateTask's queue, but required. */
const queueNameValues: Values<Text> = (() => {
  const values = queueValues("name");
  return {
    ...values,
    edges: [...(values.edges ?? []), refused("name", "")],
    valid: valid(validQueue),
    bad: fc.oneof(values.bad, bad("name", fc.constant(""))),
  };
})();

function tenantValues(allowAll: boolean): Values<Text> {
  const notAll = (tenant: string) => allowAll || tenant !== "*";
  return {
    edges: [
      ok(""),
      ok("default"),
      ok("t".repeat(200)),
      ok("__proto__"),
      allowAll ? ok("*") : refused("tenant", "*"),
      refused("tenant", "t".repeat(201)),
      refused("tenant", "t\u0000"),
      refused("tenant", mib15),
    ],
    valid: valid(
      fc.oneof(
        fc.constantFrom("", "default", "other-tenant", ...(allowAll ? ["*"] : [])),
        asciiText(200).filter(notAll),
        cleanText(8).filter((tenant) => tenant.length <= 200 && notAll(tenant)),
      ),
    ),
    bad: bad(
      "tenant",
      fc.oneof(
        repeated(intRange(201, 600_000)),
        fc.tuple(cleanText(3), cleanText(3)).map(([a, b]) => `${a}\u0000${b}`),
        ...(allowAll ? [] : [fc.constant("*")]),
      ),
    ),
    other: other(invalidUtf8),
  };
}

/** An optional limit, 0..100000 (0 removes it). */
function limitValues(path: string): Values<number | undefined> {
  const values = int32Values(path, 0, 100_000);
  return { ...values, valid: fc.oneof(valid(fc.constant(undefined)), values.valid) };
}

/** 1 minute to 10 years (of 366 days), counted in whole milliseconds. */
const minRetention = 60n;
const maxRetention = 10n * 366n * day;
const retentionValues: Values<WireTime | undefined> = {
  edges: [
    ok({ seconds: minRetention, nanos: 0 }),
    ok({ seconds: maxRetention, nanos: 0 }),
    refused("retention", { seconds: 0n, nanos: 0 }),
    refused("retention", { seconds: minRetention - 1n, nanos: 999_999_999 }),
    refused("retention", { seconds: maxRetention, nanos: 1_000_000 }),
    refused("retention", { seconds: maxRetention + 1n, nanos: 0 }),
    refused("retention", { seconds: -minRetention, nanos: 0 }),
    refused("retention", { seconds: minRetention + 1n, nanos: -1 }),
    refused("retention", { seconds: minRetention, nanos: 1_000_000_000 }),
    refused("retention", { seconds: int64Max, nanos: 0 }),
    refused("retention", { seconds: int64Min, nanos: 0 }),
    // Past 10 years by less than the millisecond the service counts in.
    { value: { seconds: maxRetention, nanos: 999_999 }, expect: ANY },
  ],
  valid: valid(
    fc.oneof(
      fc.constant(undefined),
      time(fc.bigInt({ min: minRetention, max: maxRetention - 1n }), nanos),
      fc.constantFrom<WireTime>({ seconds: minRetention, nanos: 0 }, { seconds: 7n * day, nanos: 0 }, { seconds: maxRetention, nanos: 0 }),
    ),
  ),
  bad: bad(
    "retention",
    fc.oneof(
      time(fc.bigInt({ min: int64Min, max: -1n }), intRange(-999_999_999, 0)), // negative
      time(fc.bigInt({ min: 0n, max: minRetention - 1n }), nanos), // under a minute
      time(fc.bigInt({ min: maxRetention + 1n, max: int64Max }), nanos), // over 10 years
      time(fc.constant(maxRetention), intRange(1_000_000, 999_999_999)),
      time(fc.bigInt({ min: minRetention, max: maxRetention }), badNanos), // not a valid Duration
    ),
  ),
  other: other(time(fc.constant(maxRetention), intRange(1, 999_999))),
};

/** The queue the other fields' cases name: the one the tasks above ran in. */
const aQueue = { name: "default", tenant: "" } as const;

const updateValues = {
  name: queueNameValues,
  concurrency_limit: limitValues("concurrency_limit"),
  key_concurrency_limit: limitValues("key_concurrency_limit"),
  retention: retentionValues,
  tenant: tenantValues(false),
};
type UpdateField = keyof typeof updateValues;
const updateKey: Record<UpdateField, keyof QueueUpdateSpec> = {
  name: "name",
  concurrency_limit: "concurrencyLimit",
  key_concurrency_limit: "keyConcurrencyLimit",
  retention: "retention",
  tenant: "tenant",
};

/** The update without its undefined fields (they print as noise in counterexamples). */
const updateOf = (fields: Partial<Record<UpdateField, unknown>>): QueueUpdateSpec =>
  Object.fromEntries(
    Object.entries({ ...aQueue, ...fields })
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [updateKey[name as UpdateField], value]),
  ) as unknown as QueueUpdateSpec;

export function updateQueueFields(): FieldCases[] {
  const names = Object.keys(updateValues) as UpdateField[];
  const update = (fields: Partial<Record<UpdateField, unknown>>): Spec => ({ rpc: "UpdateQueue", update: updateOf(fields) });
  const every = (pick: (values: Values<unknown>) => Arbitrary<Tagged<unknown>>) =>
    fc.tuple(...names.map((name) => pick(updateValues[name] as Values<unknown>))).map((tagged) =>
      update(Object.fromEntries(names.map((name, i) => [name, tagged[i]!.value]))),
    );
  return [
    ...names.map((name) => field(name, updateValues[name] as Values<unknown>, (value) => update({ [name]: value }))),
    {
      field: "every field at once",
      oracle: every((values) => values.valid).map((spec) => caseOf(spec, OK)),
      wild: every(wildOf).map((spec) => caseOf(spec, ANY)),
    },
    garbage("UpdateQueue", every((values) => values.valid)),
  ];
}

export function pauseOrResumeFields(rpc: "PauseQueue" | "ResumeQueue"): FieldCases[] {
  const named = (name: Text, tenant: Text): Spec => ({ rpc, name, tenant });
  const tenants = tenantValues(false);
  return [
    field("name", queueNameValues, (name) => named(name, aQueue.tenant)),
    field("tenant", tenants, (tenant) => named(aQueue.name, tenant)),
    {
      field: "every field at once",
      oracle: fc.tuple(queueNameValues.valid, tenants.valid).map(([name, tenant]) => caseOf(named(name.value, tenant.value), OK)),
      wild: fc
        .tuple(wildOf(queueNameValues as Values<unknown>), wildOf(tenants as Values<unknown>))
        .map(([name, tenant]) => caseOf(named(name.value as Text, tenant.value as Text), ANY)),
    },
    garbage(rpc, fc.tuple(queueNameValues.valid, tenants.valid).map(([name, tenant]) => named(name.value, tenant.value))),
  ];
}

/** A page token this service did not issue: any text but the empty one (the first page). */
const pageTokenValues: Values<Text> = {
  edges: [ok(""), refused("page_token", "x"), refused("page_token", "W10"), refused("page_token", mib15)],
  valid: valid(fc.constant("")),
  bad: bad("page_token", fc.oneof(asciiText(300), cleanText(8)).filter((token) => token.length > 0)),
};

export function listQueuesFields(): FieldCases[] {
  const list = (tenant: Text): Spec => ({ rpc: "ListQueues", tenant });
  const tenants = tenantValues(true);
  return [
    field("tenant", tenants, list),
    field("page_size", int32Values("page_size", 0, 1000), (pageSize): Spec => ({ rpc: "ListQueues", tenant: "", pageSize })),
    field("page_token", pageTokenValues, (pageToken): Spec => ({ rpc: "ListQueues", tenant: "", pageToken })),
    garbage("ListQueues", tenants.valid.map((tenant) => list(tenant.value))),
  ];
}

export const queueFieldsByRpc: Record<QueueRpc, () => FieldCases[]> = {
  UpdateQueue: updateQueueFields,
  PauseQueue: () => pauseOrResumeFields("PauseQueue"),
  ResumeQueue: () => pauseOrResumeFields("ResumeQueue"),
  ListQueues: listQueuesFields,
};

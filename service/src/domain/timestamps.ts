// The instants Spool accepts and stores: protobuf Timestamp's range, which Postgres's
// timestamptz and JavaScript's Date both hold exactly. Outside it, a time is refused.

export const minTimestampMs = new Date("0001-01-01T00:00:00Z").getTime();
export const maxTimestampMs = new Date("9999-12-31T23:59:59.999Z").getTime();

// Protobuf at the byte level, for what the generated (ts-proto) code cannot express or read back
// faithfully:
//   - writing: int64 beyond 2^53 (Timestamp/Duration seconds, after_seq), strings that are not
//     valid UTF-8, google.protobuf.Value trees holding such strings;
//   - reading: a task's `input` and `labels` as they are on the wire. The generated decoder
//     stores Struct fields and map entries with `object[key] = value`, so a `__proto__` key
//     sets a prototype instead of a property, and it refuses nesting past its recursion cap.
//     A test that compares what it sent with what it reads back must not lose data itself.
// Objects built here hold every key as an own property (defineProperty), `__proto__` included.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** A string sent as these exact bytes, which need not be valid UTF-8. */
export class RawText {
  constructor(readonly bytes: Uint8Array) {}
  /** What a lenient UTF-8 decoder (the server's) makes of it: U+FFFD for each bad sequence. */
  get decoded(): string {
    return lenientUtf8.decode(this.bytes);
  }
}

export type Text = string | RawText;

/** A JSON value as sent in a google.protobuf.Value; numbers may be NaN or infinite on purpose. */
export type Json = null | boolean | number | Text | Json[] | { [key: string]: Json };

/** A google.protobuf.Timestamp or Duration with the full int64 range of seconds. */
export interface WireTime {
  seconds: bigint;
  nanos: number;
}

const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A plain object whose keys are all own properties, `__proto__` included. */
export function objectOf<T>(entries: Iterable<readonly [string, T]>): { [key: string]: T } {
  const object: { [key: string]: T } = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

export function writeText(writer: BinaryWriter, field: number, text: Text): void {
  if (text instanceof RawText) writer.tag(field, WireType.LengthDelimited).bytes(text.bytes);
  else writer.tag(field, WireType.LengthDelimited).string(text);
}

/** A Timestamp or Duration field (both are {int64 seconds = 1; int32 nanos = 2}). */
export function writeTime(writer: BinaryWriter, field: number, time: WireTime): void {
  writer.tag(field, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.Varint).int64(time.seconds);
  writer.tag(2, WireType.Varint).int32(time.nanos);
  writer.join();
}

/** A google.protobuf.Value field. */
export function writeValueField(writer: BinaryWriter, field: number, value: Json): void {
  writer.tag(field, WireType.LengthDelimited).fork();
  writeValue(writer, value);
  writer.join();
}

function writeValue(writer: BinaryWriter, value: Json): void {
  if (value === null) writer.tag(1, WireType.Varint).int32(0);
  else if (typeof value === "boolean") writer.tag(4, WireType.Varint).bool(value);
  else if (typeof value === "number") writer.tag(2, WireType.Bit64).double(value);
  else if (typeof value === "string" || value instanceof RawText) writeText(writer, 3, value);
  else if (Array.isArray(value)) {
    writer.tag(6, WireType.LengthDelimited).fork();
    for (const item of value) writeValueField(writer, 1, item);
    writer.join();
  } else {
    writer.tag(5, WireType.LengthDelimited).fork();
    for (const key of Object.keys(value)) {
      writer.tag(1, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.LengthDelimited).string(key);
      writeValueField(writer, 2, value[key] as Json);
      writer.join();
    }
    writer.join();
  }
}

/** True if the value holds a RawText anywhere (then only writeValueField can send it). */
/**
 * True when the value must be written field by field: it holds raw text, or an own
 * "__proto__" key, which ts-proto's Struct.wrap drops (it assigns fields[key]) before sending.
 */
export function holdsRawText(value: Json | undefined): boolean {
  if (value instanceof RawText) return true;
  if (Array.isArray(value)) return value.some(holdsRawText);
  if (typeof value === "object" && value !== null) {
    return Object.hasOwn(value, "__proto__") || Object.values(value).some(holdsRawText);
  }
  return false;
}

/** Reads a google.protobuf.Value; undefined when none of its kinds is set. */
export function readValue(bytes: Uint8Array): Json | undefined {
  const reader = new BinaryReader(bytes);
  let value: Json | undefined;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) {
      reader.int32();
      value = null;
    } else if (field === 2 && wireType === WireType.Bit64) value = reader.double();
    else if (field === 3 && wireType === WireType.LengthDelimited) value = reader.string();
    else if (field === 4 && wireType === WireType.Varint) value = reader.bool();
    else if (field === 5 && wireType === WireType.LengthDelimited) value = readStruct(reader.bytes());
    else if (field === 6 && wireType === WireType.LengthDelimited) {
      value = fieldsOf(reader.bytes(), 1).map((item) => readValue(item) ?? null);
    } else reader.skip(wireType);
  }
  return value;
}

function readStruct(bytes: Uint8Array): { [key: string]: Json } {
  return objectOf(
    fieldsOf(bytes, 1).map((entry) => {
      const key = stringOf(entry, 1);
      const value = fieldsOf(entry, 2).at(-1);
      return [key, value === undefined ? null : (readValue(value) ?? null)] as const;
    }),
  );
}

/** Every occurrence of a length-delimited field, in order. */
export function fieldsOf(bytes: Uint8Array, wanted: number): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const found: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === wanted && wireType === WireType.LengthDelimited) found.push(reader.bytes());
    else reader.skip(wireType);
  }
  return found;
}

/** The last occurrence of a string field, or "" (the proto3 default). */
export function stringOf(bytes: Uint8Array, wanted: number): string {
  const last = fieldsOf(bytes, wanted).at(-1);
  return last === undefined ? "" : lenientUtf8.decode(last);
}

/** The message without the given fields (to hand the rest to the generated decoder). */
export function withoutFields(bytes: Uint8Array, dropped: readonly number[]): Uint8Array {
  const reader = new BinaryReader(bytes);
  const kept: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [field, wireType] = reader.tag();
    reader.skip(wireType);
    if (!dropped.includes(field)) kept.push(bytes.subarray(start, reader.pos));
  }
  return Buffer.concat(kept);
}

/** A map<string, string> field as the entries on the wire, in order (duplicates kept). */
export function mapEntriesOf(bytes: Uint8Array, field: number): [string, string][] {
  return fieldsOf(bytes, field).map((entry) => [stringOf(entry, 1), stringOf(entry, 2)]);
}

/** The last occurrence of a Timestamp or Duration field, with int64 seconds as they are. */
export function timeOf(bytes: Uint8Array, wanted: number): WireTime | undefined {
  const last = fieldsOf(bytes, wanted).at(-1);
  if (last === undefined) return undefined;
  const time: WireTime = { seconds: 0n, nanos: 0 };
  const reader = new BinaryReader(last);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) time.seconds = BigInt(reader.int64());
    else if (field === 2 && wireType === WireType.Varint) time.nanos = reader.int32();
    else reader.skip(wireType);
  }
  return time;
}

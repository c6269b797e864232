// Error details on the wire: a google.rpc.Status in the `grpc-status-details-bin` trailer,
// the convention of grpc-go, grpc-java and Google APIs. Spool sends one detail, a
// google.rpc.RetryInfo, when a call may succeed if retried after a delay (a tenant's create
// rate). Both sides use these two functions, so they cannot disagree.
//
// Guarantees:
//   - encodeRetryStatus writes the standard encoding: Status{code, message, details: [Any{
//     "type.googleapis.com/google.rpc.RetryInfo", RetryInfo{retry_delay}}]}; the delay is
//     rounded up to a whole ms (a client never retries early because of rounding);
//   - retryAfterMsFromStatus never throws: bytes that are missing, not a Status, or hold no
//     valid RetryInfo give undefined. A delay outside Duration's valid range, or negative,
//     counts as garbled. Sub-ms delays from other servers are rounded up.
import { Any } from "./gen/google/protobuf/any.js";
import { RetryInfo } from "./gen/google/rpc/error_details.js";
import { Status } from "./gen/google/rpc/status.js";

/** The trailer that carries a call's google.rpc.Status, encoded (grpc-js base64s it on the wire). */
export const statusDetailsKey = "grpc-status-details-bin";
/** The type URL of a RetryInfo packed in an Any. */
export const retryInfoTypeUrl = "type.googleapis.com/google.rpc.RetryInfo";

/** Largest seconds of a valid google.protobuf.Duration (10,000 years). */
const maxDurationSeconds = 315_576_000_000n;

/** A google.rpc.Status with code, message and a RetryInfo of `retryAfterMs`, encoded (a Buffer, as grpc-js metadata wants for a -bin key). */
export function encodeRetryStatus(code: number, message: string, retryAfterMs: number): Buffer {
  const ms = Math.max(0, Math.ceil(retryAfterMs));
  if (!Number.isSafeInteger(ms)) throw new RangeError(`retry delay must be a finite number of ms, not ${retryAfterMs}`);
  const seconds = Math.floor(ms / 1000);
  const retryInfo = Buffer.from(RetryInfo.encode({ retryDelay: { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 } }).finish());
  return Buffer.from(Status.encode({ code, message, details: [{ typeUrl: retryInfoTypeUrl, value: retryInfo }] }).finish());
}

/**
 * The retry delay in ms of an encoded google.rpc.Status (a `grpc-status-details-bin`
 * trailer): its first RetryInfo detail, whatever the type URL's host. Undefined when there is
 * none or it cannot be read; never throws.
 */
export function retryAfterMsFromStatus(bytes: Uint8Array | undefined): number | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  try {
    const detail = Status.decode(bytes).details.find(isRetryInfo);
    const delay = detail && RetryInfo.decode(detail.value).retryDelay;
    if (!delay) return undefined;
    const { seconds, nanos } = delay;
    if (seconds < 0n || seconds > maxDurationSeconds || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
    return Number(seconds) * 1000 + Math.ceil(nanos / 1_000_000);
  } catch {
    return undefined;
  }
}

/** A type URL names its type after the last "/": any host, as protobuf's Any allows. */
function isRetryInfo(any: Any): boolean {
  return any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1) === "google.rpc.RetryInfo";
}

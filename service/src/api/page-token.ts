// Keyset page tokens of the listings that page by name (ListSchedules, ListQueues): the key of
// the last item returned and the scope the listing was made in, as JSON in base64url. A token
// is opaque to callers; one made for another scope (tenant) is refused, so a token cannot
// carry a listing across tenants.
import { SpoolError } from "../errors.js";

const invalid = SpoolError.invalidArgument;

/** Page size of a request: 1..max, `fallback` when unset (0). */
export function pageSizeFrom(pageSize: number, max: number, fallback: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > max) throw invalid("page_size", `${pageSize} is out of range 1..${max}`);
  return pageSize || fallback;
}

export function pageTokenOf(scope: string, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([scope, ...key])).toString("base64url");
}

/**
 * The key in a page token made by pageTokenOf for `scope` with `keyLength` parts; undefined
 * for an empty token. `maxLength` bounds what is decoded at all.
 */
export function keyOfPageToken(token: string, scope: string, keyLength: number, maxLength: number): string[] | undefined {
  if (!token) return undefined;
  const notOurs = () => invalid("page_token", "is not a token this service issued");
  if (token.length > maxLength) throw notOurs();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString());
  } catch {
    throw notOurs();
  }
  if (!Array.isArray(decoded) || decoded.length !== keyLength + 1 || !decoded.every((part) => typeof part === "string")) throw notOurs();
  const [madeFor, ...key] = decoded as string[];
  if (madeFor !== scope) throw invalid("page_token", "was issued for another tenant; start again without it");
  return key;
}

// The address a client on this machine dials to reach the server listening on SPOOL_HOST and
// SPOOL_PORT (the container health check is such a client). A wildcard says where the server
// listens, not where to dial: 0.0.0.0 (every IPv4 interface) is reached at 127.0.0.1, and ::
// (every interface) at ::1. Any other host is dialled as it is: a server bound to one address
// (say 127.0.0.2, or a pod IP) is not reachable at 127.0.0.1. IPv6 comes out bracketed, as a
// gRPC target needs it; SPOOL_HOST may give it with or without brackets.
import { isIPv6 } from "node:net";

export function dialAddress(host: string, port: number): string {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIPv6(bare)) {
    // The URL parser writes every spelling of an IPv6 address in one canonical form.
    const canonical = new URL(`http://[${bare}]`).hostname;
    return `${canonical === "[::]" ? "[::1]" : canonical}:${port}`;
  }
  return `${bare === "0.0.0.0" ? "127.0.0.1" : bare}:${port}`;
}

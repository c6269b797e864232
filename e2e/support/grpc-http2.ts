// One unary gRPC call over node:http2, with the message bytes given as they are: for sending
// what the SDK refuses to send (a request over its 4 MiB limit) and reading what it refuses to
// read (no receive limit here), so that the server's own limits are what a test sees.
// Also a few protobuf wire-format encoders, enough to write small requests by hand.
import type { ClientHttp2Session } from "node:http2";

export interface UnaryResult {
  /** grpc-status (from the trailers, or from the headers of a trailers-only response). */
  status: number;
  message: string;
  /** The response message bytes (after the 5-byte prefix), if any. */
  body: Buffer;
}

export function unaryCall(session: ClientHttp2Session, path: string, message: Uint8Array): Promise<UnaryResult> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let statusMessage = "";
    const takeStatus = (headers: Record<string, unknown>) => {
      if (headers["grpc-status"] === undefined) return;
      status = Number(headers["grpc-status"]);
      statusMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    };
    stream.on("response", takeStatus);
    stream.on("trailers", takeStatus);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {}); // an RST_STREAM after the status is not the outcome
    stream.on("close", () => {
      if (status === undefined) return reject(new Error(`no grpc-status; stream closed with code ${stream.rstCode}`));
      const all = Buffer.concat(chunks);
      resolve({ status, message: statusMessage, body: all.length >= 5 ? all.subarray(5) : Buffer.alloc(0) });
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    stream.end(Buffer.concat([prefix, message]));
  });
}

/** Protobuf field encoders (wire format), for hand-written requests. */
export const pb = {
  varint(field: number, value: number): Buffer {
    return Buffer.concat([varint((field << 3) | 0), varint(value)]);
  },
  bytes(field: number, value: Uint8Array | string): Buffer {
    const data = typeof value === "string" ? Buffer.from(value) : value;
    return Buffer.concat([varint((field << 3) | 2), varint(data.length), data]);
  },
};

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

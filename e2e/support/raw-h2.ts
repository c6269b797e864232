// A raw HTTP/2 client over a plain TCP socket, writing and reading frames by hand, for the
// hostile-client tests: node:http2's own client is too well behaved to play one (it keeps to
// the server's SETTINGS_MAX_CONCURRENT_STREAMS by queueing, and caps its outstanding PINGs).
// This one sends what it is told, as fast as it is told, and records what the server answers:
// its SETTINGS, RST_STREAMs by error code, GOAWAYs, PING ACKs, and when the connection closed.
// HPACK: requests use only static-table indexes and literals without indexing (no Huffman),
// so no encoder state is needed; response header blocks are not decoded (only counted).
import { connect, type Socket } from "node:net";

export const frameType = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7, windowUpdate: 8 } as const;
export const errorCode = { noError: 0, protocolError: 1, internalError: 2, refusedStream: 7, cancel: 8, enhanceYourCalm: 11 } as const;
export const settingId = { maxConcurrentStreams: 3, initialWindowSize: 4 } as const;

const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface GoAway {
  lastStreamId: number;
  errorCode: number;
  debug: string;
}

export class RawH2Client {
  /** The server's SETTINGS, by identifier, as last received. */
  readonly settings = new Map<number, number>();
  /** RST_STREAMs received, by error code. */
  readonly resets = new Map<number, number>();
  /** Frames received, by type. */
  readonly received = new Map<number, number>();
  pingAcks = 0;
  /** GOAWAY frames received, in order. */
  readonly goaways: GoAway[] = [];
  closed = false;
  /** Set when the server's first SETTINGS frame arrives. */
  readonly ready: Promise<void>;
  readonly #socket: Socket;
  readonly #authority: string;
  #nextStreamId = 1;
  #input: Buffer = Buffer.alloc(0);
  #closedAt: Promise<void>;

  private constructor(socket: Socket, authority: string) {
    this.#socket = socket;
    this.#authority = authority;
    let onSettings!: () => void;
    this.ready = new Promise((resolve) => (onSettings = resolve));
    this.#closedAt = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        resolve();
      }),
    );
    socket.on("error", () => {}); // a reset by the server is an outcome here, not a failure
    socket.on("data", (chunk: Buffer) => {
      this.#input = this.#input.length === 0 ? chunk : Buffer.concat([this.#input, chunk]);
      while (this.#input.length >= 9) {
        const length = this.#input.readUIntBE(0, 3);
        if (this.#input.length < 9 + length) break;
        const type = this.#input[3]!;
        const flags = this.#input[4]!;
        const payload = this.#input.subarray(9, 9 + length);
        this.#input = this.#input.subarray(9 + length);
        this.received.set(type, (this.received.get(type) ?? 0) + 1);
        this.#onFrame(type, flags, payload, onSettings);
      }
    });
  }

  /** Connects, sends the preface and an empty SETTINGS frame (the client's defaults). */
  static async connect(host: string, port: number): Promise<RawH2Client> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawH2Client(socket, `${host}:${port}`);
    socket.write(Buffer.concat([preface, frame(frameType.settings, 0, 0, Buffer.alloc(0))]));
    return client;
  }

  /** The number of streams opened so far. */
  get streamsOpened(): number {
    return (this.#nextStreamId - 1) / 2;
  }

  /**
   * Opens `count` streams on `path` with HEADERS only (no END_STREAM): requests that are never
   * finished. Writes in batches, waiting for the socket to drain between them; stops early if
   * the connection closes. Resolves with the number of streams it opened.
   */
  async openHalfOpenStreams(path: string, count: number, batch = 1000): Promise<number> {
    const block = requestHeaderBlock(path, this.#authority);
    let opened = 0;
    while (opened < count && !this.closed && !this.#socket.destroyed) {
      const n = Math.min(batch, count - opened);
      const frames: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        frames.push(frame(frameType.headers, flag.endHeaders, this.#nextStreamId, block));
        this.#nextStreamId += 2;
      }
      opened += n;
      if (!this.#socket.write(Buffer.concat(frames))) {
        await Promise.race([new Promise((resolve) => this.#socket.once("drain", resolve)), this.#closedAt]);
      }
    }
    return opened;
  }

  /** Sends one complete unary gRPC request (HEADERS, then DATA with END_STREAM). */
  sendUnary(path: string, message: Uint8Array): number {
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const prefixed = Buffer.alloc(5 + message.length);
    prefixed.writeUInt32BE(message.length, 1);
    prefixed.set(message, 5);
    this.#socket.write(
      Buffer.concat([
        frame(frameType.headers, flag.endHeaders, id, requestHeaderBlock(path, this.#authority)),
        frame(frameType.data, flag.endStream, id, prefixed),
      ]),
    );
    return id;
  }

  /** Sends `count` PING frames in one write. */
  pingFlood(count: number): void {
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(i, 4);
      frames.push(frame(frameType.ping, 0, 0, payload));
    }
    if (!this.#socket.destroyed) this.#socket.write(Buffer.concat(frames));
  }

  /** Resolves once the server has closed the connection. */
  whenClosed(): Promise<void> {
    return this.#closedAt;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onFrame(type: number, flags: number, payload: Buffer, onSettings: () => void): void {
    if (type === frameType.settings && !(flags & flag.ack)) {
      for (let at = 0; at + 6 <= payload.length; at += 6) this.settings.set(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
      this.#write(frame(frameType.settings, flag.ack, 0, Buffer.alloc(0)));
      onSettings();
    } else if (type === frameType.rstStream && payload.length >= 4) {
      const code = payload.readUInt32BE(0);
      this.resets.set(code, (this.resets.get(code) ?? 0) + 1);
    } else if (type === frameType.goaway && payload.length >= 8) {
      this.goaways.push({
        lastStreamId: payload.readUInt32BE(0) & 0x7fffffff,
        errorCode: payload.readUInt32BE(4),
        debug: payload.subarray(8).toString("latin1"),
      });
    } else if (type === frameType.ping && flags & flag.ack) {
      this.pingAcks++;
    }
  }

  #write(data: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(data);
  }
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A gRPC request's header block: static-table indexes and literals without indexing. */
function requestHeaderBlock(path: string, authority: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83]), // :method: POST (static index 3)
    Buffer.from([0x86]), // :scheme: http (static index 6)
    literalWithIndexedName(4, path), // :path
    literalWithIndexedName(1, authority), // :authority
    literalWithIndexedName(31, "application/grpc"), // content-type
    literalWithNewName("te", "trailers"),
  ]);
}

/** Literal header field without indexing, name from the static table (RFC 7541 6.2.2). */
function literalWithIndexedName(index: number, value: string): Buffer {
  return Buffer.concat([integer(index, 4, 0x00), string(value)]);
}

function literalWithNewName(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), string(name), string(value)]);
}

function string(value: string): Buffer {
  const bytes = Buffer.from(value, "latin1");
  return Buffer.concat([integer(bytes.length, 7, 0x00), bytes]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 5.1). */
function integer(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

// A gRPC client with no schema: it sends the exact bytes it is given to any method (a
// pass-through serializer) and hands back the status and the raw response messages. Unlike the
// SDK it validates nothing, so a test can send what no well-behaved client would: truncated
// messages, invalid UTF-8, int64 beyond 2^53, enum values that do not exist.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Client, credentials, Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";

export interface Answer {
  code: status;
  details: string;
  /** The response messages as received (one for a unary call). */
  messages: Buffer[];
  /**
   * A server stream this client closed itself, after its first message or after a quiet
   * window (see serverStream); `code` is then OK, as the server had not failed it.
   */
  closedByClient: boolean;
}

const passThrough = (bytes: Buffer): Buffer => bytes;

export class RawClient {
  private readonly client: Client;

  constructor(address: string) {
    this.client = new Client(address, credentials.createInsecure(), {
      // Answers carry task inputs of up to 1 MiB each: read them rather than fail locally.
      "grpc.max_receive_message_length": 512 * 1024 * 1024,
      "grpc.max_send_message_length": -1,
      // A connection of its own, not one shared with other clients of the same address: an
      // answer that wedges a connection (an oversized trailer does) then harms only this client.
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  unary(path: string, request: Uint8Array, deadlineMs: number): Promise<Answer> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        passThrough,
        passThrough,
        Buffer.from(request),
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error: ServiceError | null, response?: Buffer) => {
          if (error) resolve({ code: error.code, details: error.details, messages: [], closedByClient: false });
          else resolve({ code: status.OK, details: "", messages: response ? [response] : [], closedByClient: false });
        },
      );
    });
  }

  /**
   * A server-streaming call. With `closeAfterFirst`, the stream is cancelled once the first
   * message arrived (for streams that only end with their task). With `quietWindowMs`, a
   * stream that has neither ended nor failed by then is cancelled (for a follow on a task
   * that may legitimately stay silent). Otherwise it runs until it ends or `deadlineMs` passes.
   */
  serverStream(
    path: string,
    request: Uint8Array,
    options: { deadlineMs: number; closeAfterFirst?: boolean; quietWindowMs?: number },
  ): Promise<Answer> {
    return new Promise((resolve) => {
      const call = this.client.makeServerStreamRequest(path, passThrough, passThrough, Buffer.from(request), new Metadata(), {
        deadline: Date.now() + options.deadlineMs,
      });
      const messages: Buffer[] = [];
      let closedByClient = false;
      const close = () => {
        if (closedByClient) return;
        closedByClient = true;
        call.cancel();
      };
      const quiet = options.quietWindowMs === undefined ? undefined : setTimeout(close, options.quietWindowMs);
      call.on("data", (message: Buffer) => {
        messages.push(message);
        if (options.closeAfterFirst) close();
      });
      call.on("error", () => {}); // the status below carries it
      call.on("status", (end: StatusObject) => {
        clearTimeout(quiet);
        const ours = closedByClient && end.code === status.CANCELLED;
        resolve({ code: ours ? status.OK : end.code, details: ours ? "" : end.details, messages, closedByClient: ours });
      });
    });
  }

  /** grpc.health.v1.Health/Check: the serving status name, or the error's. */
  async health(service: string, deadlineMs: number): Promise<string> {
    const request = new BinaryWriter().tag(1, WireType.LengthDelimited).string(service).finish();
    const answer = await this.unary("/grpc.health.v1.Health/Check", request, deadlineMs);
    if (answer.code !== status.OK) return `${status[answer.code]}: ${answer.details}`;
    const reader = new BinaryReader(answer.messages[0] ?? new Uint8Array());
    let serving = 0;
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.Varint) serving = reader.int32();
      else reader.skip(wireType);
    }
    return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][serving] ?? String(serving);
  }

  close(): void {
    this.client.close();
  }
}

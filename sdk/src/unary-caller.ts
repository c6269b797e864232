// UnaryCaller: one unary call to any of Spool's services, with the client's metadata (the
// token), deadline and retry policy. SpoolClient and its sub-clients (schedules, queues)
// share one, and one channel, so every call of a SpoolClient behaves alike.
//
// Retries: only when the caller says the call is idempotent; after UNAVAILABLE with
// exponential backoff, or after RESOURCE_EXHAUSTED once the server's RetryInfo delay has
// passed, if that delay is at most 10 s (a longer one goes to the caller, to decide).
import type { CallOptions, Client, Metadata } from "@grpc/grpc-js";
import { backoffDelayMs, type Backoff } from "@spool/proto";
import { SpoolError } from "./errors.js";
import { withTraceContext } from "./trace-context.js";

/** Longest server-asked delay (RetryInfo) waited out before a retry. */
const maxRetryAfterMs = 10_000;

/** Exponential backoff of the SDK's own retries and reconnects: 100 ms doubling to 5 s, +-25%. */
const retryBackoff: Backoff = { baseMs: 100, factor: 2, maxMs: 5000, jitter: 0.25 };
export const backoffMs = (failures: number): number => backoffDelayMs(retryBackoff, failures);

/**
 * The wait before retrying after this error, or undefined when the client should not retry
 * it itself: the server's delay when it gave one (plus up to 10%, so clients told the same
 * delay do not all come back at once), else exponential backoff.
 */
export function retryDelayMs(error: SpoolError, failures: number): number | undefined {
  if (!error.retryable) return undefined;
  if (error.retryAfterMs === undefined) return backoffMs(failures);
  return error.retryAfterMs > maxRetryAfterMs ? undefined : error.retryAfterMs * (1 + Math.random() / 10);
}

/** The response type of a generated grpc-js client's unary method. */
export type UnaryResponse<C, M extends keyof C> = C[M] extends (
  request: never,
  metadata: never,
  options: never,
  callback: (error: never, response: infer R) => void,
) => unknown
  ? R
  : never;

/** The request type of a generated grpc-js client's unary method. */
export type UnaryRequest<C, M extends keyof C> = C[M] extends (request: infer Q, ...rest: never[]) => unknown ? Q : never;

export class UnaryCaller {
  constructor(
    readonly metadata: Metadata,
    private readonly deadlineMs: number,
    private readonly retries: number,
  ) {}

  async call<C extends Client, M extends keyof C & string>(
    client: C,
    method: M,
    request: UnaryRequest<C, M>,
    idempotent: boolean,
  ): Promise<UnaryResponse<C, M>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#once(client, method, request);
      } catch (error) {
        const spoolError = SpoolError.from(error);
        const delay = idempotent ? retryDelayMs(spoolError, attempt) : undefined;
        if (delay === undefined || attempt >= this.retries) throw spoolError;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #once<C extends Client, M extends keyof C & string>(client: C, method: M, request: UnaryRequest<C, M>): Promise<UnaryResponse<C, M>> {
    const options: Partial<CallOptions> = { deadline: Date.now() + this.deadlineMs };
    return new Promise((resolve, reject) => {
      const fn = client[method] as unknown as (
        request: unknown,
        metadata: Metadata,
        options: Partial<CallOptions>,
        callback: (error: unknown, response: UnaryResponse<C, M>) => void,
      ) => void;
      fn.call(client, request, withTraceContext(this.metadata), options, (error, response) => (error ? reject(SpoolError.from(error)) : resolve(response)));
    });
  }
}

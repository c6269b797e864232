// What the queues should look like after the bad-input run's QueueService calls: the settings
// each accepted change answered, by tenant and name, and what a change request asks for, as the
// service decodes it. A queue no change touched has the settings its first task gave it.
import { ListQueuesResponse, PauseQueueRequest, Queue, UpdateQueueRequest } from "@spool/proto";
import { brief, type Rpc } from "./requests.js";
import { fieldsOf } from "./wire.js";

export interface QueueSettings {
  paused: boolean;
  /** 0: no limit. */
  concurrencyLimit: number;
  keyConcurrencyLimit: number;
  retentionMs: number;
}

/** A queue no change touched: not paused, no limits, the default retention (7 days). */
export const untouched: QueueSettings = { paused: false, concurrencyLimit: 0, keyConcurrencyLimit: 0, retentionMs: 7 * 86_400_000 };

export interface QueueChange {
  /** "" in the request is the caller's tenant, "default". */
  tenant: string;
  name: string;
  change: Partial<QueueSettings>;
}

export function settingsOf(queue: Queue): QueueSettings {
  const { retention } = queue;
  return {
    paused: queue.paused,
    concurrencyLimit: queue.concurrencyLimit,
    keyConcurrencyLimit: queue.keyConcurrencyLimit,
    retentionMs: retention ? Number(retention.seconds) * 1000 + retention.nanos / 1e6 : Number.NaN,
  };
}

export const sameSettings = (a: QueueSettings | undefined, b: QueueSettings | undefined) => brief(a) === brief(b);

/** The queue an UpdateQueue, PauseQueue or ResumeQueue answer carries (each as its field 1). */
export const answeredQueue = (message: Uint8Array): Queue => Queue.decode(fieldsOf(message, 1)[0] ?? new Uint8Array());

/**
 * The queue a change request names and what it sets, as the service decodes it; undefined
 * for other RPCs and for bytes that do not decode (the service refuses those as a whole).
 */
export function changeOf(rpc: Rpc, bytes: Uint8Array): QueueChange | undefined {
  try {
    if (rpc === "UpdateQueue") {
      const request = UpdateQueueRequest.decode(bytes);
      const change: Partial<QueueSettings> = {};
      if (request.concurrencyLimit !== undefined) change.concurrencyLimit = request.concurrencyLimit;
      if (request.keyConcurrencyLimit !== undefined) change.keyConcurrencyLimit = request.keyConcurrencyLimit;
      const { retention } = request;
      if (retention) change.retentionMs = Number(retention.seconds) * 1000 + Math.trunc(retention.nanos / 1e6);
      return { tenant: request.tenant || "default", name: request.name, change };
    }
    if (rpc === "PauseQueue" || rpc === "ResumeQueue") {
      const request = PauseQueueRequest.decode(bytes); // ResumeQueueRequest has the same fields
      return { tenant: request.tenant || "default", name: request.name, change: { paused: rpc === "PauseQueue" } };
    }
  } catch {
    // Not a request at all.
  }
  return undefined;
}

/** A tenant and name the service could have taken: a refusal of the change then lay elsewhere. */
export const namesAQueue = ({ tenant, name }: { tenant: string; name: string }) =>
  /^[A-Za-z0-9._-]{1,64}$/.test(name) && tenant.length <= 200 && !tenant.includes("\u0000") && tenant !== "*";

export class QueueModel {
  private readonly settings = new Map<string, QueueSettings>();

  private static key(tenant: string, name: string): string {
    return JSON.stringify([tenant, name]);
  }

  get size(): number {
    return this.settings.size;
  }

  /** The settings the last accepted change of the queue answered; undefined if none did. */
  changed(tenant: string, name: string): QueueSettings | undefined {
    return this.settings.get(QueueModel.key(tenant, name));
  }

  /** Records what an accepted change answered. */
  record(queue: Queue): void {
    this.settings.set(QueueModel.key(queue.tenant, queue.name), settingsOf(queue));
  }

  /**
   * What is wrong with a ListQueues answer to `requested` ("" the caller's tenant, "*" every
   * tenant): a queue of another tenant, a queue listed twice, a changed queue with other
   * settings than its last change answered, or a changed queue missing (from a last page).
   */
  listingProblems(requested: string, answer: Uint8Array): string[] {
    const tenant = requested === "*" ? undefined : requested || "default";
    const found: string[] = [];
    const seen = new Set<string>();
    const named = (queue: { tenant: string; name: string }) => `queue ${brief(queue.name)} of tenant ${brief(queue.tenant)}`;
    const response = ListQueuesResponse.decode(answer);
    for (const queue of response.queues) {
      const key = QueueModel.key(queue.tenant, queue.name);
      if (tenant !== undefined && queue.tenant !== tenant) found.push(`lists ${named(queue)}`);
      if (seen.has(key)) found.push(`lists ${named(queue)} twice`);
      seen.add(key);
      const want = this.settings.get(key);
      if (want && !sameSettings(settingsOf(queue), want)) {
        found.push(`lists ${named(queue)} with ${brief(settingsOf(queue))}, changed to ${brief(want)}`);
      }
    }
    // One page of several lists only some (a small page_size).
    for (const key of response.nextPageToken ? [] : this.settings.keys()) {
      const [queueTenant, name] = JSON.parse(key) as [string, string];
      if ((tenant === undefined || queueTenant === tenant) && !seen.has(key)) {
        found.push(`does not list ${named({ tenant: queueTenant, name })}, which the run changed`);
      }
    }
    return found;
  }
}

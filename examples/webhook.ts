// example.webhook: delivers an event to a partner's URL, with retries and a timeout.
//
// Input: { url, event }. It POSTs the event as JSON with an `Idempotency-Key` (the task id:
// the same on every attempt, so the receiver can drop a delivery it already has) and stops
// waiting when ctx.signal fires: on cancel, and on the task's own timeout (set it on
// CreateTask: `timeout`). A 5xx, a 408/429 or a network error throws, so Spool retries with
// exponential backoff up to `max_attempts`; any other 4xx will not get better by retrying,
// so the task ends SUCCEEDED with `delivered: false` and the status for the caller to see.
import { defineTask } from "@spool/sdk/task";
import { z } from "zod";

const Input = z.object({
  url: z.url(),
  event: z.record(z.string(), z.unknown()),
});

export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
}

export const webhook = defineTask({
  kind: "example.webhook",
  input: Input,
  async run(input: z.infer<typeof Input>, ctx) {
    ctx.log.info(`attempt ${ctx.attempt}: POST ${input.url}`);
    const response = await fetch(input.url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": ctx.taskId },
      body: JSON.stringify(input.event),
      signal: ctx.signal,
    });
    await response.body?.cancel();
    if (response.ok) return { delivered: true, status: response.status, attempt: ctx.attempt };
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      throw new DeliveryError(`${input.url} answered ${response.status}; will retry`);
    }
    ctx.log.error(`${input.url} refused the event with ${response.status}: not retrying`);
    return { delivered: false, status: response.status, attempt: ctx.attempt };
  },
});

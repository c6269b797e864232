// Waiting for tasks through the SDK, as a caller would (polling GetTask).
import type { SpoolClient, Task } from "@spool/sdk";

/** Polls the task until `done` holds for it; fails after 30 s. */
export async function until(client: SpoolClient, id: string, done: (task: Task) => boolean): Promise<Task> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const task = await client.getTask(id);
    if (done(task)) return task;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${id} did not get there in 30 s`);
}

/** Polls the task until it reaches a terminal state. */
export const finished = (client: SpoolClient, id: string): Promise<Task> => until(client, id, (task) => task.finishedAt !== undefined);

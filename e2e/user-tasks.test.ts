// Handler modules of the user's own (SPOOL_TASKS), in TypeScript and JavaScript, run by the
// built service.
import { fileURLToPath } from "node:url";
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";
import { finished as finishedOn } from "./support/tasks.js";

const finished = (id: string) => finishedOn(client, id);

const database = useTestDatabase();
let client: SpoolClient;

beforeAll(async () => {
  const tasks = fileURLToPath(new URL("./fixtures/tasks", import.meta.url));
  const service = await startService({ DATABASE_URL: database.url, SPOOL_TASKS: tasks });
  client = new SpoolClient(service.address);
});
afterAll(async () => {
  client?.close();
  await killAll();
});


it("runs a TypeScript handler module from a SPOOL_TASKS folder", async () => {
  const task = await finished((await client.createTask("example.greet", { name: "Ada" })).id);
  expect(task).toMatchObject({ state: "succeeded", result: { greeting: "hello, Ada" } });
  const lines = [];
  for await (const line of client.streamLogs(task.id)) lines.push(line.message);
  expect(lines).toEqual(["hello, Ada"]);
});

it("runs a JavaScript module exporting an array of tasks, beside the built-in kinds", async () => {
  expect(await finished((await client.createTask("example.shout", "quiet")).id)).toMatchObject({ result: "QUIET" });
  expect(await finished((await client.createTask("demo.echo", 1)).id)).toMatchObject({ result: 1 });
});

// The built service as a child process, driven through the SDK and through `buf curl` (an
// independent Go client that only knows what server reflection tells it).
import { SpoolClient, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { bufCurl, curlCall, CurlError, killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished, until as untilTask } from "./support/tasks.js";

const database = useTestDatabase();
const graceMs = 1000;
let service: ServiceProcess;
let client: SpoolClient;

beforeAll(async () => {
  service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "4", SPOOL_CANCEL_GRACE_MS: String(graceMs) });
  client = new SpoolClient(service.address);
});
afterAll(async () => {
  client?.close();
  await killAll();
});

const until = (id: string, done: (task: Task) => boolean) => untilTask(client, id, done);
const ended = (id: string) => finished(client, id);

async function curlError(method: string, request: unknown): Promise<{ code: string; message: string }> {
  const error = await curlCall(service, method, request).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CurlError);
  return (error as CurlError).status;
}

describe("reflection and health", () => {
  it("lists every service and its methods to buf curl", async () => {
    const services = await bufCurl(service, ["--list-services", `http://${service.address}`]);
    expect(services.code).toBe(0);
    // Reflection describes the whole contract (proto/gen/spool.binpb).
    expect(services.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "grpc.health.v1.Health",
      "spool.v1.AdminService",
      "spool.v1.QueueService",
      "spool.v1.ScheduleService",
      "spool.v1.TaskService",
    ]);
    const methods = await bufCurl(service, ["--list-methods", `http://${service.address}`]);
    expect(methods.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/List",
      "grpc.health.v1.Health/Watch",
      "spool.v1.AdminService/GetCaller",
      "spool.v1.AdminService/ListWorkers",
      "spool.v1.QueueService/GetActivity",
      "spool.v1.QueueService/ListQueues",
      "spool.v1.QueueService/PauseQueue",
      "spool.v1.QueueService/ResumeQueue",
      "spool.v1.QueueService/UpdateQueue",
      "spool.v1.ScheduleService/CreateSchedule",
      "spool.v1.ScheduleService/DeleteSchedule",
      "spool.v1.ScheduleService/GetSchedule",
      "spool.v1.ScheduleService/ListSchedules",
      "spool.v1.ScheduleService/PauseSchedule",
      "spool.v1.ScheduleService/ResumeSchedule",
      "spool.v1.ScheduleService/TriggerSchedule",
      "spool.v1.ScheduleService/UpdateSchedule",
      "spool.v1.TaskService/CancelTask",
      "spool.v1.TaskService/CreateTask",
      "spool.v1.TaskService/CreateTasks",
      "spool.v1.TaskService/GetTask",
      "spool.v1.TaskService/ListTasks",
      "spool.v1.TaskService/RetryTask",
      "spool.v1.TaskService/StreamLogs",
      "spool.v1.TaskService/WatchTask",
    ]);
  });

  it("reports SERVING through the standard health service", async () => {
    for (const name of ["", "spool.v1.TaskService", "spool.v1.QueueService", "spool.v1.ScheduleService"]) {
      const check = await bufCurl(service, ["-d", JSON.stringify({ service: name }), `http://${service.address}/grpc.health.v1.Health/Check`]);
      expect(check.code).toBe(0);
      expect(JSON.parse(check.stdout)).toEqual({ status: "SERVING" });
    }
  });
});

describe("create, run, result", () => {
  it("through the SDK", async () => {
    const task = await client.createTask("demo.echo", { order: 42, items: ["a", "b"] });
    const done = await ended(task.id);
    expect(done).toMatchObject({ state: "succeeded", result: { order: 42, items: ["a", "b"] }, attempt: 1 });
  });

  it("through buf curl, with plain JSON input", async () => {
    const { task, created } = await curlCall(service, "CreateTask", {
      kind: "demo.echo",
      input: { hello: "world" },
      labels: { via: "curl" },
      priority: 3,
    });
    expect(created).toBe(true);
    expect(task).toMatchObject({ kind: "demo.echo", input: { hello: "world" }, priority: 3 });
    // Pending, or already running when a thread was idle (start on create).
    expect(["TASK_STATE_PENDING", "TASK_STATE_RUNNING"]).toContain(task.state);
    await ended(task.id);
    const got = await curlCall(service, "GetTask", { id: task.id });
    expect(got.task).toMatchObject({ state: "TASK_STATE_SUCCEEDED", result: { hello: "world" }, attempt: 1 });
    const listed = await curlCall(service, "ListTasks", { labels: { via: "curl" } });
    expect(listed.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
  });
});

describe("logs", () => {
  it("streams live lines to the SDK, and resumes from a seq through buf curl", async () => {
    const task = await client.createTask("demo.sleep", { seconds: 3 });
    const live: { seq: number; message: string }[] = [];
    for await (const line of client.streamLogs(task.id, { follow: true })) live.push({ seq: line.seq, message: line.message });
    expect(live).toEqual([
      { seq: 1, message: "slept 1 of 3 s" },
      { seq: 2, message: "slept 2 of 3 s" },
      { seq: 3, message: "slept 3 of 3 s" },
    ]);
    const resumed = await bufCurl(service, [
      "-d",
      JSON.stringify({ taskId: task.id, afterSeq: 1, follow: true }),
      `http://${service.address}/spool.v1.TaskService/StreamLogs`,
    ]);
    expect(resumed.code).toBe(0);
    const entries = resumed.stdout
      .split(/\n(?=\{)/)
      .filter((s) => s.trim())
      .flatMap((message) => JSON.parse(message).entries);
    expect(entries.map((e: { seq: string }) => Number(e.seq))).toEqual([2, 3]);
  });
});

describe("cancel", () => {
  it("cancels demo.sleep (co-operative) and demo.spin (thread killed) within grace + 1 s while others keep running", async () => {
    const bystander = await client.createTask("demo.sleep", { seconds: 4 });
    const sleeper = await client.createTask("demo.sleep", { seconds: 60 });
    const spinner = await client.createTask("demo.spin", { ms: 60_000 });
    await Promise.all([sleeper, spinner, bystander].map((t) => until(t.id, (x) => x.state === "running")));

    const cancelledWithin = async (task: Task, reason: string) => {
      const start = Date.now();
      await client.cancelTask(task.id, reason);
      const done = await ended(task.id);
      return { done, ms: Date.now() - start };
    };
    const [sleep, spin] = await Promise.all([cancelledWithin(sleeper, "stop sleeping"), cancelledWithin(spinner, "stop spinning")]);
    expect(sleep.done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "stop sleeping" } });
    expect(spin.done).toMatchObject({ state: "cancelled", error: { type: "Cancelled", message: "stop spinning" } });
    expect(sleep.ms).toBeLessThan(graceMs + 1000);
    expect(spin.ms).toBeLessThan(graceMs + 1000);

    expect((await client.getTask(bystander.id)).state).toBe("running");
    expect(await ended(bystander.id)).toMatchObject({ state: "succeeded", result: { slept: 4 } });
  });
});

describe("bad input", () => {
  it.each([
    ["CreateTask", { kind: "nope" }, "invalid_argument", /^kind: unknown kind "nope"/],
    ["CreateTask", {}, "invalid_argument", /^kind: is required/],
    ["CreateTask", { kind: "demo.echo", timeout: "-5s" }, "invalid_argument", /^timeout: must be from 1s to 24h/],
    ["CreateTask", { kind: "demo.echo", maxAttempts: 1000 }, "invalid_argument", /^max_attempts: 1000 is out of range/],
    ["CreateTask", { kind: "demo.echo", queue: "no spaces" }, "invalid_argument", /^queue: /],
    ["GetTask", { id: "42" }, "invalid_argument", /^id: "42" is not a task id/],
    ["GetTask", {}, "invalid_argument", /^id: is required/],
    ["GetTask", { id: "01a20392-cd00-7774-b068-0f78454a8d14" }, "not_found", /^task 01a20392-cd00-7774-b068-0f78454a8d14 not found/],
    ["CancelTask", { id: "01a20392-cd00-7774-b068-0f78454a8d14" }, "not_found", /not found/],
    ["ListTasks", { states: ["TASK_STATE_UNSPECIFIED"] }, "invalid_argument", /^states\[0\]: TASK_STATE_UNSPECIFIED is not a state to filter on/],
    ["ListTasks", { pageToken: "abc" }, "invalid_argument", /^page_token: /],
    ["StreamLogs", { taskId: "x" }, "invalid_argument", /^task_id: "x" is not a task id/],
  ])("%s %j -> %s", async (method, request, code, message) => {
    const status = await curlError(method, request);
    expect(status.code).toBe(code);
    expect(status.message).toMatch(message);
  });

  it("keeps serving after all of it", async () => {
    const task = await client.createTask("demo.echo", "fine");
    expect(await ended(task.id)).toMatchObject({ state: "succeeded", result: "fine" });
  });
});

describe("restart", () => {
  it("runs after a restart a task created before it, even after SIGKILL", async () => {
    const before = await client.createTask("demo.echo", "survivor", { runAt: new Date(Date.now() + 2000) });
    expect(await service.kill("SIGKILL")).toBe(null);
    client.close();
    service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "2", SPOOL_CANCEL_GRACE_MS: String(graceMs) });
    client = new SpoolClient(service.address);
    expect(await ended(before.id)).toMatchObject({ state: "succeeded", result: "survivor" });
  });

  it("stops on SIGTERM with exit code 0, NOT_SERVING while draining, leaving no task RUNNING", async () => {
    const task = await client.createTask("demo.spin", { ms: 60_000 }); // takes the whole grace to stop
    await until(task.id, (t) => t.state === "running");
    service.child.kill("SIGTERM");
    const draining = await bufCurl(service, ["-d", "{}", `http://${service.address}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(draining.stdout)).toEqual({ status: "NOT_SERVING" });
    expect(await service.exited()).toBe(0);
    service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "2" });
    client.close();
    client = new SpoolClient(service.address);
    const after = await client.getTask(task.id);
    expect(["pending", "running"]).toContain(after.state); // handed back, and picked up again
    expect(after.error).toMatchObject({ type: "Shutdown" });
    await client.cancelTask(task.id);
  });
});

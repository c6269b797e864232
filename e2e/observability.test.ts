// Metrics and probes, from outside: the built service with its HTTP port on, a small load
// through the SDK, and /metrics scraped as Prometheus does; /healthz and /readyz as Kubernetes
// calls them, and the gRPC health service's "liveness" and "readiness".
import { SpoolClient } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../service/src/store/embedded.js";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { RawClient } from "./support/raw-grpc.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished } from "./support/tasks.js";

const database = useTestDatabase();
let service: ServiceProcess;
let client: SpoolClient;
let base: string;

beforeAll(async () => {
  const httpPort = await freePort();
  service = await startService({
    DATABASE_URL: database.url,
    SPOOL_DEMO_KINDS: "true",
    SPOOL_HTTP_PORT: String(httpPort),
    SPOOL_QUEUE_FIGURES_MS: "1000",
  });
  base = `http://127.0.0.1:${httpPort}`;
  client = new SpoolClient(service.address);
});

afterAll(async () => {
  client.close();
  await killAll();
});

/** One Prometheus sample: the value of `name` with these labels (others may be present), summed over the rest. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total = (total ?? 0) + Number(match[4]);
  }
  return total;
}

async function scrape(): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return response.text();
}

describe("/metrics", () => {
  it("counts tasks created, started and finished by kind, queue and outcome, with latency histograms and gauges", async () => {
    const echoes = await client.createTasks(Array.from({ length: 12 }, (_, i) => ({ kind: "demo.echo", input: i, queue: "metered" })));
    const failing = await client.createTask("demo.sleep", { seconds: 0, fail: true }, { maxAttempts: 2, backoff: { baseMs: 100, maxMs: 100 } });
    for (const task of [...echoes, failing]) await finished(client, task.id);

    const labels = { kind: "demo.echo", queue: "metered" };
    // The outcome is counted once it is stored, and the queue figures come once a second.
    let text = await scrape();
    for (let i = 0; i < 100 && (sample(text, "spool_queue_depth", { queue: "metered", state: "pending" }) === undefined || (sample(text, "spool_tasks_finished_total", { kind: "demo.sleep" }) ?? 0) < 2); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await scrape();
    }
    expect(sample(text, "spool_tasks_created_total", labels)).toBe(12);
    expect(sample(text, "spool_tasks_started_total", labels)).toBe(12);
    expect(sample(text, "spool_tasks_finished_total", { ...labels, outcome: "succeeded" })).toBe(12);
    expect(sample(text, "spool_task_pickup_latency_count", labels)).toBe(12);
    expect(sample(text, "spool_task_run_duration_count", { ...labels, outcome: "succeeded" })).toBe(12);
    expect(sample(text, "spool_task_run_duration_bucket", { ...labels, outcome: "succeeded", le: "+Inf" })).toBe(12);
    // The failing task: a retry after its first attempt, then failed.
    const sleep = { kind: "demo.sleep", queue: "default" };
    expect(sample(text, "spool_tasks_finished_total", { ...sleep, outcome: "retry" })).toBe(1);
    expect(sample(text, "spool_tasks_finished_total", { ...sleep, outcome: "failed" })).toBe(1);
    expect(sample(text, "spool_tasks_retried_total", { ...sleep, by: "backoff" })).toBe(1);
    expect(sample(text, "spool_workers_total")).toBeGreaterThan(0);
    expect(sample(text, "spool_workers_busy")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "spool_queue_depth", { tenant: "default", queue: "metered", state: "pending" })).toBe(0);
    expect(sample(text, "spool_queue_oldest_pending_age", { tenant: "default", queue: "metered" })).toBe(0);
  });

  it("shows a queue's backlog in its depth and oldest pending age", async () => {
    await client.queues.pause("stalled");
    await client.createTasks(Array.from({ length: 3 }, () => ({ kind: "demo.echo", queue: "stalled", runAt: new Date(Date.now() - 60_000) })));
    let text = await scrape();
    for (let i = 0; i < 100 && sample(text, "spool_queue_depth", { queue: "stalled", state: "pending" }) !== 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await scrape();
    }
    expect(sample(text, "spool_queue_depth", { queue: "stalled", state: "pending" })).toBe(3);
    expect(sample(text, "spool_queue_oldest_pending_age", { queue: "stalled" })).toBeGreaterThanOrEqual(60);
  });
});

describe("probes", () => {
  it("answers /healthz and /readyz over HTTP, and liveness and readiness over gRPC health", async () => {
    const alive = await fetch(`${base}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toMatchObject({ status: "alive" });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
    const raw = new RawClient(service.address);
    try {
      expect(await raw.health("liveness", 5000)).toBe("SERVING");
      expect(await raw.health("readiness", 5000)).toBe("SERVING");
    } finally {
      raw.close();
    }
  });
});

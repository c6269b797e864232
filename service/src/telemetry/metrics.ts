// The service's metrics, recorded through the OpenTelemetry metrics API. Names and attributes
// (docs/observability.md):
//   spool.tasks.created    counter    kind, queue
//   spool.tasks.started    counter    kind, queue
//   spool.tasks.finished   counter    kind, queue, outcome (succeeded, failed, cancelled,
//                                     dropped, retry: failed with attempts left, interrupted:
//                                     given back at shutdown)
//   spool.tasks.retried    counter    kind, queue, by (backoff: a failed attempt's retry;
//                                     request: RetryTask)
//   spool.task.pickup_latency  histogram s  kind, queue: from run_at to the run's start
//   spool.task.run_duration    histogram s  kind, queue, outcome: the run in its thread
//   spool.leases.expired   counter    attempts taken back from replicas whose lease expired
//   spool.workers.busy / .total  gauges: this replica's threads
//   spool.queue.depth      gauge      tenant, queue, state (pending: due; scheduled: due
//                                     later; running)
//   spool.queue.oldest_pending_age  gauge s  tenant, queue
// The queue gauges are the cluster's (queue-figures.ts): every replica reports the same figures.
// Prometheus shows them under its usual renaming: spool_tasks_created_total,
// spool_task_pickup_latency_bucket (seconds; the exporter adds no unit suffix), spool_queue_depth.
import type { Attributes, Meter } from "@opentelemetry/api";
import type { FinishOutcome, TaskEvents, TaskLabels } from "../domain/task-events.js";
import type { QueueFigures } from "./queue-figures.js";

/** Bucket bounds (s) for latencies and run times: 1 ms to 5 min. */
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface MetricsSources {
  workers: () => { busy: number; total: number };
  queues: QueueFigures;
}

export class Metrics implements TaskEvents {
  readonly #created;
  readonly #started;
  readonly #finished;
  readonly #retried;
  readonly #pickup;
  readonly #run;
  readonly #expired;

  constructor(meter: Meter, sources: MetricsSources) {
    this.#created = meter.createCounter("spool.tasks.created", { description: "Tasks created" });
    this.#started = meter.createCounter("spool.tasks.started", { description: "Attempts started on this replica" });
    this.#finished = meter.createCounter("spool.tasks.finished", { description: "Attempts ended on this replica, by outcome" });
    this.#retried = meter.createCounter("spool.tasks.retried", { description: "Tasks set to run again: a failed attempt's retry, or RetryTask" });
    const histogram = { unit: "s", advice: { explicitBucketBoundaries: secondsBuckets } };
    this.#pickup = meter.createHistogram("spool.task.pickup_latency", { ...histogram, description: "From a task's run_at to its run starting" });
    this.#run = meter.createHistogram("spool.task.run_duration", { ...histogram, description: "How long a run took in its worker thread" });
    this.#expired = meter.createCounter("spool.leases.expired", { description: "Attempts taken back from replicas whose lease expired" });

    const busy = meter.createObservableGauge("spool.workers.busy", { description: "Worker threads running a task on this replica" });
    const total = meter.createObservableGauge("spool.workers.total", { description: "Worker threads of this replica" });
    meter.addBatchObservableCallback(
      (result) => {
        const workers = sources.workers();
        result.observe(busy, workers.busy);
        result.observe(total, workers.total);
      },
      [busy, total],
    );
    const depth = meter.createObservableGauge("spool.queue.depth", { description: "Tasks of a queue by state, for the whole cluster" });
    const age = meter.createObservableGauge("spool.queue.oldest_pending_age", {
      unit: "s",
      description: "How long the longest-waiting due task of a queue has waited past its run_at",
    });
    meter.addBatchObservableCallback(
      (result) => {
        for (const queue of sources.queues.latest()) {
          const where = { tenant: queue.tenant, queue: queue.name };
          result.observe(depth, queue.pending, { ...where, state: "pending" });
          result.observe(depth, queue.scheduled, { ...where, state: "scheduled" });
          result.observe(depth, queue.running, { ...where, state: "running" });
          result.observe(age, queue.oldestPendingAgeMs / 1000, where);
        }
      },
      [depth, age],
    );
  }

  created(tasks: readonly TaskLabels[]): void {
    // Counted per (kind, queue): a batch of 500 adds once or a few times, not 500.
    const counts = new Map<string, { labels: Attributes; n: number }>();
    for (const { kind, queue } of tasks) {
      const key = `${kind}\u0000${queue}`;
      const entry = counts.get(key);
      if (entry) entry.n++;
      else counts.set(key, { labels: { kind, queue }, n: 1 });
    }
    for (const { labels, n } of counts.values()) this.#created.add(n, labels);
  }

  started(task: TaskLabels, pickupMs: number): void {
    const labels = { kind: task.kind, queue: task.queue };
    this.#started.add(1, labels);
    this.#pickup.record(Math.max(0, pickupMs) / 1000, labels);
  }

  finished(task: TaskLabels, outcome: FinishOutcome, runMs: number | undefined): void {
    const labels = { kind: task.kind, queue: task.queue, outcome };
    this.#finished.add(1, labels);
    if (runMs !== undefined) this.#run.record(runMs / 1000, labels);
  }

  retried(task: TaskLabels, by: "backoff" | "request"): void {
    this.#retried.add(1, { kind: task.kind, queue: task.queue, by });
  }

  leasesExpired(count: number): void {
    if (count > 0) this.#expired.add(count);
  }
}

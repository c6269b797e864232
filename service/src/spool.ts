// The composition root: wires config, store, scheduler, worker pool and gRPC server into one
// running replica, and takes them down in the right order. main.ts calls it with the
// environment; integration tests call it directly.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { ActivityRecorder } from "./activity/activity-recorder.js";
import { startApiServer, type ApiServer } from "./api/server.js";
import { serverTls } from "./api/tls.js";
import type { Config } from "./config.js";
import { InputSchemas } from "./domain/input-schemas.js";
import { KindBackoffs } from "./domain/kind-backoffs.js";
import type { AdminOperations, QueueOperations, TaskOperations } from "./domain/operations.js";
import { allOf } from "./domain/task-events.js";
import { streamLogs } from "./logs/log-stream.js";
import { TaskWatchers } from "./logs/task-watchers.js";
import { watchTask } from "./logs/watch-task.js";
import { AttemptWriter } from "./scheduler/attempt-writer.js";
import { LeaseKeeper } from "./scheduler/lease-keeper.js";
import { RetentionSweeper } from "./retention/retention-sweeper.js";
import { Scheduler } from "./scheduler/scheduler.js";
import { addActivity, pruneActivity, readActivity } from "./store/activity.js";
import { cancelTask } from "./store/cancel.js";
import { withTimeout } from "./deadline.js";
import { connect, migrateDatabase, serverWarnings } from "./store/database.js";
import { startEmbeddedPostgres } from "./store/embedded.js";
import { SpoolError } from "./errors.js";
import { listReplicas } from "./store/leases.js";
import { listen, Notifier } from "./store/notify.js";
import { changeQueue, getQueue, listQueues } from "./store/queues.js";
import { getTask, listTasks } from "./store/read-tasks.js";
import { TaskCreator } from "./store/task-creator.js";
import { builtInModule, loadHandlers } from "./workers/handlers.js";
import { createAuthenticator, openAccess } from "./auth/auth-mode.js";
import { WorkerPool } from "./workers/pool.js";
import { CreateAdmission } from "./quotas/create-admission.js";
import { PendingCap } from "./quotas/pending-cap.js";
import { TokenBuckets } from "./quotas/token-bucket.js";
import { countPending } from "./store/pending-count.js";
import type { ReadyTemplate } from "./domain/schedule.js";
import { ScheduleBook } from "./schedules/schedule-book.js";
import { Ticker } from "./schedules/ticker.js";
import { startHttpServer } from "./http/http-server.js";
import { connectGateway, privateSocket } from "./http/connect-gateway.js";
import { loadDashboardAssets } from "./http/dashboard-assets.js";
import { dashboardDir } from "@spool/dashboard";
import { setUpMeters } from "./telemetry/meter-provider.js";
import { Metrics } from "./telemetry/metrics.js";
import { setUpTracing } from "./telemetry/tracing.js";
import { QueueFigures } from "./telemetry/queue-figures.js";
import { serverVersion } from "./version.js";

export interface Spool {
  /** The gRPC port. */
  readonly port: number;
  /** The HTTP port (/metrics, /healthz, /readyz); undefined when off. */
  readonly httpPort: number | undefined;
  /** This replica's id: the owner recorded on the attempts it runs. */
  readonly replicaId: string;
  /** Graceful stop: drain tasks, close the server, the database and the embedded Postgres. */
  stop(): Promise<void>;
}

/**
 * Log text a worker thread may have posted and not yet stored before its logging blocks, and
 * how long it blocks before it drops lines instead (workers/log-credit.ts). With the default
 * pool this bounds log text in memory to workers x 1 MiB.
 */
const logWindowBytes = 1024 * 1024;
const logMaxWaitMs = 5000;
/** The longest unary call through the HTTP port's Connect gateway: the SDK's default deadline. */
const gatewayDeadlineMs = 30_000;
/** How long open calls (followed log streams) may go on once draining is done. */
const serverCloseGraceMs = 2000;
/**
 * How long a stop waits for the database to store the last outcomes and creates and take back
 * the claims, and then to release the lease. With Postgres unreachable a stop thus ends within
 * SPOOL_CANCEL_GRACE_MS + 10 s + 2 s (server) + 2 s (lease) + 2 s (activity counts) + 5 s
 * (connections): see docs/reliability.md for what is lost and how it is recovered.
 */
const shutdownDatabaseWaitMs = 10_000;
const releaseLeaseWaitMs = 2000;
const activityFlushWaitMs = 2000;
/** The queue gauges cover this many queues at most, the first in (tenant, name) order. */
const maxQueuesInGauges = 1000;

/** A host as it goes in a URL: an IPv6 address in brackets. */
const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host);

export async function startSpool(config: Config, log: Logger): Promise<Spool> {
  const replicaId = randomUUID();
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error: unknown) => log.error({ err: error }, "error while stopping"));
    }
  };
  try {
    // TLS files are read and checked before anything starts: a bad one stops the start at once,
    // naming its variable and file.
    const tls = config.tls && serverTls(config.tls, log.child({ component: "tls" }));
    // The identity sources come first: a bad tokens file or JWKS, or a public address without
    // any, stops the start before anything runs.
    const auth = createAuthenticator(config.auth, config.host, log.child({ component: "auth" }));
    cleanups.push(() => auth.close());
    // The demo kinds burn CPU and fill logs on request: only for open (development) services,
    // unless SPOOL_DEMO_KINDS says otherwise.
    const modules = (config.demoKinds ?? auth === openAccess) ? [builtInModule, ...config.taskModules] : config.taskModules;
    // The handlers load next, before anything starts: a module that cannot load stops the
    // start with its own error (its file and line), not one relayed by a worker thread, and
    // without first starting a database and a pool for nothing.
    const definitions = await loadHandlers(modules);
    const schemas = InputSchemas.of(definitions);
    const backoffs = KindBackoffs.of(definitions);
    if (definitions.size === 0) {
      log.warn("no task kinds are loaded: give your handler modules with SPOOL_TASKS (--tasks); every CreateTask will be refused");
    }
    let url = config.databaseUrl;
    if (url === undefined) {
      const embedded = await startEmbeddedPostgres(config.dataDir, log);
      cleanups.push(() => embedded.stop());
      url = embedded.url;
    }
    await migrateDatabase(url);
    const database = connect(url, { max: config.dbPoolSize, applicationName: `spool ${replicaId}` });
    cleanups.push(() => database.close());
    for (const warning of await serverWarnings(database.sql)) log.warn(warning);

    // Traces (OTEL_TRACES_EXPORTER): set up before the pool, whose threads trace their runs.
    const tracing = await setUpTracing({ env: process.env, version: serverVersion, instanceId: replicaId });
    cleanups.push(() => tracing.shutdown());

    let scheduler: Scheduler | undefined;
    const pool = new WorkerPool({
      tracing: { enabled: tracing.enabled, version: serverVersion, instanceId: replicaId },
      size: config.workers,
      modules,
      graceMs: config.cancelGraceMs,
      maxHeapMb: config.workerMaxHeapMb,
      logLimits: { budgetBytes: config.logBytesPerAttempt, windowBytes: logWindowBytes, maxWaitMs: logMaxWaitMs },
      log: log.child({ component: "pool" }),
      onIdle: () => scheduler?.threadFreed(),
    });
    await pool.start();
    cleanups.push(() => pool.close());

    // Metrics: recorded from here on; served at /metrics and exported over OTLP as configured.
    const meters = await setUpMeters({ env: process.env, version: serverVersion, instanceId: replicaId, prometheus: config.httpPort !== 0, log });
    cleanups.push(() => meters.shutdown());
    const queueFigures = new QueueFigures({
      sql: database.sql,
      intervalMs: config.queueFiguresMs,
      maxQueues: maxQueuesInGauges,
      log: log.child({ component: "metrics" }),
    });
    // Counts of ended attempts for GetActivity: stored last thing before the database closes.
    const activity = new ActivityRecorder({
      store: { add: (rows) => addActivity(database.sql, rows), prune: (limit) => pruneActivity(database.sql, limit) },
      flushMs: config.activityFlushMs,
      log: log.child({ component: "activity" }),
    });
    activity.start();
    cleanups.push(() => withTimeout(activity.close(), activityFlushWaitMs, "storing the last task activity"));
    const metrics = new Metrics(meters.provider.getMeter("spool"), {
      workers: () => ({ busy: pool.running, total: config.workers }),
      queues: queueFigures,
    });
    const events = allOf(metrics, activity);

    // Notices of the busy paths, sent after their commits (store/notify.ts).
    const notifier = new Notifier(database.notices, log.child({ component: "notices" }));
    const writer = new AttemptWriter(database.writes, replicaId, log.child({ component: "writer" }), notifier);
    scheduler = new Scheduler({
      sql: database.sql,
      claims: database.claims,
      pool,
      writer,
      owner: replicaId,
      log: log.child({ component: "scheduler" }),
      queues: config.queues,
      agingMs: config.priorityAgingMs,
      pollIntervalMs: config.pollIntervalMs,
      maxPrefetch: config.prefetch,
      databaseWaitMs: shutdownDatabaseWaitMs,
      events,
      notices: notifier,
    });
    const creator = new TaskCreator(database.sql, notifier, scheduler);
    const admission = new CreateAdmission(
      new PendingCap({ max: config.quotas.maxPending, count: (tenant, bound) => countPending(database.sql, tenant, bound) }),
      config.quotas.createRate === 0
        ? undefined
        : { limit: new TokenBuckets(config.quotas.createRate, config.quotas.createBurst), perSecond: config.quotas.createRate },
    );
    const watchers = new TaskWatchers();
    const live = scheduler;
    // A schedule's tick creates its tasks as CreateTask does: input checked, quotas applied.
    const readyTemplate: ReadyTemplate = async (tenant, template, count, field) => {
      const input = await schemas.check(template.kind, template.input, field);
      await admission.admit(tenant, count);
      return { ...template, input };
    };
    const schedules = new ScheduleBook(database.sql, readyTemplate, () => pool.kinds, events);
    const ticker = new Ticker({ sql: database.sql, kinds: () => pool.kinds, ready: readyTemplate, log: log.child({ component: "ticker" }), events });

    const listener = await listen(
      database.sql,
      (notice) => {
        if (notice.type === "wake") live.wakeAt(notice.at);
        else if (notice.type === "cancel") live.cancel(notice.id);
        else if (notice.type === "queues") live.queuesChanged();
        else if (notice.type === "schedules") ticker.poke();
        else watchers.poke(notice.ids, notice.type === "logs" ? "lines" : "state");
      },
      () => {
        // (Re)connected: notices may have been missed meanwhile.
        live.wake();
        ticker.poke();
        watchers.pokeAll();
      },
    );
    cleanups.push(() => listener.unlisten());

    // Serving while the database answers and the replica is not draining.
    let databaseReachable = true;
    let draining = false;
    let server: ApiServer | undefined;
    const serving = () => server !== undefined && databaseReachable && !draining;
    const updateHealth = () => server?.setServing(serving());
    const leases = new LeaseKeeper({
      sql: database.lease,
      replica: { id: replicaId, name: `${hostname()}:${process.pid}` },
      renewMs: config.leaseRenewMs,
      ttlMs: config.leaseTtlMs,
      log: log.child({ component: "leases" }),
      onHealth: (reachable) => {
        databaseReachable = reachable;
        updateHealth();
      },
      onLost: (owned) => live.dropLost(owned),
      onCancelRequested: (ids) => {
        for (const id of ids) live.cancel(id);
      },
      onOwned: (owned) => live.reconcile(owned),
      onReaped: (count) => events.leasesExpired(count),
      view: () => ({
        version: serverVersion,
        renewMs: config.leaseRenewMs,
        ...(config.queues && { queues: [...config.queues] }),
        kinds: [...pool.kinds],
        threads: pool.threads(),
      }),
    });
    await leases.start();
    cleanups.push(() => leases.stop(releaseLeaseWaitMs));

    const ops: TaskOperations = {
      get kinds() {
        return pool.kinds;
      },
      kindBackoff: (kind) => backoffs.of(kind),
      checkInput: (kind, input, field) => schemas.check(kind, input, field),
      admit: (tenant, count) => admission.admit(tenant, count),
      create: async (tasks) => {
        const results = await creator.create(tasks);
        events.created(results.filter((r) => r.created).map((r) => r.task));
        return results;
      },
      retried: (task) => events.retried(task, "request"),
      get: (id) => getTask(database.db, id),
      list: (filter, beforeId, limit, view) => listTasks(database.db, filter, beforeId, limit, view),
      // Not pending or running: the task has ended (a terminal state never changes) or
      // does not exist; either way it is returned as it is.
      cancel: async (id, reason) => (await cancelTask(database.sql, id, reason)) ?? getTask(database.db, id),
      streamLogs: (request, sink, admit) => streamLogs({ sql: database.sql, db: database.db, watchers }, request, sink, admit),
      watchTask: (id, sink, admit) => watchTask({ db: database.db, watchers }, id, sink, admit),
    };

    const queues: QueueOperations = {
      list: (tenant, page) => listQueues(database.sql, tenant, { page }),
      change: async (tenant, name, change) => {
        await changeQueue(database.sql, tenant, name, change);
        const queue = await getQueue(database.sql, tenant, name);
        if (!queue) throw new SpoolError("internal", `queue ${name} of tenant ${tenant} vanished after its change`);
        return queue;
      },
      activity: (tenant, queue, minutes) => readActivity(database.sql, tenant, queue, minutes),
    };

    const admin: AdminOperations = { listWorkers: () => listReplicas(database.sql) };

    // The HTTP port's Connect gateway reaches the gRPC server through a private socket.
    const gatewaySocket = config.httpPort === 0 ? undefined : privateSocket();
    if (gatewaySocket) cleanups.push(() => gatewaySocket.remove());
    const api = await startApiServer({
      host: config.host,
      port: config.port,
      ops,
      queues,
      schedules,
      admin,
      auth,
      log: log.child({ component: "api" }),
      maxStreams: config.maxStreams,
      limits: config.transport,
      tls,
      localAddress: gatewaySocket?.address,
    });
    server = api;
    cleanups.push(() => api.close(serverCloseGraceMs));
    const gateway =
      gatewaySocket &&
      connectGateway({
        grpcAddress: gatewaySocket.address,
        unaryDeadlineMs: gatewayDeadlineMs,
        streamsPerConnection: config.transport.maxConcurrentStreams,
      });
    if (gateway) cleanups.push(() => gateway.close());
    const dashboard = gatewaySocket && loadDashboardAssets(dashboardDir, { traceUrl: config.traceUrl ?? "" });
    if (dashboard && !dashboard.available) log.warn({ dir: dashboardDir }, "the dashboard is not built (npm run build): / answers 404");
    // The probes answer until the end: it closes after draining (cleanups run in reverse).
    const http =
      config.httpPort === 0
        ? undefined
        : await startHttpServer({
            host: config.host,
            port: config.httpPort,
            ready: serving,
            metrics: meters.prometheus && ((request, response) => meters.prometheus!.getMetricsRequestHandler(request, response)),
            gateway,
            dashboard,
            ...(tls && { tls }),
            log: log.child({ component: "http" }),
          });
    if (http) cleanups.push(() => http.close());
    queueFigures.start();
    cleanups.push(() => queueFigures.stop());
    scheduler.start();
    const retention = new RetentionSweeper({
      sql: database.sql,
      defaultRetentionMs: config.retentionMs,
      log: log.child({ component: "retention" }),
      busy: () => pool.running > 0,
    });
    retention.start();
    cleanups.push(() => withTimeout(retention.stop(), shutdownDatabaseWaitMs, "finishing a retention batch"));
    // Draining comes first when stopping: the server keeps answering while tasks wind down.
    cleanups.push(async () => {
      draining = true;
      updateHealth();
      await Promise.all([live.drain(), withTimeout(creator.drained(), shutdownDatabaseWaitMs, "storing the last created tasks")]);
      // What they stored is announced to the other replicas before the connections close.
      await withTimeout(notifier.drained(), shutdownDatabaseWaitMs, "sending the last notices");
    });
    // Before draining: a stopping replica fires no more ticks (the others do).
    ticker.start();
    cleanups.push(() => withTimeout(ticker.stop(), shutdownDatabaseWaitMs, "firing the last schedule"));
    updateHealth();
    const transport = tls ? (tls.mutual ? "mtls" : "tls") : "plaintext";
    const httpUrl = http && `${tls ? "https" : "http"}://${urlHost(config.host)}:${http.port}`;
    log.info({ port: api.port, http: httpUrl, transport, replicaId, workers: config.workers, kinds: [...pool.kinds] }, "spool serving");
    if (httpUrl) {
      if (dashboard?.available) log.info({ dashboard: `${httpUrl}/` }, `dashboard at ${httpUrl}/`);
      log.info({ metrics: `${httpUrl}/metrics`, liveness: `${httpUrl}/healthz`, readiness: `${httpUrl}/readyz`, connect: `${httpUrl}/spool.v1.*` }, "HTTP serving");
    }

    let stopping: Promise<void> | undefined;
    return {
      port: api.port,
      httpPort: http?.port,
      replicaId,
      stop: () => (stopping ??= cleanUp()),
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

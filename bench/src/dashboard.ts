// `npm run bench:dashboard`: the dashboard's size and how fast it first renders against a
// large database. Starts Postgres (DATABASE_URL's server, else an embedded one) and the built
// service with its HTTP port, fills spool.tasks with 1M finished and 100k future tasks (the
// scenario 6 table), then opens each page in a fresh Chromium context (nothing cached) and
// times, in the page's own clock, from the start of navigation until the page shows its data:
//   overview  the queues table and the activity chart
//   tasks     the first row of the task list (ListTasks' first page, newest first)
//   task      a task's state and its log
// It prints the medians and writes bench/results/dashboard-<date>.json.
//
//   npm run bench:dashboard                  1M finished + 100k future tasks, 7 loads a page
//   npm run bench:dashboard -- --quick       20k + 2k, 2 loads a page
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { SpoolClient } from "@spool/sdk";
import { chromium } from "playwright-core";
import postgres from "postgres";
import { startPostgres } from "./postgres.js";
import { startChild } from "./processes.js";
import { fillTable } from "./scenarios.js";

const { values: args } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const size = args.quick ? { finished: 20_000, future: 2_000, loads: 2 } : { finished: 1_000_000, future: 100_000, loads: 7 };
const root = fileURLToPath(new URL("../..", import.meta.url));
const chromiumPath = process.env.SPOOL_CHROMIUM ?? "/usr/bin/chromium";
const log = (message: string) => console.error(`[bench:dashboard] ${message}`);

function bundle() {
  const dir = join(root, "dashboard", "dist");
  // The files the build wrote, without their .gz and .br forms (their sizes are computed here).
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && !/\.(gz|br)$/.test(entry.name));
  return Object.fromEntries(
    files.map((entry) => {
      const bytes = readFileSync(join(entry.parentPath, entry.name));
      return [entry.name.replace(/-[\w-]{8}\./, "."), { kB: round(bytes.length / 1024), gzipKB: round(gzipSync(bytes, { level: 9 }).length / 1024) }];
    }),
  );
}

const round = (n: number) => Math.round(n * 10) / 10;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function main() {
  const server = await startPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  const url = server.urlOf("spool_dashboard_bench");
  await admin.unsafe("drop database if exists spool_dashboard_bench with (force)");
  await admin.unsafe("create database spool_dashboard_bench");
  const httpPort = await freePort();
  const { child, match } = await startChild(
    join(root, "service", "dist", "main.js"),
    { DATABASE_URL: url, SPOOL_HOST: "127.0.0.1", SPOOL_PORT: "0", SPOOL_HTTP_PORT: String(httpPort), SPOOL_DEMO_KINDS: "true", SPOOL_LOG_LEVEL: "info" },
    /"port":(\d+),[^\n]*"msg":"spool serving"/,
  );
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const client = new SpoolClient(`127.0.0.1:${match[1]}`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    log(`filling spool.tasks: ${size.finished} finished, ${size.future} future`);
    await fillTable(sql, size.finished, size.future);
    // A task with a log, newest of all, for the task page; and some activity for the chart.
    const task = await client.createTask("demo.log", { lines: 200 });
    await client.waitForTask(task.id);
    const [{ count } = { count: "0" }] = await sql<{ count: string }[]>`select count(*) from spool.tasks`;
    log(`${count} tasks in the table`);

    const base = `http://127.0.0.1:${httpPort}`;
    const pages = {
      overview: { path: "/", ready: ["tr[data-queue] >> nth=0", ".charts svg >> nth=0"] },
      tasks: { path: "/#/tasks", ready: ["tr[data-task] >> nth=0"] },
      task: { path: `/#/tasks/${task.id}`, ready: ["h1 .badge", "ol.log li >> nth=199"] },
    } as const;
    const figures: Record<string, { medianMs: number; maxMs: number; loadsMs: number[] }> = {};
    for (const [name, page] of Object.entries(pages)) {
      const loads: number[] = [];
      for (let i = 0; i < size.loads; i++) {
        const context = await browser.newContext();
        const tab = await context.newPage();
        await tab.goto(`${base}${page.path}`, { waitUntil: "commit" });
        for (const selector of page.ready) await tab.locator(selector).waitFor({ timeout: 60_000 });
        loads.push(round(await tab.evaluate(() => performance.now())));
        await context.close();
      }
      figures[name] = { medianMs: median(loads), maxMs: Math.max(...loads), loadsMs: loads };
      log(`${name}: first render median ${figures[name]!.medianMs} ms (${loads.join(", ")})`);
    }
    // The calls behind the tasks page, from outside: ListTasks' first page on the full table.
    const listMs: number[] = [];
    for (let i = 0; i < 21; i++) {
      const started = performance.now();
      await client.listTasksPage({ pageSize: 50 });
      listMs.push(performance.now() - started);
    }
    const result = {
      date: new Date().toISOString(),
      tasks: Number(count),
      bundle: bundle(),
      firstRender: figures,
      listTasksFirstPageMs: { median: round(median(listMs)), max: round(Math.max(...listMs)) },
    };
    console.log(JSON.stringify(result, null, 2));
    const out = join(root, "bench", "results", `dashboard-${args.quick ? "quick" : result.date.slice(0, 10)}.json`);
    await mkdir(join(root, "bench", "results"), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`figures written to ${out}`);
  } finally {
    await browser.close();
    client.close();
    await sql.end();
    await child.stop();
    await admin.end();
    await server.stop();
  }
}

await main();

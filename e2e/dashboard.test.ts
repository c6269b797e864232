// The dashboard in a real browser (Debian's Chromium through playwright-core), against the
// built service as a child process, doing what an operator does: sign in; see a task created
// through the SDK appear without a reload; watch its log lines arrive while it runs; cancel a
// running demo.spin (a CPU loop) from the page; retry a failed task; pause a queue and see
// that its tasks wait. Roles hide what they cannot do, and the server refuses it anyway.
// axe-core finds no serious violation on any page. Each page is photographed; with
// SPOOL_UPDATE_SCREENSHOTS=1 the photos replace those in docs/dashboard/.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AxeBuilder } from "@axe-core/playwright";
import { SpoolClient } from "@spool/sdk";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../service/src/store/embedded.js";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { launchBrowser } from "./support/browser.js";
import { killAll, startService, type ServiceProcess } from "./support/service.js";
import { finished, until } from "./support/tasks.js";

const database = useTestDatabase();
const tokens = {
  root: "token-of-root-0123456789abcdef",
  olga: "token-of-olga-0123456789abcdef",
  sam: "token-of-sam-0123456789abcdefgh",
};
const screenshots = process.env.SPOOL_UPDATE_SCREENSHOTS === "1" ? fileURLToPath(new URL("../docs/dashboard/", import.meta.url)) : undefined;
/** Long enough for a loaded 2-core machine; every wait is for a condition. */
const waitMs = 30_000;

let dir: string;
let service: ServiceProcess;
let base: string;
let root: SpoolClient;
let browser: Browser;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-e2e-dashboard-"));
  const tokensFile = join(dir, "tokens.json");
  await writeFile(
    tokensFile,
    JSON.stringify([
      { token: tokens.root, subject: "root", tenant: "ops", roles: ["admin"] },
      { token: tokens.olga, subject: "olga", tenant: "ops", roles: ["operator"] },
      { token: tokens.sam, subject: "sam", tenant: "ops", roles: ["submitter"] },
    ]),
  );
  const httpPort = await freePort();
  service = await startService({
    DATABASE_URL: database.url,
    SPOOL_AUTH_TOKENS_FILE: tokensFile,
    SPOOL_DEMO_KINDS: "true",
    SPOOL_WORKERS: "2",
    SPOOL_CANCEL_GRACE_MS: "300",
    SPOOL_HTTP_PORT: String(httpPort),
    SPOOL_ACTIVITY_FLUSH_MS: "500",
    SPOOL_TRACE_URL: "http://traces.example/trace/{traceId}",
  });
  base = `http://127.0.0.1:${httpPort}`;
  root = new SpoolClient(service.address, { token: tokens.root });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  root?.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh browser profile (no token kept), signed in with `token`, at the overview. */
async function signedIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor({ timeout: waitMs });
  return { context, page };
}

async function photograph(page: Page, name: string): Promise<void> {
  const path = join(screenshots ?? dir, `${name}.png`);
  if (screenshots) await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path, fullPage: true });
}

/** The serious and critical violations axe-core finds on the page as it is. */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

const badge = (page: Page) => page.locator("h1 .badge");
/** The page's document, as much of it as the keyboard test reads (no DOM types here). */
type Focus = { document: { activeElement: { textContent: string | null } | null } };

describe("the dashboard in Chromium", () => {
  it("asks for a token, refuses a wrong one, and signs in with a right one", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Token").fill("not-a-token-of-this-service");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: waitMs }).toMatch(/Unauthenticated/);
    expect(await seriousViolations(page)).toEqual([]);
    await photograph(page, "sign-in");

    await page.getByLabel("Token").fill(tokens.root);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor({ timeout: waitMs });
    expect(await page.locator(".who").textContent()).toContain("root · ops · admin");
    // The token is kept for the tab: a reload stays signed in.
    await page.reload();
    await page.getByRole("heading", { name: "Overview" }).waitFor({ timeout: waitMs });
    await context.close();
  });

  it("shows a task created through the SDK without a reload, and its log lines as they are written", async () => {
    const { context, page } = await signedIn(tokens.root);
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));

    const task = await root.createTask("demo.sleep", { seconds: 6 }, { labels: { customer: "acme" } });
    const row = page.locator(`tr[data-task="${task.id}"]`);
    await row.waitFor({ timeout: waitMs });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);

    await row.getByRole("link", { name: "demo.sleep" }).click();
    await page.getByRole("heading", { name: /demo\.sleep/ }).waitFor();
    // A line written while the task still runs is on the page while the page says running.
    await page.locator("ol.log li", { hasText: "slept 1 of 6 s" }).waitFor({ timeout: waitMs });
    expect((await root.getTask(task.id)).finishedAt).toBeUndefined();
    await page.locator("ol.log li", { hasText: "slept 2 of 6 s" }).waitFor({ timeout: waitMs });
    expect(await badge(page).textContent()).toBe("running");

    await page.locator("ol.log li", { hasText: "slept 6 of 6 s" }).waitFor({ timeout: waitMs });
    await expect.poll(() => badge(page).textContent(), { timeout: waitMs }).toBe("succeeded");
    expect(await page.locator("progress").getAttribute("value")).toBe("1");
    // Search within the log.
    await page.getByLabel("Search").fill("3 of 6");
    await expect.poll(() => page.locator("ol.log li").count()).toBe(1);
    // The trace id links to SPOOL_TRACE_URL when the task has one (tracing is off here).
    expect(await page.locator("dt", { hasText: "Trace" }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel("Search").fill("");
    await photograph(page, "task");

    await page.goto(`${base}/#/tasks`);
    await page.locator(`tr[data-task="${task.id}"]`).waitFor({ timeout: waitMs });
    expect(await seriousViolations(page)).toEqual([]);
    await photograph(page, "tasks");
    await context.close();
  });

  it("cancels a running demo.spin from its page: the CPU loop is stopped", async () => {
    const { context, page } = await signedIn(tokens.root);
    const spin = await root.createTask("demo.spin", { ms: 600_000 });
    await until(root, spin.id, (t) => t.state === "running");
    await page.goto(`${base}/#/tasks/${spin.id}`);
    await expect.poll(() => badge(page).textContent(), { timeout: waitMs }).toBe("running");
    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    await expect.poll(() => badge(page).textContent(), { timeout: waitMs }).toBe("cancelled");
    const stored = await finished(root, spin.id);
    expect(stored.state).toBe("cancelled");
    await context.close();
  });

  it("retries a failed task, several tasks at once, from the list", async () => {
    const { context, page } = await signedIn(tokens.root);
    const failed = await Promise.all(
      ["one", "many", "many"].map((batch) => root.createTask("demo.sleep", { seconds: 0, fail: true }, { maxAttempts: 1, labels: { batch } })),
    );
    for (const task of failed) expect((await finished(root, task.id)).state).toBe("failed");

    // One from its page: the page moves to the new task.
    await page.goto(`${base}/#/tasks/${failed[0]!.id}`);
    await expect.poll(() => badge(page).textContent(), { timeout: waitMs }).toBe("failed");
    expect(await page.locator("ol.timeline").textContent()).toContain("demo.sleep failed after 0 s, as asked");
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await page.waitForURL((url) => !url.hash.endsWith(failed[0]!.id), { timeout: waitMs });
    const newId = new URL(page.url()).hash.replace("#/tasks/", "");
    const retried = await root.getTask(newId);
    expect(retried.retryOf).toBe(failed[0]!.id);
    await page.getByRole("link", { name: failed[0]!.id }).waitFor({ timeout: waitMs });

    // Several from the list, filtered by their label and state.
    await page.goto(`${base}/#/tasks?label=batch%3Dmany&state=FAILED`);
    for (const task of failed.slice(1)) await page.locator(`tr[data-task="${task.id}"]`).waitFor({ timeout: waitMs });
    expect(await page.locator("tr[data-task]").count()).toBe(2);
    await page.getByLabel("Select every task on this page").check();
    await page.getByRole("button", { name: "Retry selected" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent(), { timeout: waitMs }).toMatch(/Retried 2 of 2/);
    const retries = await root.listTasksPage({ labels: { batch: "many" }, pageSize: 10 });
    expect(retries.tasks.map((t) => t.retryOf).filter(Boolean).sort()).toEqual(failed.slice(1).map((t) => t.id).sort());
    await context.close();
  });

  it("pauses a queue from the overview: its new task waits until it is resumed", async () => {
    const { context, page } = await signedIn(tokens.root);
    const first = await root.createTask("demo.echo", { hello: 1 }, { queue: "mail" });
    await finished(root, first.id);
    const row = page.locator('tr[data-queue="mail"]');
    await row.waitFor({ timeout: waitMs });
    await row.getByRole("button", { name: /Pause/ }).click();
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: waitMs }).toBe("paused");

    const waiting = await root.createTask("demo.echo", { hello: 2 }, { queue: "mail" });
    // A task created after it in another queue runs to the end: the paused one still waits.
    const other = await root.createTask("demo.echo", { hello: 3 });
    await finished(root, other.id);
    expect((await root.getTask(waiting.id)).state).toBe("pending");
    await expect.poll(() => row.locator("td").nth(1).textContent(), { timeout: waitMs }).toBe("1");
    expect(await seriousViolations(page)).toEqual([]);
    await photograph(page, "overview");

    await row.getByRole("button", { name: /Resume/ }).click();
    expect((await finished(root, waiting.id)).state).toBe("succeeded");
    // The activity chart counts what ended (flushed every 500 ms here).
    await expect.poll(() => page.locator(".legend .key-ok").textContent(), { timeout: waitMs }).not.toBe("succeeded 0");
    await context.close();
  });

  it("lists schedules with their cron in words, and triggers one", async () => {
    await root.schedules.create({ name: "nightly-report", cron: "0 3 * * 1-5", timeZone: "Europe/Berlin", task: { kind: "demo.echo", input: { report: true } } });
    const { context, page } = await signedIn(tokens.root);
    await page.getByRole("link", { name: "Schedules" }).click();
    const row = page.locator('tr[data-schedule="nightly-report"]');
    await row.waitFor({ timeout: waitMs });
    expect(await row.locator(".words").textContent()).toBe("At 03:00, Monday through Friday");
    await row.getByRole("button", { name: /Trigger/ }).click();
    await expect.poll(() => page.getByRole("status").textContent(), { timeout: waitMs }).toMatch(/Triggered nightly-report: task /);
    const id = (await page.getByRole("status").textContent())!.replace(/.*task /, "");
    expect((await root.getTask(id)).schedule).toBe("nightly-report");
    expect(await seriousViolations(page)).toEqual([]);
    await photograph(page, "schedules");
    await context.close();
  });

  it("shows the workers to admins, with what each thread runs", async () => {
    const { context, page } = await signedIn(tokens.root);
    const sleeper = await root.createTask("demo.sleep", { seconds: 30 });
    await until(root, sleeper.id, (t) => t.state === "running");
    await page.getByRole("link", { name: "Workers" }).click();
    await page.locator(`a[href="#/tasks/${sleeper.id}"]`).waitFor({ timeout: waitMs });
    expect(await seriousViolations(page)).toEqual([]);
    await photograph(page, "workers");
    await root.cancelTask(sleeper.id);
    await context.close();
  });

  it("hides what a role cannot do, and the server refuses it anyway", async () => {
    await root.createTask("demo.echo", { for: "olga" }, { queue: "mail" });
    const olga = await signedIn(tokens.olga);
    expect(await olga.page.getByRole("link", { name: "Workers" }).count()).toBe(0);
    await olga.page.locator('tr[data-queue="mail"]').waitFor({ timeout: waitMs });
    await olga.context.close();

    const sam = await signedIn(tokens.sam);
    expect(await sam.page.getByRole("link", { name: "Workers" }).count()).toBe(0);
    expect(await sam.page.getByRole("link", { name: "Schedules" }).count()).toBe(0);
    await sam.page.getByText("Queues and activity need the operator role").waitFor();
    // The page offers no pause to a submitter; the API refuses one all the same.
    const refused = await sam.page.evaluate(async (token) => {
      const response = await fetch("/spool.v1.QueueService/PauseQueue", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: "mail" }),
      });
      return { status: response.status, body: (await response.json()) as { code: string; message: string } };
    }, tokens.sam);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("permission_denied");
    expect(refused.body.message).toMatch(/operator/);
    await sam.context.close();
  });

  it("can be used with the keyboard alone", async () => {
    const { context, page } = await signedIn(tokens.root);
    // From the top of the page, Tab reaches the navigation; Enter follows a link.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => (globalThis as unknown as Focus).document.activeElement?.textContent)) === "Schedules") break;
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Schedules" }).waitFor({ timeout: waitMs });
    await context.close();
  });
});

describe("the dashboard with auth off (loopback development)", () => {
  it("opens without a sign-in, as the anonymous admin", async () => {
    const httpPort = await freePort();
    await startService({ DATABASE_URL: database.url, SPOOL_HTTP_PORT: String(httpPort), SPOOL_WORKERS: "1" });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${httpPort}/`);
    await page.getByRole("heading", { name: "Overview" }).waitFor({ timeout: waitMs });
    expect(await page.locator(".who").textContent()).toContain("auth off");
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    await context.close();
  });
});

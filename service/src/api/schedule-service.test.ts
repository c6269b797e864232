// ScheduleService through the SDK (`client.schedules`) against a real replica with static
// tokens: roles and tenants, every RPC, idempotent create and upsert, and bad inputs refused
// with INVALID_ARGUMENT naming the field.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError, type ScheduleSpec } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test-support/database.js";
import { eventually, startTestSpool, type TestSpool } from "../test-support/spool.js";

const database = useTestDatabase();
const people = {
  sam: { tenant: "acme", roles: ["submitter"] },
  olga: { tenant: "acme", roles: ["operator"] },
  root: { tenant: "ops", roles: ["admin"] },
} as const;
type Person = keyof typeof people;
const tokenOf = (who: Person) => `token-of-${who}-0123456789`;

let dir: string;
let spool: TestSpool;
const clients = new Map<Person, SpoolClient>();
const as = (who: Person) => clients.get(who)!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-schedules-"));
  const tokensFile = join(dir, "tokens.json");
  await writeFile(tokensFile, JSON.stringify(Object.entries(people).map(([who, p]) => ({ token: tokenOf(who as Person), subject: who, ...p }))));
  spool = await startTestSpool(database.url, { auth: { mode: "auto", tokensFile, clientCertsFile: undefined, jwt: undefined }, demoKinds: true });
  for (const who of Object.keys(people) as Person[]) clients.set(who, new SpoolClient(`127.0.0.1:${spool.spool.port}`, { token: tokenOf(who) }));
});
afterAll(async () => {
  for (const client of clients.values()) client.close();
  await spool?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function refusal(call: Promise<unknown>): Promise<SpoolError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SpoolError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

const nightly: ScheduleSpec = {
  name: "reports/nightly",
  cron: "30 2 * * *",
  timeZone: "Europe/Berlin",
  task: { kind: "demo.echo", input: { report: "sales" }, labels: { team: "bi" } },
};

describe("ScheduleService", () => {
  it("creates, reads, lists, updates, pauses, resumes, triggers and deletes a schedule", async () => {
    const olga = as("olga").schedules;
    const { schedule, created } = await olga.create(nightly);
    expect(created).toBe(true);
    expect(schedule).toMatchObject({
      name: "reports/nightly",
      cron: "30 2 * * *",
      intervalMs: undefined,
      timeZone: "Europe/Berlin",
      task: { kind: "demo.echo", input: { report: "sales" }, queue: "default", priority: 0, maxAttempts: 3, timeoutMs: 900_000, labels: { team: "bi" } },
      catchUp: "skip",
      catchUpLimit: 0,
      paused: false,
      lastRunAt: undefined,
      tenant: "acme",
      createdBy: "olga",
    });
    expect(schedule.nextRunAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await olga.get("reports/nightly")).toEqual(schedule);

    const updated = await olga.update({ ...nightly, cron: undefined, intervalMs: 3_600_000, catchUp: "all" });
    expect(updated).toMatchObject({ cron: undefined, intervalMs: 3_600_000, catchUp: "all", catchUpLimit: 100 });
    expect(await olga.pause("reports/nightly")).toMatchObject({ paused: true, nextRunAt: undefined });
    const task = await olga.trigger("reports/nightly");
    expect(task).toMatchObject({ kind: "demo.echo", input: { report: "sales" }, schedule: "reports/nightly", tenant: "acme", createdBy: "olga" });
    expect(task.scheduledFor).toBeInstanceOf(Date);
    const listed = [];
    for await (const task of as("olga").listTasks({ schedule: "reports/nightly" })) listed.push(task.id);
    expect(listed).toEqual([task.id]);
    const resumed = await olga.resume("reports/nightly");
    expect(resumed.paused).toBe(false);
    expect((resumed.nextRunAt!.getTime() - resumed.createdAt.getTime()) % 3_600_000).toBe(0);

    await olga.delete("reports/nightly");
    expect(await refusal(olga.get("reports/nightly"))).toMatchObject({ code: "not_found" });
    expect(await refusal(olga.delete("reports/nightly"))).toMatchObject({ code: "not_found" });
  });

  it("is safe to register at every boot: same spec returns it, another is ALREADY_EXISTS, upsert updates", async () => {
    const olga = as("olga").schedules;
    const spec: ScheduleSpec = { ...nightly, name: "boot" };
    const first = await olga.create(spec);
    expect(await olga.create(spec)).toEqual({ schedule: first.schedule, created: false });
    // The defaults spelled out are the same spec.
    expect((await olga.create({ ...spec, timeZone: "Europe/Berlin", catchUp: "skip", task: { ...spec.task, queue: "default", maxAttempts: 3 } })).created).toBe(false);
    expect(await olga.upsert(spec)).toMatchObject({ outcome: "unchanged" });

    const changed = { ...spec, cron: "45 2 * * *" };
    expect(await refusal(olga.create(changed))).toMatchObject({ code: "already_exists", message: expect.stringContaining("another cron") });
    const upserted = await olga.upsert(changed);
    expect(upserted).toMatchObject({ outcome: "updated", schedule: { cron: "45 2 * * *", createdAt: first.schedule.createdAt } });
    expect(await olga.upsert({ ...spec, name: "boot-2" })).toMatchObject({ outcome: "created" });
  });

  it("runs its ticks as tasks of the schedule's tenant, created by its creator", async () => {
    const root = as("root").schedules;
    await root.create({ name: "every-second", intervalMs: 1000, task: { kind: "demo.echo", input: "tick" } }, { tenant: "acme" });
    const ticks = await eventually(async () => {
      const tasks = [];
      for await (const task of as("olga").listTasks({ schedule: "every-second" })) tasks.push(task);
      return tasks.length >= 2 ? tasks : undefined;
    }, 15_000, "two ticks");
    expect(ticks.every((t) => t.tenant === "acme" && t.createdBy === "root" && t.input === null)).toBe(true); // BASIC view: no input
    const times = ticks.map((t) => t.scheduledFor!.getTime()).sort();
    expect(times[1]! - times[0]!).toBe(1000);
    await root.delete("every-second", { tenant: "acme" });
  });

  it("needs the operator role for every call, and the admin role for another tenant", async () => {
    const sam = as("sam").schedules;
    for (const call of [
      sam.create(nightly),
      sam.get("x"),
      sam.listPage(),
      sam.update(nightly),
      sam.delete("x"),
      sam.pause("x"),
      sam.resume("x"),
      sam.trigger("x"),
    ]) {
      expect(await refusal(call)).toMatchObject({ code: "permission_denied", message: expect.stringMatching(/needs the operator role; sam holds only the submitter role/) });
    }
    expect(await refusal(as("olga").schedules.get("x", { tenant: "globex" }))).toMatchObject({ code: "permission_denied", message: expect.stringContaining("admin") });
    await as("root").schedules.create({ ...nightly, name: "admins-own" });
    expect((await as("root").schedules.get("admins-own")).tenant).toBe("ops");
    expect(await refusal(as("olga").schedules.get("admins-own"))).toMatchObject({ code: "not_found" });
  });

  it("lists in name order, page by page, and a page token stays in its tenant", async () => {
    const olga = as("olga").schedules;
    for (const name of ["list/c", "list/a", "list/b"]) await olga.create({ ...nightly, name });
    const page = await olga.listPage({ pageSize: 2 });
    const names = page.schedules.map((s) => s.name);
    expect(names).toEqual([...names].sort());
    const all = [];
    for await (const schedule of olga.list({ pageSize: 1 })) all.push(schedule.name);
    expect(all.filter((n) => n.startsWith("list/"))).toEqual(["list/a", "list/b", "list/c"]);
    expect(await refusal(as("root").schedules.listPage({ pageToken: page.nextPageToken, tenant: "ops" }))).toMatchObject({
      code: "invalid_argument",
      message: "page_token: was issued for another tenant; start again without it",
    });
  });

  it.each<[string, ScheduleSpec, RegExp]>([
    ["a bad cron", { ...nightly, cron: "61 * * * *" }, /^schedule\.cron: is not a cron expression of 5 or 6 fields: .*minute/],
    ["a 4-field cron", { ...nightly, cron: "* * * *" }, /^schedule\.cron: is not a cron expression/],
    ["a cron that never fires", { ...nightly, cron: "0 0 30 2 *" }, /^schedule\.cron: "0 0 30 2 \*" matches no date/],
    ["a bad time zone", { ...nightly, timeZone: "Europe/Atlantis" }, /^schedule\.time_zone: "Europe\/Atlantis" is not an IANA time zone/],
    ["an interval under 1 s", { ...nightly, cron: undefined, intervalMs: 999 }, /^schedule\.interval: must be from 1s to 3650 days/],
    ["an interval of a fraction of a millisecond", { ...nightly, cron: undefined, intervalMs: 1000.5 }, /^schedule\.interval: must be a whole number of milliseconds/],
    ["both cron and interval", { ...nightly, intervalMs: 60_000 }, /^schedule\.interval: is set, and so is cron/],
    ["neither cron nor interval", { ...nightly, cron: undefined }, /^schedule\.cron: is required, unless interval is set/],
    ["a NUL in the name", { ...nightly, name: "a\u0000b" }, /^schedule\.name: must not contain a NUL character/],
    ["an empty name", { ...nightly, name: "" }, /^schedule\.name: is required/],
    ["a space in the name", { ...nightly, name: "a b" }, /^schedule\.name: "a b" must be 1 to 200 letters/],
    ["a name of 201 characters", { ...nightly, name: "n".repeat(201) }, /^schedule\.name: .* must be 1 to 200 letters/],
    ["an unknown kind", { ...nightly, task: { kind: "no.such.kind" } }, /^schedule\.task\.kind: unknown kind "no\.such\.kind"; registered kinds: demo\./],
    ["an input its kind's schema refuses", { ...nightly, task: { kind: "demo.spin", input: { ms: -1 } } }, /^schedule\.task\.input\.ms: /],
    ["a bad queue", { ...nightly, task: { kind: "demo.echo", queue: "no spaces" } }, /^schedule\.task\.queue: /],
    ["a timeout over 24 h", { ...nightly, task: { kind: "demo.echo", timeoutMs: 86_400_001 } }, /^schedule\.task\.timeout: must be from 1s to 24h/],
    ["a NUL in a label", { ...nightly, task: { kind: "demo.echo", labels: { k: "\u0000" } } }, /^schedule\.task\.labels\["k"\]: must not contain a NUL/],
    ["a catch-up limit without CATCH_UP_ALL", { ...nightly, catchUpLimit: 5 }, /^schedule\.catch_up_limit: applies to CATCH_UP_ALL only/],
    ["a catch-up limit over 1000", { ...nightly, catchUp: "all", catchUpLimit: 1001 }, /^schedule\.catch_up_limit: 1001 is out of range 1\.\.1000/],
  ])("refuses %s with INVALID_ARGUMENT naming the field", async (_what, spec, message) => {
    const error = await refusal(as("olga").schedules.create(spec));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(message);
    expect(await refusal(as("olga").schedules.update(spec))).toMatchObject({ code: "invalid_argument" });
  });

  it("refuses a template input nested too deeply, even one too deep to decode, and a __proto__ key, naming where", async () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : depth % 2 ? { a: nested(depth - 1) } : [nested(depth - 1)]);
    const olga = as("olga").schedules;
    expect(await refusal(olga.create({ ...nightly, task: { kind: "demo.echo", input: nested(33) } }))).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^schedule\.task\.input(\.a|\[0\])+: is nested deeper than 32 levels/),
    });
    expect(await refusal(olga.create({ ...nightly, task: { kind: "demo.echo", input: nested(60) } }))).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^schedule\.task\.input: is nested too deeply to decode/),
    });
    const labels = JSON.parse('{"__proto__": "v"}') as Record<string, string>;
    expect(await refusal(olga.create({ ...nightly, task: { kind: "demo.echo", labels } }))).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^schedule\.task\.labels.*__proto__.*: a key named "__proto__" is not accepted/),
    });
  });

  it("refuses bad names, tenants, page sizes and tokens in the other calls", async () => {
    const olga = as("olga").schedules;
    expect(await refusal(olga.get("a\u0000"))).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^name: must not contain a NUL/) });
    expect(await refusal(olga.trigger(""))).toMatchObject({ code: "invalid_argument", message: "name: is required" });
    expect(await refusal(olga.pause("x", { tenant: "\u0000" }))).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^tenant: /) });
    expect(await refusal(olga.listPage({ pageSize: 1001 }))).toMatchObject({ code: "invalid_argument", message: "page_size: 1001 is out of range 1..1000" });
    expect(await refusal(olga.listPage({ pageToken: "garbage" }))).toMatchObject({ code: "invalid_argument", message: "page_token: is not a token this service issued" });
  });
});

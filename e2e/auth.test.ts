// Identity, roles and the tenant boundary, from outside: the built service with a static
// tokens file, driven through the SDK (and buf curl for the open services). Tenant "acme" has
// two submitters (alice, bob) and an operator (olga); tenant "globex" a submitter (eve); the
// admin (root) lives in tenant "ops".
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpoolClient, SpoolError, type Task } from "@spool/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { sha256Hex } from "../service/src/auth/static-tokens.js";
import { bufCurl, killAll, startService, type ServiceProcess } from "./support/service.js";
import { until } from "./support/tasks.js";

const database = useTestDatabase();
const people = {
  alice: { tenant: "acme", roles: ["submitter"] },
  bob: { tenant: "acme", roles: ["submitter"] },
  olga: { tenant: "acme", roles: ["operator"] },
  eve: { tenant: "globex", roles: ["submitter"] },
  root: { tenant: "ops", roles: ["admin"] },
} as const;
type Person = keyof typeof people;
const tokenOf = (who: Person) => `token-of-${who}-0123456789abcdef`;

let dir: string;
let service: ServiceProcess;
const clients = new Map<string, SpoolClient>();
const as = (who: Person | "nobody" | "forged") => {
  let client = clients.get(who);
  if (!client) {
    const token = who === "nobody" ? undefined : who === "forged" ? "token-of-nobody-0123456789abcdef" : tokenOf(who);
    client = new SpoolClient(service.address, token === undefined ? {} : { token });
    clients.set(who, client);
  }
  return client;
};

/** A StreamLogs and a WatchTask call, each read to its first message. */
function streamsOf(client: SpoolClient, id: string): (() => Promise<unknown>)[] {
  return [
    async () => {
      for await (const _ of client.streamLogs(id)) break;
    },
    async () => {
      for await (const _ of client.watchTask(id)) break;
    },
  ];
}

/** The SpoolError a call rejects with. */
async function failure(call: Promise<unknown>): Promise<SpoolError> {
  try {
    await call;
  } catch (error) {
    return SpoolError.from(error);
  }
  throw new Error("the call succeeded");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spool-e2e-auth-"));
  const tokensFile = join(dir, "tokens.json");
  // Hashes only, as the docs recommend; one plain token to show both forms work.
  const entries = Object.entries(people).map(([who, { tenant, roles }]) =>
    who === "root"
      ? { token: tokenOf(who), subject: who, tenant, roles }
      : { token_sha256: sha256Hex(tokenOf(who as Person)), subject: who, tenant, roles },
  );
  await writeFile(tokensFile, JSON.stringify(entries));
  // With auth on, the demo kinds are loaded only when asked: these tests use them.
  service = await startService({ DATABASE_URL: database.url, SPOOL_AUTH_TOKENS_FILE: tokensFile, SPOOL_DEMO_KINDS: "true" });
});

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

describe("identity", () => {
  it("says at start that auth is on, and with which sources", () => {
    expect(service.output()).toMatch(/"sources":\["static tokens"\][^\n]*"msg":"auth is on"/);
  });

  it("refuses every TaskService call without credentials, or with a token it does not know: UNAUTHENTICATED", async () => {
    const id = "01890000-0000-7000-8000-000000000000";
    for (const who of ["nobody", "forged"] as const) {
      const client = as(who);
      const calls: (() => Promise<unknown>)[] = [
        () => client.createTask("demo.echo", 1),
        () => client.createTasks([{ kind: "demo.echo" }]),
        () => client.getTask(id),
        () => client.listTasksPage(),
        () => client.cancelTask(id),
        ...streamsOf(client, id),
      ];
      for (const call of calls) {
        const error = await failure(call());
        expect(error.code, error.message).toBe("unauthenticated");
      }
    }
    expect((await failure(as("nobody").getTask(id))).message).toContain("authorization: Bearer <token>");
    expect((await failure(as("forged").getTask(id))).message).toContain("not a listed token");
  });

  it("leaves health and reflection open", async () => {
    const health = await bufCurl(service, ["-d", '{"service":"spool.v1.TaskService"}', `http://${service.address}/grpc.health.v1.Health/Check`]);
    expect(health.stdout).toContain("SERVING");
    const methods = await bufCurl(service, ["--list-methods", `http://${service.address}`]);
    expect(methods.stdout).toContain("spool.v1.TaskService/CreateTask");
  });

  it("records the tenant and the creator on the task", async () => {
    const task = await as("alice").createTask("demo.echo", "hi");
    expect(task).toMatchObject({ tenant: "acme", createdBy: "alice" });
  });
});

describe("the tenant boundary", () => {
  let alices: Task;
  const missing = "01890000-0000-7000-8000-0000000000ff";

  beforeAll(async () => {
    alices = await as("alice").createTask("demo.sleep", { seconds: 600 }, { labels: { who: "alice" } });
  });

  it("hides a task from everyone who may not see it, exactly as one that does not exist", async () => {
    const notFound = (await failure(as("bob").getTask(missing))).message.replace(missing, "<id>");
    for (const who of ["bob", "eve"] as const) {
      const client = as(who);
      for (const call of [() => client.getTask(alices.id), () => client.cancelTask(alices.id), ...streamsOf(client, alices.id)]) {
        const error = await failure(call());
        expect(error.code).toBe("not_found");
        expect(error.message.replace(alices.id, "<id>")).toBe(notFound);
      }
    }
    // Nothing happened to it.
    expect((await as("alice").getTask(alices.id)).cancelRequested).toBe(false);
  });

  it("lists for a submitter only its own tasks, for an operator its tenant's, for an admin any tenant's", async () => {
    const bobs = await as("bob").createTask("demo.echo", "bob's");
    const eves = await as("eve").createTask("demo.echo", "eve's");
    const ids = async (who: Person, options = {}) => (await as(who).listTasksPage({ pageSize: 1000, ...options })).tasks.map((t) => t.id);

    expect(await ids("alice")).toContain(alices.id);
    expect(await ids("alice")).not.toContain(bobs.id);
    expect(await ids("bob")).toEqual([bobs.id]);
    expect(await ids("eve")).toEqual([eves.id]);
    expect(await ids("olga")).toEqual(expect.arrayContaining([alices.id, bobs.id]));
    expect(await ids("olga")).not.toContain(eves.id);
    expect(await ids("root")).toEqual(expect.arrayContaining([alices.id, bobs.id, eves.id]));
    expect(await ids("root", { tenant: "globex" })).toEqual([eves.id]);
    expect(await ids("olga", { createdBy: "bob" })).toEqual([bobs.id]);

    const otherTenant = await failure(as("olga").listTasksPage({ tenant: "globex" }));
    expect(otherTenant.code).toBe("permission_denied");
    expect(otherTenant.message).toContain("needs the admin role");
    const otherSubject = await failure(as("alice").listTasksPage({ createdBy: "bob" }));
    expect(otherSubject.code).toBe("permission_denied");
    expect(otherSubject.message).toContain("needs the operator role");
  });

  it("lets an operator of the tenant, and an admin, see and cancel another subject's task", async () => {
    expect((await as("olga").getTask(alices.id)).id).toBe(alices.id);
    expect((await as("root").getTask(alices.id)).id).toBe(alices.id);
    const cancelled = await as("olga").cancelTask(alices.id, "by olga");
    expect(cancelled.cancelRequested || cancelled.state === "cancelled").toBe(true);
    const ended = await until(as("alice"), alices.id, (t) => t.state === "cancelled");
    expect(ended.error?.message).toBe("by olga");
  });

  it("keeps idempotency keys apart between tenants, and hides another subject's task behind a key", async () => {
    const key = `key-${Date.now()}`;
    const first = await as("alice").createTask("demo.echo", 1, { idempotencyKey: key });
    // Another tenant: its own key space, a new task.
    const eves = await as("eve").createTask("demo.echo", 2, { idempotencyKey: key });
    expect(eves.id).not.toBe(first.id);
    expect(eves).toMatchObject({ tenant: "globex", input: 2 });
    // The same tenant, a subject that may not see alice's task: refused, nothing shown.
    const bobs = await failure(as("bob").createTask("demo.echo", 3, { idempotencyKey: key }));
    expect(bobs.code).toBe("already_exists");
    expect(bobs.message).not.toContain(first.id);
    // An operator of the tenant may see it: the existing task comes back.
    const olgas = await as("olga").createTask("demo.echo", 4, { idempotencyKey: key });
    expect(olgas).toMatchObject({ id: first.id, input: 1, createdBy: "alice" });
    // And alice herself, again.
    expect((await as("alice").createTask("demo.echo", 5, { idempotencyKey: key })).id).toBe(first.id);
  });

  it("shows a submitter a failure's type and message, and its stack only to operators and admins", async () => {
    const failed = await as("alice").createTask("demo.sleep", { seconds: 0, fail: true }, { maxAttempts: 1 });
    const seen = await until(as("alice"), failed.id, (t) => t.state === "failed");
    expect(seen.error?.type).toBeTruthy();
    expect(seen.error?.message).toBeTruthy();
    expect(seen.error?.stack).toBeUndefined();
    expect((await as("olga").getTask(failed.id)).error?.stack).toContain("demo");
    expect((await as("root").getTask(failed.id)).error?.stack).toContain("demo");
  });
});

describe("secure by default", () => {
  it("refuses to start on a public address with no identity source, saying how to configure one", async () => {
    // It refuses before it binds anything (or starts a database): nothing listens publicly.
    const error = await startService({ DATABASE_URL: database.url, SPOOL_HOST: "0.0.0.0" }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain("exited with code 1 before serving");
    expect(error?.message).toContain("listening on 0.0.0.0 with no identity source configured");
    expect(error?.message).toContain("SPOOL_AUTH_TOKENS_FILE");
  });

  it("leaves the demo kinds out when auth is on, unless SPOOL_DEMO_KINDS asks for them", async () => {
    const tokensFile = join(dir, "tokens.json");
    const closed = await startService({ DATABASE_URL: database.url, SPOOL_AUTH_TOKENS_FILE: tokensFile });
    const client = new SpoolClient(closed.address, { token: tokenOf("root") });
    try {
      expect(closed.output()).toContain("no task kinds are loaded");
      expect(closed.output()).toMatch(/"kinds":\[\]/);
      const refused = await failure(client.createTask("demo.spin", { seconds: 60 }));
      expect(refused.code).toBe("invalid_argument");
      expect(refused.message).toContain('kind: unknown kind "demo.spin"');
    } finally {
      client.close();
      await closed.kill("SIGTERM");
    }
    // The suite's own service asked for them, and has them.
    expect(service.output()).toMatch(/"kinds":\["demo\.echo"/);
  });

  it("on loopback with nothing configured, serves with auth off and says so", async () => {
    const open = await startService({ DATABASE_URL: database.url });
    expect(open.output()).toContain("auth is off: listening on loopback only");
    const client = new SpoolClient(open.address);
    try {
      expect(await client.createTask("demo.echo", 1)).toMatchObject({ tenant: "default", createdBy: "anonymous" });
    } finally {
      client.close();
      await open.kill("SIGTERM");
    }
  });
});

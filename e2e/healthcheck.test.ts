// The container health check (service/dist/healthcheck.js, the Dockerfile's HEALTHCHECK) run as
// a process, as Docker runs it: it must reach the service where SPOOL_HOST and SPOOL_PORT make
// it listen, and its exit code says whether it serves (0) or not (non-zero).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { useTestDatabase } from "../service/src/test-support/database.js";
import { killAll, startService } from "./support/service.js";

const database = useTestDatabase();
const healthcheckJs = fileURLToPath(new URL("../service/dist/healthcheck.js", import.meta.url));

afterAll(() => killAll());

/** Runs the health check with the service's environment; its exit code and what it printed. */
function healthcheck(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [healthcheckJs], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, output: stdout + stderr }),
    );
  });
}

it("reaches a service bound to another loopback address, and fails once it is gone", async () => {
  // 127.0.0.2 is loopback on Linux, but nothing dialling 127.0.0.1 reaches a server bound to it.
  const service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "1", SPOOL_HOST: "127.0.0.2" });
  const env = { SPOOL_HOST: "127.0.0.2", SPOOL_PORT: String(service.port) };
  const serving = await healthcheck(env);
  expect(serving, serving.output).toMatchObject({ code: 0 });
  expect(serving.output).toContain("SERVING");
  // Another address on which nothing listens: not healthy.
  expect((await healthcheck({ ...env, SPOOL_HOST: "127.0.0.3" })).code).not.toBe(0);

  await service.kill("SIGKILL");
  const gone = await healthcheck(env);
  expect(gone.code, gone.output).not.toBe(0);
  expect(gone.code).not.toBe(null); // it ended by itself, not by the timeout
});

it.each([
  ["0.0.0.0", "127.0.0.1"],
  ["[::]", "[::1]"],
  ["::", "[::1]"], // a bare IPv6 address: the server brackets it to bind
])("dials the loopback for a service listening on the wildcard %s", async (host, loopback) => {
  // A wildcard address needs an identity source or an explicit SPOOL_AUTH=none to start
  // (docs/security.md); the health service stays open either way.
  const service = await startService({ DATABASE_URL: database.url, SPOOL_WORKERS: "1", SPOOL_HOST: host, SPOOL_AUTH: "none" });
  const serving = await healthcheck({ SPOOL_HOST: host, SPOOL_PORT: String(service.port) });
  expect(serving, serving.output).toMatchObject({ code: 0 });
  expect(serving.output).toContain(`at ${loopback}:${service.port}: SERVING`);
  await service.kill("SIGKILL");
});

it("fails with a reason when the port is not known (SPOOL_PORT=0 is picked at start)", async () => {
  const result = await healthcheck({ SPOOL_PORT: "0" });
  expect(result.code).toBe(1);
  expect(result.output).toContain("SPOOL_PORT");
});

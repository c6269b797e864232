// The dashboard's calls: Spool's own services over the Connect protocol, to the port that
// served the page (the service's HTTP port, service/src/http/connect-gateway.ts). Each call
// carries the signed-in token, so it runs as that identity, through the same checks as gRPC.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "@spool/proto/es/spool/v1/admin_service_pb";
import { QueueService } from "@spool/proto/es/spool/v1/queue_service_pb";
import { ScheduleService } from "@spool/proto/es/spool/v1/schedule_service_pb";
import { TaskService } from "@spool/proto/es/spool/v1/task_service_pb";

const tokenKey = "spool.token";

/** The signed-in token: kept for this tab only (sessionStorage), never in a cookie. */
export const token = {
  get: () => sessionStorage.getItem(tokenKey) ?? "",
  set: (value: string) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

const withToken: Interceptor = (next) => (request) => {
  const value = token.get();
  if (value) request.header.set("authorization", `Bearer ${value}`);
  return next(request);
};

const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [withToken] });

export const tasks = createClient(TaskService, transport);
export const queues = createClient(QueueService, transport);
export const schedules = createClient(ScheduleService, transport);
export const admin = createClient(AdminService, transport);

/** A failed call as one line: its code and the server's message (which names the field). */
export function errorText(error: unknown): string {
  const failure = ConnectError.from(error);
  return `${Code[failure.code] ?? "Error"}: ${failure.rawMessage}`;
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}

/** The page's settings from the service (GET /dashboard.json). */
export interface DashboardSettings {
  /** A trace viewer's address with `{traceId}` in it (SPOOL_TRACE_URL), or empty. */
  traceUrl: string;
}

export async function loadSettings(): Promise<DashboardSettings> {
  try {
    const response = await fetch("/dashboard.json", { cache: "no-store" });
    if (response.ok) return (await response.json()) as DashboardSettings;
  } catch {
    // An older service: no trace links.
  }
  return { traceUrl: "" };
}

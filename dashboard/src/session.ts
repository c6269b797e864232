// Who is signed in, as the service sees it (AdminService/GetCaller), and what that allows.
// The page hides what a role cannot do; the service refuses it anyway.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { GetCallerResponse } from "@spool/proto/es/spool/v1/admin_service_pb";
import type { DashboardSettings } from "./api.js";

const ranks = ["submitter", "operator", "admin"] as const;
export type Role = (typeof ranks)[number];

export interface Session {
  caller: GetCallerResponse;
  settings: DashboardSettings;
  signOut(): void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Whether the caller holds `role` or a higher one. */
export function can(session: Session, role: Role): boolean {
  return ranks.indexOf(session.caller.role as Role) >= ranks.indexOf(role);
}

// The frame of every page: sign-in, the navigation, who is signed in, and the page itself.
import { Code } from "@connectrpc/connect";
import type { GetCallerResponse } from "@spool/proto/es/spool/v1/admin_service_pb";
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, isCode, loadSettings, token, type DashboardSettings } from "./api.js";
import { Overview } from "./pages/overview.js";
import { Schedules } from "./pages/schedules.js";
import { SignIn } from "./pages/sign-in.js";
import { TaskDetail } from "./pages/task-detail.js";
import { Tasks } from "./pages/tasks.js";
import { Workers } from "./pages/workers.js";
import { useRoute } from "./route.js";
import { can, SessionContext, type Session } from "./session.js";

type Start = { state: "loading" } | { state: "signed-in"; caller: GetCallerResponse } | { state: "signed-out"; problem?: string };

export function App() {
  const [start, setStart] = useState<Start>({ state: "loading" });
  const [settings, setSettings] = useState<DashboardSettings>({ traceUrl: "" });

  const identify = async () => {
    try {
      setStart({ state: "signed-in", caller: await admin.getCaller({}) });
    } catch (error) {
      const tried = token.get() !== "";
      if (isCode(error, Code.Unauthenticated)) setStart({ state: "signed-out", ...(tried && { problem: errorText(error) }) });
      else setStart({ state: "signed-out", problem: errorText(error) });
    }
  };
  useEffect(() => {
    void loadSettings().then(setSettings);
    void identify();
  }, []);

  if (start.state === "loading") return <p class="loading">Loading…</p>;
  if (start.state === "signed-out") {
    return (
      <SignIn
        problem={start.problem}
        onToken={(value) => {
          token.set(value);
          void identify();
        }}
      />
    );
  }
  const session: Session = {
    caller: start.caller,
    settings,
    signOut: () => {
      token.clear();
      setStart({ state: "signed-out" });
    },
  };
  return (
    <SessionContext.Provider value={session}>
      <Frame session={session} />
    </SessionContext.Provider>
  );
}

function Frame({ session }: { session: Session }) {
  const route = useRoute();
  const section = route.path.split("/")[1] ?? "";
  const link = (path: string, label: string, name: string) => (
    <a href={`#${path}`} aria-current={section === name ? "page" : undefined}>
      {label}
    </a>
  );
  const { caller } = session;
  return (
    <>
      <header>
        <nav aria-label="Main">
          <span class="brand">Spool</span>
          {link("/", "Overview", "")}
          {link("/tasks", "Tasks", "tasks")}
          {can(session, "operator") && link("/schedules", "Schedules", "schedules")}
          {can(session, "admin") && link("/workers", "Workers", "workers")}
        </nav>
        <div class="who">
          <span>
            {caller.via === "none" ? "auth off" : caller.subject} · {caller.tenant} · {caller.role}
          </span>
          {caller.via !== "none" && (
            <button type="button" class="quiet" onClick={session.signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main>{page(route.path, route.query)}</main>
    </>
  );
}

function page(path: string, query: URLSearchParams) {
  if (path === "/") return <Overview />;
  if (path === "/tasks") return <Tasks query={query} />;
  if (path.startsWith("/tasks/")) return <TaskDetail id={decodeURIComponent(path.slice("/tasks/".length))} />;
  if (path === "/schedules") return <Schedules />;
  if (path === "/workers") return <Workers />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page {path}. <a href="#/">Go to the overview.</a>
      </p>
    </section>
  );
}

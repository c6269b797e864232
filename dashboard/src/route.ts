// Pages are addressed by the URL's hash (#/tasks?state=FAILED), so the service serves one
// page and every view can be bookmarked, shared and reloaded.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** "/", "/tasks", "/tasks/<id>", "/schedules", "/workers". */
  path: string;
  query: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path = "/", query = ""] = hash.split("?", 2);
  return { path, query: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const changed = () => setRoute(current());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function href(path: string, query?: URLSearchParams | Record<string, string>): string {
  const params = query instanceof URLSearchParams ? query : new URLSearchParams(query);
  for (const [key, value] of [...params]) if (value === "") params.delete(key);
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

export function go(path: string, query?: URLSearchParams | Record<string, string>): void {
  location.hash = href(path, query);
}

// Client routing in a few lines: the service answers index.html for every non-API path.
import { useEffect, useState } from "react";

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return path;
}

export type Route =
  | { page: "wizard" }
  | { page: "job"; id: string }
  | { page: "jobs" }
  | { page: "runs" }
  | { page: "run"; id: string }
  | { page: "datasets" };

export function route(path: string): Route {
  const job = path.match(/^\/jobs\/(job-[0-9a-f]{12})$/);
  if (job?.[1]) return { page: "job", id: job[1] };
  const run = path.match(/^\/runs\/([^/]+)$/);
  if (run?.[1]) return { page: "run", id: decodeURIComponent(run[1]) };
  if (path === "/jobs") return { page: "jobs" };
  if (path === "/runs") return { page: "runs" };
  if (path === "/datasets") return { page: "datasets" };
  return { page: "wizard" };
}

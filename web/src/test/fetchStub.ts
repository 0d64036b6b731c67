// A fetch stub for pure UI states: routes "METHOD /path" to a status and JSON body.
import { vi } from "vitest";

export type Route = { status?: number; body: unknown } | ((init: RequestInit | undefined) => { status?: number; body: unknown });

export function stubFetch(routes: Record<string, Route>) {
  const calls: { key: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://localhost");
    const key = `${init?.method ?? "GET"} ${url.pathname}`;
    calls.push({ key, body: typeof init?.body === "string" ? JSON.parse(init.body) : init?.body });
    const route = routes[key];
    if (!route) return new Response(JSON.stringify({ detail: `no stub for ${key}` }), { status: 404, headers: { "content-type": "application/json" } });
    const { status = 200, body } = typeof route === "function" ? route(init) : route;
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

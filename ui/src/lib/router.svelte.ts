// A tiny history-API router: `/` is the server list, `/servers/{name}` a server's page,
// `/clients` the AI clients, `/activity` the activity log (the gateway answers every unknown
// non-API path with the dashboard). `?tab=` picks the tab; the activity log's filters are its query.

export type Route =
  | { page: "list" }
  | { page: "server"; name: string; tab: string | null }
  | { page: "clients" }
  /** `search`: the query as given (the filters, read by the page). */
  | { page: "activity"; search: string }
  | { page: "missing"; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/index.html") return { page: "list" };
  if (path === "/clients") return { page: "clients" };
  if (path === "/activity") return { page: "activity", search };
  const m = /^\/servers\/([^/]+)$/.exec(path);
  if (m) {
    let name: string;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      return { page: "missing", path };
    }
    return { page: "server", name, tab: new URLSearchParams(search).get("tab") };
  }
  return { page: "missing", path };
}

export function serverPath(name: string, tab?: string): string {
  return `/servers/${encodeURIComponent(name)}${tab ? `?tab=${encodeURIComponent(tab)}` : ""}`;
}

class Router {
  route = $state<Route>(parseRoute(location.pathname, location.search));

  constructor() {
    window.addEventListener("popstate", () => {
      this.route = parseRoute(location.pathname, location.search);
    });
  }

  navigate(href: string, options: { replace?: boolean } = {}): void {
    const url = new URL(href, location.href);
    if (url.pathname + url.search === location.pathname + location.search) return;
    if (options.replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    this.route = parseRoute(url.pathname, url.search);
    if (!options.replace) window.scrollTo(0, 0);
  }

  /** onclick for in-app links: plain left clicks navigate without a page load. */
  link = (event: MouseEvent): void => {
    const a = event.currentTarget as HTMLAnchorElement;
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || a.target) return;
    event.preventDefault();
    this.navigate(a.href);
  };
}

export const router = new Router();

import type { Request, RequestHandler } from 'express';

const TEMPLATE = Symbol('routeTemplate');
type Tracked = Request & { [TEMPLATE]?: string };

/**
 * Remembers the full route template (`/api/payment/:id`) when a route matches. Express resets
 * `req.baseUrl` on the way out of a nested router, so an error answered by the app's error handler
 * would otherwise be labelled with the nested router's own path (`/:id`) while the same route's
 * successes carry the full one. Mounted first, it sees every later `req.route = route` assignment,
 * made while `req.baseUrl` is still the matching router's mount path.
 */
export function trackRouteTemplate(): RequestHandler {
  return (req, _res, next) => {
    let route: unknown = req.route;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set(value: unknown) {
        route = value;
        const path = (value as { path?: unknown } | undefined)?.path;
        if (path !== undefined) (req as Tracked)[TEMPLATE] = `${req.baseUrl}${String(path)}`;
      },
    });
    next();
  };
}

/**
 * The template of the route that last matched, or undefined when none did. Without the tracker it
 * falls back to `baseUrl + route.path` as seen now (right for a route that answered by itself).
 */
export function routeTemplateOf(req: Request): string | undefined {
  const tracked = (req as Tracked)[TEMPLATE];
  if (tracked !== undefined) return tracked;
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return path === undefined ? undefined : `${req.baseUrl}${String(path)}`;
}

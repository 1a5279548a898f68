import type { Request } from 'express';

const TEMPLATE = Symbol('routeTemplate');
const ROUTE = Symbol('route');
type Tracked = Request & { [TEMPLATE]?: string; [ROUTE]?: unknown };

/**
 * Remembers the full route template (`/api/payment/:id`) when a route matches. Express resets
 * `req.baseUrl` on the way out of a nested router, so an error answered by the app's error handler
 * would otherwise be labelled with the nested router's own path (`/:id`) while the same route's
 * successes carry the full one. An accessor for `req.route` on the app's request prototype sees
 * every `req.route = route` assignment, made while `req.baseUrl` is still the matching router's
 * mount path. It is defined once on the prototype rather than per request: every request paid
 * a `defineProperty` with two new closures, and its own accessor gave each request object a shape
 * of its own.
 */
export function trackRouteTemplate(requestPrototype: object): void {
  Object.defineProperty(requestPrototype, 'route', {
    configurable: true,
    enumerable: true,
    get(this: Tracked) {
      return this[ROUTE];
    },
    set(this: Tracked, value: unknown) {
      this[ROUTE] = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (path !== undefined) this[TEMPLATE] = `${this.baseUrl}${String(path)}`;
    },
  });
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

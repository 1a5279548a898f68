import type { Express } from 'express';

/** One route as Express actually mounted it. */
export interface MountedRoute {
  /** Upper-case HTTP method (`GET`, `POST`…). */
  method: string;
  /** The full Express path, e.g. `/api/payment/shkeeper/:id/release`. */
  path: string;
  /** The same path in OpenAPI form: `/api/payment/shkeeper/{id}/release`. */
  openApiPath: string;
  /** Names of the path parameters, in order. */
  params: string[];
}

interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean | undefined> };
  handle?: { stack?: Layer[] };
}

/**
 * Every route mounted in the app, found by walking `app.router.stack` (Express 5): route layers
 * carry `route.path` and `route.methods`; a nested router is a layer whose `handle.stack` exists,
 * mounted at the layer's `rawPath`. Plain middleware (parsers, static files, auth guards) is not a
 * route and is skipped. A regexp or array path throws: the table could not name it honestly.
 */
export function mountedRoutes(app: Express): MountedRoute[] {
  const root = (app as unknown as { router: { stack: Layer[] } }).router;
  const out: MountedRoute[] = [];
  walk(root.stack, '', out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function walk(stack: Layer[], prefix: string, out: MountedRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const path = joinPaths(prefix, stringPath(layer.route.path));
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (!on || method === '_all') continue;
        out.push({ method: method.toUpperCase(), path, openApiPath: toOpenApiPath(path), params: paramNames(path) });
      }
    } else if (layer.handle?.stack) {
      walk(layer.handle.stack, joinPaths(prefix, stringPath(layer.rawPath ?? '/')), out);
    }
  }
}

function stringPath(p: unknown): string {
  if (typeof p !== 'string') throw new Error(`route table: cannot name a non-string path ${String(p)}`);
  return p;
}

/** `/a` + `/` → `/a`; `` + `/` → `/`; `/a/` + `/b` → `/a/b`. */
export function joinPaths(prefix: string, path: string): string {
  const joined = `${prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') : '/';
}

/** Express `:param` → OpenAPI `{param}`. Optional or wildcard segments are refused (OpenAPI has neither). */
export function toOpenApiPath(path: string): string {
  if (/[*?{}()]/.test(path)) throw new Error(`route table: ${path} has a segment OpenAPI cannot express`);
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function paramNames(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

type HeaderStep = { set: string; value: string | number | readonly string[] } | { remove: string };

/**
 * Runs a header-only middleware (helmet) once, at start, against a stand-in response, and returns
 * a middleware that makes the same `setHeader`/`removeHeader` calls, in the same order, on every
 * response. helmet's configured headers do not depend on the request, yet it ran six middlewares
 * (each through its own `next`) per request; the bench profile of `GET /api/payment/:id` showed
 * them on every request. Refused at start if the middleware does anything else, reads the request
 * or does not call `next()` at once: then its headers could depend on the request.
 */
export function fixedHeaders(middleware: RequestHandler): RequestHandler {
  const steps: HeaderStep[] = [];
  const headers = new Map<string, unknown>();
  const refuse = (what: string) => {
    throw new Error(`fixedHeaders: the middleware ${what}; its headers cannot be computed once`);
  };
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      steps.push({ set: name, value });
      headers.set(name.toLowerCase(), value);
      return res;
    },
    removeHeader(name: string) {
      steps.push({ remove: name });
      headers.delete(name.toLowerCase());
    },
    getHeader: (name: string) => headers.get(name.toLowerCase()),
  };
  const req = new Proxy({}, { get: (_t, key) => refuse(`read the request (${String(key)})`) });
  let nexted = false;
  middleware(
    req as IncomingMessage as never,
    new Proxy(res, { get: (t, key) => (key in t ? t[key as keyof typeof t] : refuse(`used res.${String(key)}`)) }) as ServerResponse as never,
    (err?: unknown) => {
      if (err !== undefined) refuse(`failed (${String(err)})`);
      nexted = true;
    },
  );
  if (!nexted) refuse('did not call next() synchronously');
  return (_req, response, next) => {
    for (const step of steps) {
      if ('set' in step) response.setHeader(step.set, step.value);
      else response.removeHeader(step.remove);
    }
    next();
  };
}

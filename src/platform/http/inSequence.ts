import type { RequestHandler } from 'express';

/**
 * Synchronous middlewares run one after another as a single router layer. Every layer costs each
 * request a dispatch (path match, try/catch, `next` bookkeeping) whether it has anything to do or
 * not; the three small hooks every request passes (request log, security headers, CORS gate) were
 * three of them. Behaves as mounting them in order: an error passed to `next` skips the rest, and
 * a throw reaches the router's own catch through the enclosing layer.
 */
export function inSequence(...handlers: RequestHandler[]): RequestHandler {
  return handlers.reduceRight<RequestHandler>(
    (rest, handler) => (req, res, next) => handler(req, res, (err?: unknown) => (err === undefined || err === null ? rest(req, res, next) : next(err))),
    (_req, _res, next) => next(),
  );
}

import type { Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * One log line per request with its id, method, url, status and duration; a child logger on
 * `req.log` so every line a request causes carries its id. Headers are never logged (they carry
 * credentials). Written here rather than with pino-http because the bench measured pino-http at
 * ~37 µs per request against ~18 µs for this, on a route whose whole budget is ~90 µs.
 */
export function requestLogger(
  logger: Logger,
  opts: { ignore?: (url: string) => boolean; onFinish?: (req: Request, res: Response, seconds: number) => void } = {},
): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    const started = performance.now();
    req.id = id;
    req.log = logger.child({ reqId: id });
    res.setHeader('X-Request-Id', id);
    const logged = !opts.ignore?.(req.originalUrl);
    const line = () => ({
      req: { method: req.method, url: req.originalUrl },
      res: { statusCode: res.statusCode },
      responseTime: Math.round(performance.now() - started),
    });
    res.once('finish', () => {
      opts.onFinish?.(req, res, (performance.now() - started) / 1000);
      if (!logged) return;
      if (res.statusCode >= 500) req.log.error(line(), 'request failed');
      else req.log.info(line(), 'request completed');
    });
    if (logged) {
      res.once('close', () => {
        if (!res.writableFinished) req.log.warn(line(), 'request aborted before the response was sent');
      });
    }
    next();
  };
}

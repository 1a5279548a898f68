import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, httpStatusOf, type ErrorKind } from '../errors.js';
import { redactAddresses } from '../redact.js';

/** The one place errors become HTTP: `{ success: false, error: { code, message, details? } }`. */
export const notFoundHandler: RequestHandler = (req) => {
  throw new AppError('not_found', `no route for ${req.method} ${req.path}`, { code: 'route_not_found' });
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const appError = toAppError(err);
  const status = httpStatusOf(appError.kind);
  if (status >= 500) {
    req.log.error({ err, code: appError.code }, 'request failed');
  }
  if (res.headersSent) {
    // A streamed response failed midway: the client sees a truncated body, never a second one.
    res.destroy();
    return;
  }
  res.status(status).json({
    success: false,
    error: {
      code: appError.code,
      message: appError.message,
      ...(appError.details === undefined ? {} : { details: appError.details }),
    },
  });
};

/** Kinds whose message or details may quote an upstream (SHKeeper, the RPC node, a socket error). */
const UPSTREAM_KINDS = new Set<ErrorKind>(['provider_error', 'unavailable']);

/** Strings anywhere in `details` with internal addresses hidden; bounded in depth like any body. */
function redactDetails(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactAddresses(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDetails(v, depth + 1));
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactDetails(v, depth + 1)]));
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) {
    // Never leak internals of unexpected failures.
    if (err.kind === 'internal') return new AppError('internal', 'internal error');
    // Never an internal host, port or URL either: the sources redact, and this is the last net.
    if (UPSTREAM_KINDS.has(err.kind)) {
      return new AppError(err.kind, redactAddresses(err.message), {
        code: err.code,
        ...(err.details === undefined ? {} : { details: redactDetails(err.details) }),
      });
    }
    return err;
  }
  const e = err as { type?: string; status?: number };
  // body-parser errors carry a `type`
  if (e?.type === 'entity.parse.failed') return new AppError('validation', 'malformed JSON body', { code: 'malformed_json' });
  if (e?.type === 'entity.too.large') return new AppError('payload_too_large', 'request body is too large', { code: 'payload_too_large' });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new AppError('validation', 'unsupported body encoding', { code: 'unsupported_encoding' });
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new AppError('validation', 'bad request', { code: 'bad_request' });
  }
  return new AppError('internal', 'internal error');
}

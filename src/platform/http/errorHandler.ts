import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, fail, httpStatusOf, type ErrorKind } from '../errors.js';
import { redactAddresses } from '../redact.js';

/** The one place errors become HTTP: `{ success: false, error: { code, message, details? } }`. */
export const notFoundHandler: RequestHandler = (req) => {
  throw fail('route_not_found', { message: `no route for ${req.method} ${req.path}` });
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
  res.status(status).json(errorBody(appError));
};

/**
 * The JSON body of an error: `{ success: false, error: { code, message, details? } }`. An
 * upstream's message and details are redacted here, the last net before a client sees them.
 */
export function errorBody(err: AppError): { success: false; error: { code: string; message: string; details?: unknown } } {
  const upstream = UPSTREAM_KINDS.has(err.kind);
  const message = upstream ? redactAddresses(err.message) : err.message;
  const details = upstream ? redactDetails(err.details) : err.details;
  return { success: false, error: { code: err.code, message, ...(details === undefined ? {} : { details }) } };
}

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
    if (err.kind === 'internal') return fail('internal');
    return err;
  }
  const e = err as { type?: string; status?: number };
  // body-parser errors carry a `type`
  if (e?.type === 'entity.parse.failed') return fail('malformed_json');
  if (e?.type === 'entity.too.large') return fail('payload_too_large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return fail('unsupported_encoding');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return fail('bad_request');
  }
  return fail('internal');
}

/**
 * The one error type services throw. Services speak in kinds; only `httpStatusOf` knows HTTP.
 * `code` is the machine-readable string clients branch on (defaults to the kind).
 */
export type ErrorKind =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'invalid_state'
  | 'unprocessable'
  | 'payload_too_large'
  | 'rate_limited'
  | 'provider_error'
  | 'unavailable'
  | 'internal';

const HTTP_STATUS: Record<ErrorKind, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  unprocessable: 422,
  payload_too_large: 413,
  rate_limited: 429,
  provider_error: 502,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details?: unknown;

  constructor(kind: ErrorKind, message: string, opts: { code?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.code = opts.code ?? kind;
    this.details = opts.details;
  }
}

export function httpStatusOf(kind: ErrorKind): number {
  return HTTP_STATUS[kind];
}

export const notFound = (what: string, code = 'not_found') => new AppError('not_found', `${what} not found`, { code });
export const forbidden = (message: string, code = 'forbidden') => new AppError('forbidden', message, { code });
export const conflict = (message: string, code = 'conflict', details?: unknown) =>
  new AppError('conflict', message, { code, details });

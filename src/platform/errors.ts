import { ERROR_CATALOG, type CatalogEntry, type ErrorCode, type ErrorKind, type WireCode } from './errorCatalog.js';

export type { ErrorCode, ErrorKind, WireCode } from './errorCatalog.js';

/** Each kind's HTTP status: the one place a kind becomes HTTP. */
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

/** What a caller may add to a catalogued error: a message naming a value, facts for clients, the cause to log. */
export interface FailOptions {
  message?: string;
  details?: unknown;
  cause?: unknown;
}

/**
 * The one error type services throw, always built by `fail(code)` from the catalog
 * (errorCatalog.ts). Services speak in codes; the catalog gives each its kind, and only
 * `httpStatusOf` knows HTTP.
 */
export class AppError extends Error {
  readonly kind: ErrorKind;
  /** The code clients see and branch on. */
  readonly code: WireCode;
  readonly details?: unknown;

  /**
   * Use `fail(code, opts)`: it takes the kind and default message from the catalog. The kind is a
   * parameter here only so that tests can stand in for an adapter's error.
   */
  constructor(kind: ErrorKind, message: string, opts: { code: WireCode; details?: unknown; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.code = opts.code;
    this.details = opts.details;
  }
}

/**
 * The error for `code` (its kind and default message from the catalog), to throw or return.
 * `message` replaces the default when the text names a value (the status a payment is in).
 */
export function fail(code: ErrorCode, opts: FailOptions = {}): AppError {
  const entry: CatalogEntry = ERROR_CATALOG[code];
  return new AppError(entry.kind, opts.message ?? entry.message, {
    code: (entry.wire ?? code) as WireCode,
    details: opts.details,
    cause: opts.cause,
  });
}

/** The HTTP status of a kind (400 validation, 409 conflict and invalid_state, 502 provider_error…). */
export function httpStatusOf(kind: ErrorKind): number {
  return HTTP_STATUS[kind];
}

/** The HTTP status a catalogued code answers with. */
export function httpStatusOfCode(code: ErrorCode): number {
  return HTTP_STATUS[ERROR_CATALOG[code].kind];
}

/**
 * The HTTP statuses a code clients see may answer with, from the catalog: one, except for a
 * `wire` code shared by two entries; none for a code the catalog does not hold.
 */
export function httpStatusesOfWireCode(code: string): number[] {
  const entries = Object.entries(ERROR_CATALOG) as [ErrorCode, CatalogEntry][];
  return entries.filter(([key, e]) => (e.wire ?? key) === code).map(([, e]) => HTTP_STATUS[e.kind]);
}

/** `err` is an AppError with one of `codes` (any AppError when none are named). */
export function isAppError(err: unknown, ...codes: WireCode[]): err is AppError {
  return err instanceof AppError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * The store refused a write because a unique key is taken (`duplicate_key`); with `key`, only
 * when that key is among the ones named (`details.keys`: `id`, `transactionHash`…).
 */
export function isDuplicateKey(err: unknown, key?: string): boolean {
  if (!isAppError(err, 'duplicate_key')) return false;
  return key === undefined || duplicateKeys(err).includes(key);
}

/** The unique keys a `duplicate_key` refusal names; none for any other error. */
export function duplicateKeys(err: unknown): string[] {
  if (!isAppError(err, 'duplicate_key')) return [];
  return (err.details as { keys?: string[] } | undefined)?.keys ?? [];
}

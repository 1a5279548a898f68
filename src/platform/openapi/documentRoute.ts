import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { ZodObject, ZodType } from 'zod';
import { SECURITY, errorResponse, type ErrorStatus } from './components.js';
import { z } from './zod.js';
import { httpStatusesOfWireCode } from '../errors.js';

/**
 * How a route is guarded:
 * - `none`: public;
 * - `bearer`: a valid JWT (401 otherwise);
 * - `optionalBearer`: a JWT may be sent, and must then be valid;
 * - `admin`: a JWT with the admin role (401 without a token, 403 for a non-admin);
 * - `signature`: an HMAC signature over the raw body (SHKeeper callbacks);
 * - `cronSecret`: `X-Cron-Secret`, when CRON_SECRET is set;
 * - `metricsToken`: `Authorization: Bearer <METRICS_TOKEN>`, when METRICS_TOKEN is set.
 */
export type Auth = 'none' | 'bearer' | 'optionalBearer' | 'admin' | 'signature' | 'cronSecret' | 'metricsToken';

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';
  /** OpenAPI path below `/api/payment`, with `{param}` placeholders. */
  path: string;
  /** For a route outside `/api/payment`: where its path is rooted instead (e.g. `[{ url: '/' }]`). */
  servers?: { url: string; description?: string }[];
  tag: string;
  summary: string;
  /** Defaults to method + path in camelCase (`postShkeeperIdRelease`). */
  operationId?: string;
  description?: string;
  auth: Auth;
  /** The zod schemas the router validates with — imported, never copied. */
  params?: ZodObject;
  query?: ZodObject;
  headers?: ZodObject;
  body?: { schema: ZodType; required?: boolean; contentTypes?: string[]; description?: string };
  /** The body is read raw (webhooks): no JSON parser errors. */
  rawBody?: boolean;
  /** `Idempotency-Key` is honoured. */
  idempotent?: boolean;
  /** Mounted only when ENABLE_DEV_ROUTES is on. */
  devOnly?: boolean;
  /** Successful answers, by status. */
  responses: Record<number, ResponseConfig>;
  /** The error codes this route answers, by status (the ones every route of its kind gets are added). */
  errors?: Partial<Record<ErrorStatus, readonly string[]>>;
}

export interface DocsOptions {
  /** Document the dev-only routes (they are mounted only when ENABLE_DEV_ROUTES is on). */
  devRoutes: boolean;
}

const AUTH_TEXT: Record<Auth, string> = {
  none: 'none',
  bearer: 'bearer JWT',
  optionalBearer: 'bearer JWT optional (validated when sent)',
  admin: 'bearer JWT with the admin role',
  signature: 'SHKeeper HMAC signature',
  cronSecret: 'X-Cron-Secret when CRON_SECRET is set',
  metricsToken: 'the metrics token when METRICS_TOKEN is set',
};

const SECURITY_OF: Record<Auth, RouteConfig['security']> = {
  none: [],
  bearer: [{ [SECURITY.bearer]: [] }],
  optionalBearer: [{ [SECURITY.bearer]: [] }, {}],
  admin: [{ [SECURITY.bearer]: ['admin'] }],
  signature: [{ [SECURITY.signature]: [] }],
  cronSecret: [{ [SECURITY.cronSecret]: [] }, {}],
  metricsToken: [{ [SECURITY.metricsToken]: [] }, {}],
};

const AUTH_ERRORS: Record<Auth, Partial<Record<ErrorStatus, readonly string[]>>> = {
  none: {},
  bearer: { 401: ['missing_token', 'invalid_token'] },
  optionalBearer: { 401: ['invalid_token'] },
  admin: { 401: ['missing_token', 'invalid_token'], 403: ['admin_required'] },
  signature: { 401: ['invalid_signature'] },
  cronSecret: { 401: ['invalid_cron_secret'] },
  metricsToken: { 401: ['invalid_metrics_token'] },
};

const IDEMPOTENCY_HEADERS = z.object({
  'Idempotency-Key': z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,200}$/)
    .optional()
    .openapi({
      description:
        'Same key + same body within 24 h → the first answer again (`Idempotent-Replayed: true`); same key + other body → ' +
        '422 `idempotency_key_reused`; still running → 409 `idempotency_request_in_progress`. Keys are per caller; an ' +
        'answer of ours that failed (5xx) forgets its key.',
    }),
});

/** Errors every route under /api/payment may answer, whatever it does (the rate limits cover all of it). */
const EVERY_API_ROUTE: Partial<Record<ErrorStatus, readonly string[]>> = { 429: ['rate_limited'], 503: ['rate_limit_unavailable'] };

export function documentRoute(registry: OpenAPIRegistry, opts: DocsOptions, doc: RouteDoc): void {
  if (doc.devOnly && !opts.devRoutes) return;
  // Bodies are read (as JSON, or raw for the webhooks) before any route runs: their parser's refusals apply.
  const bodyRead = doc.method !== 'get' && doc.method !== 'options';
  const errors = mergeErrors(
    AUTH_ERRORS[doc.auth],
    doc.params || doc.query || doc.body ? { 400: ['validation_error'] } : {},
    bodyRead ? { 400: [...(doc.rawBody ? [] : ['malformed_json']), 'unsupported_encoding', 'bad_request'], 413: ['payload_too_large'] } : {},
    doc.idempotent ? { 400: ['invalid_idempotency_key'], 409: ['idempotency_request_in_progress'], 422: ['idempotency_key_reused'] } : {},
    doc.errors ?? {},
    doc.servers ? {} : EVERY_API_ROUTE,
  );
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    responses[status] = doc.idempotent && Number(status) < 300 ? withReplayHeader(response) : response;
  }
  // A status the route documents itself (its own body shape) is not replaced by the common one.
  for (const [status, codes] of Object.entries(errors)) responses[status] ??= errorResponse(Number(status) as ErrorStatus, codes);

  const notes = [`**Auth:** ${AUTH_TEXT[doc.auth]}.`, doc.devOnly ? '**Dev only:** mounted only when `ENABLE_DEV_ROUTES` is on.' : ''];
  registry.registerPath({
    method: doc.method,
    path: doc.path,
    tags: doc.devOnly ? [doc.tag, 'dev'] : [doc.tag],
    summary: doc.summary,
    operationId: doc.operationId ?? operationIdOf(doc.method, doc.path),
    ...(doc.servers ? { servers: doc.servers } : {}),
    description: [...notes.filter(Boolean), doc.description ?? ''].join('\n\n').trim(),
    security: SECURITY_OF[doc.auth],
    'x-auth': doc.auth,
    ...(doc.devOnly ? { 'x-dev-only': true } : {}),
    request: {
      ...(doc.params ? { params: doc.params } : {}),
      ...(doc.query ? { query: doc.query } : {}),
      ...(doc.headers || doc.idempotent ? { headers: headersOf(doc) } : {}),
      ...(doc.body
        ? {
            body: {
              description: doc.body.description,
              required: doc.body.required ?? true,
              content: Object.fromEntries((doc.body.contentTypes ?? ['application/json']).map((t) => [t, { schema: doc.body!.schema }])),
            },
          }
        : {}),
    },
    responses,
  });
}

/** `post /shkeeper/{id}/release` → `postShkeeperByIdRelease`. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .flatMap((segment) => {
      const param = /^\{(.+)\}$/.exec(segment);
      return param ? ['by', ...param[1]!.split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/);
    })
    .filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function headersOf(doc: RouteDoc): ZodObject {
  if (doc.headers && doc.idempotent) return doc.headers.extend(IDEMPOTENCY_HEADERS.shape);
  return doc.headers ?? IDEMPOTENCY_HEADERS;
}

function withReplayHeader(response: ResponseConfig): ResponseConfig {
  return {
    ...response,
    headers: z.object({
      'Idempotent-Replayed': z.literal('true').optional().openapi({ description: 'present when this is a stored answer replayed' }),
    }),
  };
}

/**
 * The error codes of a route by status. A code must be in the error catalog and listed under the
 * status the catalog gives it: the docs cannot promise a status the service does not answer.
 */
function mergeErrors(...parts: Partial<Record<ErrorStatus, readonly string[]>>[]): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const part of parts) {
    for (const [status, codes] of Object.entries(part)) {
      const list = (out[Number(status)] ??= []);
      for (const c of codes ?? []) {
        if (!httpStatusesOfWireCode(c).includes(Number(status))) {
          throw new Error(`the docs list ${c} under ${status}; the error catalog answers it with ${httpStatusesOfWireCode(c).join(', ') || 'nothing'}`);
        }
        if (!list.includes(c)) list.push(c);
      }
    }
  }
  return out;
}

import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from './zod.js';

/** The shared pieces every operation refers to: security schemes, the error shape, common responses. */

export const SECURITY = {
  bearer: 'bearerAuth',
  signature: 'shkeeperSignature',
  cronSecret: 'cronSecret',
  metricsToken: 'metricsToken',
} as const;

export const ValidationIssueSchema = z
  .object({
    in: z.enum(['path', 'query', 'body']),
    path: z.string().openapi({ description: 'dotted path of the field inside `in`', example: 'amount.currency' }),
    message: z.string(),
  })
  .openapi('ValidationIssue');

export const ErrorResponseSchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.string().openapi({ description: 'machine-readable; clients branch on it', example: 'payment_not_found' }),
      message: z.string().openapi({ description: 'human text; may change' }),
      details: z
        .union([z.array(ValidationIssueSchema), z.record(z.string(), z.unknown())])
        .optional()
        .openapi({
          description: 'extra facts for some codes: `validation_error` lists `ValidationIssue`s, `transfer_mismatch` has `{ reason }`…',
        }),
    }),
  })
  .openapi('ErrorResponse', { description: 'Every error the API answers (except the payout webhook, which answers SHKeeper its own shape).' });

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 502 | 503;

/** name in components.responses, and what the status means here. */
export const COMMON_RESPONSES: Record<ErrorStatus, { name: string; description: string }> = {
  400: { name: 'BadRequest', description: 'Bad input: `validation_error` (details name each field), `malformed_json`, or a rule of the route' },
  401: { name: 'Unauthorized', description: 'Missing, invalid or expired credentials' },
  403: { name: 'Forbidden', description: 'Signed in but not allowed; reveals no record' },
  404: { name: 'NotFound', description: 'Unknown or not visible to the caller (the same answer for both), or no such route (`route_not_found`)' },
  409: { name: 'Conflict', description: 'The request conflicts with the current state of the records' },
  413: { name: 'PayloadTooLarge', description: 'The body is larger than the configured limit (`payload_too_large`)' },
  422: { name: 'UnprocessableContent', description: 'Well-formed but not processable as sent (`idempotency_key_reused`: the key came with another body)' },
  429: { name: 'TooManyRequests', description: 'Rate limit exceeded (`rate_limited`, `details.retryAfterSeconds`, `Retry-After`)' },
  502: { name: 'BadGateway', description: 'An upstream (SHKeeper, the blockchain RPC) failed or refused' },
  503: { name: 'ServiceUnavailable', description: 'Not configured here (`not_configured`), the store is not answering, or a payment is busy; retry later' },
};

const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };

export function registerComponents(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', SECURITY.bearer, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'HS256 JWT, expiry enforced. User id: `sub` (else `id`, else `userId`). Admin: `role: "admin"` or `roles` containing ' +
      '`"admin"`; operations that need it list the role `admin` in their security requirement.',
  });
  registry.registerComponent('securitySchemes', SECURITY.signature, {
    type: 'apiKey',
    in: 'header',
    name: 'X-Shkeeper-Signature',
    description:
      'SHKeeper callbacks. `X-Shkeeper-Timestamp: <unix seconds>` + `X-Shkeeper-Signature: hex HMAC-SHA256(SHKEEPER_WEBHOOK_SECRET, ' +
      'ts + "." + raw body)` within ±300 s, or `X-Shkeeper-Signature` = HMAC of the raw body alone. The invoice webhook also takes ' +
      'the plain `X-Shkeeper-Api-Key` when `SHKEEPER_ALLOW_LEGACY_API_KEY=true`. Not a static key: OpenAPI cannot express an HMAC.',
  });
  registry.registerComponent('securitySchemes', SECURITY.cronSecret, {
    type: 'apiKey',
    in: 'header',
    name: 'X-Cron-Secret',
    description: 'Required only when `CRON_SECRET` is set; compared in constant time.',
  });
  registry.registerComponent('securitySchemes', SECURITY.metricsToken, {
    type: 'http',
    scheme: 'bearer',
    description: '`GET /metrics` only: the static METRICS_TOKEN (not a JWT). Without METRICS_TOKEN the metrics are open.',
  });
  registry.register('ErrorResponse', ErrorResponseSchema);
  registry.register('ValidationIssue', ValidationIssueSchema);
  for (const { name, description } of Object.values(COMMON_RESPONSES)) {
    registry.registerComponent('responses', name, { description, content: { 'application/json': { schema: ERROR_REF } } });
  }
}

/**
 * The response for one error status: a reference to the common response, or — when the route
 * names its codes — the error shape with `error.code` narrowed to exactly those codes.
 */
export function errorResponse(status: ErrorStatus, codes: readonly string[]) {
  const common = COMMON_RESPONSES[status];
  if (codes.length === 0) return { $ref: `#/components/responses/${common.name}` };
  return {
    description: `${common.description}. Codes: ${codes.map((c) => `\`${c}\``).join(', ')}`,
    content: {
      'application/json': {
        schema: {
          allOf: [
            ERROR_REF,
            {
              type: 'object' as const,
              properties: { error: { type: 'object' as const, properties: { code: { type: 'string' as const, enum: [...codes] } } } },
            },
          ],
        },
      },
    },
  };
}

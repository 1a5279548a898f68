import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { ErrorResponseSchema } from '../../platform/openapi/components.js';
import { documentRoute, type DocsOptions } from '../../platform/openapi/documentRoute.js';
import { MonitorStatusSchema, json } from '../shared/sharedSchemas.js';
import { z } from '../../platform/openapi/zod.js';
import { configurationBody } from './configurationRoutes.js';

const WidgetConfigSchema = z
  .object({
    accept: z.array(
      // One entry per enabled (network, token) of the registry, in its order.
      z.object({
        blockchain: z.string().openapi({ description: "the network's id in the registry (NETWORKS), e.g. bsc, ethereum, polygon", example: 'bsc' }),
        chainId: z.number().int(),
        token: z.string().openapi({ description: 'token contract address' }),
        symbol: z.string().openapi({ example: 'USDT' }),
        decimals: z.number().int(),
        receiver: z.string().openapi({ description: "the network's escrow wallet (its escrowReceiver; ESCROW_RECEIVER_ADDRESS for the BSC_* settings)" }),
        amount: z.string().optional(),
      }),
    ),
    redirect: z.object({
      success: z.string().openapi({ description: 'with `?purchaseRequestId=` when the request scoped it' }),
      cancel: z.string(),
    }),
    webhook: z.string().openapi({ description: 'the URL SHKeeper calls back' }),
    amount: z.string().optional().openapi({ description: 'echoed when the request named an amount' }),
    currency: z.string().optional(),
  })
  .openapi('WidgetConfiguration', { description: 'Not wrapped in `{ success, data }`: the widget reads it as is.' });

const HealthSchema = z
  .object({
    success: z.boolean(),
    message: z.string(),
    endpoints: z.object({ shkeeper: z.string(), decentralized: z.string(), health: z.string() }),
    store: z.object({ kind: z.string(), description: z.string(), ok: z.boolean(), latencyMs: z.number() }),
    monitors: z.record(z.string(), MonitorStatusSchema),
    error: z
      .object({ code: z.literal('store_unavailable'), message: z.string() })
      .optional()
      .openapi({ description: 'only when the store does not answer' }),
  })
  .openapi('Health');

export function registerConfigurationDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const tag = 'configuration';
  documentRoute(registry, opts, {
    method: 'post',
    path: '/configuration',
    tag,
    summary: 'Widget configuration, optionally scoped to an amount or a purchase request',
    auth: 'none',
    body: { schema: configurationBody, required: false },
    responses: { 200: json('The configuration', WidgetConfigSchema) },
    errors: {
      400: ['unsupported_currency'],
      404: ['purchase_request_not_found'],
      409: ['purchase_request_not_open'],
      503: ['not_configured'],
    },
  });
  documentRoute(registry, opts, {
    method: 'get',
    path: '/shkeeper/config',
    tag,
    summary: 'The same configuration for the SHKeeper-hosted widget (CORS: any origin)',
    auth: 'none',
    responses: { 200: json('The configuration, with `Access-Control-Allow-Origin: *`', WidgetConfigSchema) },
    errors: { 503: ['not_configured'] },
  });
  documentRoute(registry, opts, {
    method: 'options',
    path: '/shkeeper/config',
    tag,
    summary: 'CORS preflight for the widget configuration',
    auth: 'none',
    responses: { 204: { description: 'Allowed from any origin: `GET, OPTIONS`, header `Content-Type`' } },
  });
  documentRoute(registry, opts, {
    method: 'get',
    path: '/health',
    tag,
    summary: 'Liveness and readiness: store round trip and monitor states',
    auth: 'none',
    responses: {
      200: json('Healthy', HealthSchema),
      503: json(
        'The store is not answering (`success: false`, `error.code: store_unavailable`); or rate limiting is unavailable (`rate_limit_unavailable`, error shape)',
        z.union([HealthSchema, ErrorResponseSchema]),
      ),
    },
  });
}

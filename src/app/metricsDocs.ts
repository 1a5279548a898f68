import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions } from '../platform/openapi/documentRoute.js';
import { z } from '../platform/openapi/zod.js';

/** `GET /metrics` (src/metrics/metrics.ts), mounted at the root of the server, outside /api/payment. */
export function registerMetricsDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  documentRoute(registry, opts, {
    method: 'get',
    path: '/metrics',
    servers: [{ url: '/', description: 'the server root: this route is not under /api/payment' }],
    tag: 'operations',
    summary: 'Prometheus metrics (text exposition format)',
    auth: 'metricsToken',
    responses: { 200: { description: 'The metrics', content: { 'text/plain': { schema: z.string() } } } },
  });
}

import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions } from '../../platform/openapi/documentRoute.js';
import { z } from '../../platform/openapi/zod.js';

/** The contract's own routes (src/openapi/openapiRoutes.ts). */
export function registerOpenApiDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  documentRoute(registry, opts, {
    method: 'get',
    path: '/openapi.json',
    tag: 'docs',
    summary: 'This OpenAPI 3.1 document, generated from the zod schemas the routes validate with',
    auth: 'none',
    responses: {
      200: { description: 'The document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
    },
  });
  documentRoute(registry, opts, {
    method: 'get',
    path: '/docs',
    tag: 'docs',
    summary: 'A readable page for this document (Swagger UI, served from this server)',
    auth: 'none',
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } },
  });
}

import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { readFileSync } from 'node:fs';
import { registerComponents } from '../platform/openapi/components.js';
import type { DocsOptions } from '../platform/openapi/documentRoute.js';
import type { DocsRegistration } from '../platform/featureModule.js';

/** Where the API is mounted; every documented path is relative to it. */
export const API_BASE = '/api/payment';

const TAGS = [
  { name: 'configuration', description: 'Widget configuration and health' },
  { name: 'payments', description: 'Payment records: create, read, update, lists, stats, exports' },
  { name: 'shkeeper', description: 'SHKeeper pay-in: intents, confirm-transaction, webhook, monitors' },
  { name: 'payouts', description: 'SHKeeper payouts to sellers' },
  { name: 'escrow', description: 'Escrow release / refund: prepared by the server, signed by the admin wallet, confirmed on chain' },
  { name: 'decentralized', description: 'Web3 (DePay) payments and hot-wallet payouts' },
  { name: 'legacy', description: 'Endpoints kept for older clients' },
  { name: 'marketplace', description: "Records in: the marketplace's purchase requests and seller offers (service credential or admin)" },
  {
    name: 'webhook endpoints',
    description: 'Events out: signed, retried webhooks to the marketplace, their delivery log and redelivery, and the event log (admin)',
  },
  {
    name: 'admin',
    description: "The admin's work queue: escrows awaiting a release or refund, disbursements in flight or in doubt, flagged, excess and short payments",
  },
  { name: 'dev', description: 'Mounted only when ENABLE_DEV_ROUTES is on (never by default in production)' },
  { name: 'docs', description: 'This contract' },
  { name: 'operations', description: 'For operators (outside /api/payment)' },
];

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const cache = new Map<boolean, OpenApiDocument>();

/**
 * The document from every module's docs (in the order of the tags), generated once per process for
 * each dev-routes setting. A new router's module lists its `register<Feature>Docs`; the coverage
 * test fails until every route is documented.
 */
export function buildOpenApiDocument(registrations: DocsRegistration[], opts: DocsOptions): OpenApiDocument {
  const cached = cache.get(opts.devRoutes);
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registerComponents(registry);
  for (const register of registrations) register(registry, opts);
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Escrow payment service',
      version: packageVersion(),
      description:
        'Crypto escrow payments (USDT on BSC by default). Successful answers are `{ success: true, data }` unless an ' +
        'operation says otherwise; every error is `{ success: false, error: { code, message, details? } }`. Money is ' +
        'always a decimal string. Each error response lists the `error.code` values the route answers; besides them, ' +
        'any route that reads the store may answer `503 store_unavailable` while the database is down, or `503 store_timeout` ' +
        'when a query runs past MONGODB_QUERY_TIMEOUT_MS. Every route under ' +
        '/api/payment is rate limited (`429 rate_limited` with `Retry-After`). Generated from the zod schemas the routes ' +
        'validate with.',
    },
    servers: [{ url: API_BASE }],
    tags: opts.devRoutes ? TAGS : TAGS.filter((t) => t.name !== 'dev'),
  });
  cache.set(opts.devRoutes, document);
  return document;
}

function packageVersion(): string {
  try {
    // src/app/ and dist/app/ are both two levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions } from '../../platform/openapi/documentRoute.js';
import { z } from '../../platform/openapi/zod.js';
import { PaymentSchema, json, okEnvelope } from '../shared/sharedSchemas.js';
import { QUEUE_VIEW_NAMES } from './adminQueue.js';
import { queueQuery } from './adminQueueRoutes.js';

const QueueItemSchema = PaymentSchema.extend({
  ageSeconds: z.number().int().openapi({ description: 'since the payment was created' }),
  attention: z.array(z.object({ reason: z.string(), source: z.string(), actor: z.string(), at: z.string() })),
}).openapi('AdminQueueItem');

/** The admin work queue (src/features/adminConsole). */
export function registerAdminQueueDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  documentRoute(registry, opts, {
    method: 'get',
    path: '/admin/queue',
    tag: 'admin',
    summary: 'What an admin has to decide: one view at a time, oldest first',
    description:
      '`view`: `decisions` (funded escrows with nothing leaving them: release or refund), `in_flight` (a release, refund or ' +
      'payout prepared or submitted), `in_doubt` (a disbursement whose provider answer was lost), `attention` (payments the ' +
      'service flagged, e.g. a cancelled request with a funded escrow), `excess` (credited beyond the price), `short` (funded ' +
      'below the price within UNDERPAYMENT_TOLERANCE). Each item is the payment with its escrow (credits, disbursements, ' +
      'available), its age and its flags. Page with `starting_after` = the last id while `has_more`.',
    auth: 'admin',
    query: queueQuery,
    responses: {
      200: json('One page of the view', okEnvelope(z.object({ view: z.enum(QUEUE_VIEW_NAMES), items: z.array(QueueItemSchema), has_more: z.boolean() }))),
    },
    errors: { 400: ['cursor_not_found'] },
  });
  documentRoute(registry, opts, {
    method: 'get',
    path: '/admin/queue/counts',
    tag: 'admin',
    summary: 'How many payments wait in each view',
    auth: 'admin',
    responses: { 200: json('Counts by view', okEnvelope(z.object(Object.fromEntries(QUEUE_VIEW_NAMES.map((v) => [v, z.number().int()]))))) },
  });
}

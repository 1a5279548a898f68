import { Router } from 'express';
import { z } from 'zod';
import { requireAdmin } from '../../platform/auth/authMiddleware.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { objectIdSchema, queryInt } from '../../platform/schemas.js';
import { QUEUE_VIEW_NAMES, type AdminQueue } from './adminQueue.js';

export const queueQuery = z.strictObject({
  view: z.enum(QUEUE_VIEW_NAMES).default('decisions'),
  limit: queryInt(1, 100, 25),
  starting_after: objectIdSchema.optional(),
});

export interface AdminQueueRouteDeps {
  tokens: TokenService;
  queue: AdminQueue;
}

/** Admin only: the work queue (`GET /admin/queue`) and how many wait in each view (`GET /admin/queue/counts`). */
export function adminQueueRoutes(deps: AdminQueueRouteDeps): Router {
  const router = Router();
  const admin = requireAdmin(deps.tokens);
  router.get(
    '/admin/queue',
    admin,
    endpoint({ query: queueQuery }, async ({ query }) => ok(await deps.queue.list(query.view, { limit: query.limit, startingAfter: query.starting_after }))),
  );
  router.get(
    '/admin/queue/counts',
    admin,
    endpoint({}, async () => ok(await deps.queue.counts())),
  );
  return router;
}

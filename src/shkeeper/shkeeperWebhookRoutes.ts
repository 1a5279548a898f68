import express, { Router } from 'express';
import type { AppContext } from '../appContext.js';

/**
 * Mounted ahead of the JSON body parser: the signature covers the raw bytes, so they are kept as
 * they arrived (whatever the Content-Type) and nothing is parsed before the signature is checked.
 */
export function shkeeperWebhookRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/webhook', express.raw({ type: () => true, limit: '256kb' }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const answer = await ctx.shkeeperWebhooks.receiveInvoiceCallback(req.headers, raw);
    res.status(answer.status).json(answer.body);
  });
  return router;
}

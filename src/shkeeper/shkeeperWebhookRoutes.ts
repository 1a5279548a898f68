import express, { Router } from 'express';
import type { AppContext } from '../appContext.js';

/**
 * Mounted ahead of the JSON body parser: the signature covers the raw bytes, so they are kept as
 * they arrived (whatever the Content-Type) and nothing is parsed before the signature is checked.
 */
export function shkeeperWebhookRoutes(ctx: AppContext): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: '256kb' });
  const bytes = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));
  router.post('/webhook', raw, async (req, res) => {
    const answer = await ctx.shkeeperWebhooks.receiveInvoiceCallback(req.headers, bytes(req.body));
    res.status(answer.status).json(answer.body);
  });
  router.post('/payout/webhook', raw, async (req, res) => {
    const answer = await ctx.payoutWebhooks.receive(req.headers, bytes(req.body));
    res.status(answer.status).json(answer.body);
  });
  return router;
}

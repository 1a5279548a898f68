import { Router } from 'express';
import { bodyBytes, rawWebhookBody } from '../shared/rawWebhookBody.js';
import type { ShkeeperWebhookService } from './webhookService.js';

/**
 * `POST /shkeeper/webhook`, SHKeeper's invoice callback. Mounted ahead of the JSON body parser: the
 * signature covers the raw bytes, so they are kept as they arrived.
 */
export function shkeeperWebhookRoutes(deps: { webhooks: ShkeeperWebhookService }): Router {
  const router = Router();
  router.post('/webhook', rawWebhookBody, async (req, res) => {
    const answer = await deps.webhooks.receiveInvoiceCallback(req.headers, bodyBytes(req.body));
    res.status(answer.status).json(answer.body);
  });
  return router;
}

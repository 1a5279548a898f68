import { Router } from 'express';
import { fail, httpStatusOfCode } from '../../platform/errors.js';
import { errorBody } from '../../platform/http/errorHandler.js';
import { bodyBytes, rawWebhookBody } from '../shared/rawWebhookBody.js';
import type { ShkeeperWebhookService } from './webhookService.js';

/**
 * `POST /shkeeper/webhook`, SHKeeper's invoice callback. Mounted ahead of the JSON body parser: the
 * signature covers the raw bytes, so they are kept as they arrived.
 */
export function shkeeperWebhookRoutes(deps: { webhooks: ShkeeperWebhookService }): Router {
  const router = Router();
  router.post('/webhook', rawWebhookBody, async (req, res) => {
    const outcome = await deps.webhooks.receiveInvoiceCallback(req.headers, bodyBytes(req.body));
    // SHKeeper counts only 202 as delivered; a refusal answers the catalog's status and error shape.
    if (outcome.kind === 'accepted') res.status(202).json({ success: true });
    else res.status(httpStatusOfCode(outcome.code)).json(errorBody(fail(outcome.code, { message: outcome.message })));
  });
  return router;
}

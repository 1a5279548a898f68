import { Router } from 'express';
import { fail, httpStatusOfCode } from '../../platform/errors.js';
import { errorBody } from '../../platform/http/errorHandler.js';
import { sendPreparedJson } from '../../platform/http/http.js';
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
    // The one answer every accepted delivery gets, serialised (and its ETag hashed) once.
    if (outcome.kind === 'accepted') sendPreparedJson(req, res, ACCEPTED, () => ACCEPTED, 202);
    else res.status(httpStatusOfCode(outcome.code)).json(errorBody(fail(outcome.code, { message: outcome.message })));
  });
  return router;
}

const ACCEPTED = Object.freeze({ success: true });

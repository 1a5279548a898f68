import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { EscrowService } from './escrowService.js';
import { principalOf, requireAdmin } from '../../platform/auth/authMiddleware.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { isObjectId } from '../../platform/ids.js';
import { evmAddressSchema, txHashSchema } from '../../platform/schemas.js';
import { paymentView } from '../../core/payments/paymentView.js';
import type { EscrowAction } from '../../core/escrow/escrowRecipients.js';

export const params = z.object({ id: z.string() });
/** An admin paying someone other than the rule's recipient: the address, and why (recorded on the escrow). */
export const recipientOverride = z.strictObject({
  address: evmAddressSchema,
  reason: z.string().trim().min(3).max(300),
});
export const prepareBody = z.strictObject({ recipientOverride: recipientOverride.optional() });
export const confirmBody = z.strictObject({ txHash: txHashSchema, recipientOverride: recipientOverride.optional() });

/** What the escrow routes use; `idempotent` is the app's Idempotency-Key middleware. */
export interface EscrowRouteDeps {
  tokens: TokenService;
  idempotent: RequestHandler;
  escrow: EscrowService;
}

/**
 * Admin escrow tooling under /shkeeper: prepare a release or refund (the admin's wallet signs and
 * broadcasts it), then confirm it with the broadcast hash; withdraw a prepared one. An admin may
 * name another recipient with `recipientOverride` (address and reason, recorded on the escrow).
 * Only 24-hex ids reach these routes.
 */
export function escrowRoutes(deps: EscrowRouteDeps): Router {
  const router = Router();
  const admin = requireAdmin(deps.tokens);
  const objectIdOnly: RequestHandler = (req, _res, next) => next(isObjectId(req.params.id) ? undefined : 'route');
  const once = deps.idempotent;

  for (const kind of ['release', 'refund'] as EscrowAction[]) {
    router.post(
      `/:id/${kind}`,
      objectIdOnly,
      admin,
      once,
      endpoint({ params, body: prepareBody }, async ({ params: p, body }, req) =>
        ok(await deps.escrow.prepare(principalOf(req).userId, p.id, kind, body.recipientOverride)),
      ),
    );
    // Idempotency-Key too; a 202 "not deep enough yet" is not stored, so a retry with the same key
    // runs again and can settle.
    router.post(
      `/:id/${kind}/confirm`,
      objectIdOnly,
      admin,
      once,
      endpoint({ params, body: confirmBody }, async ({ params: p, body }, req, res) => {
        const r = await deps.escrow.confirm(principalOf(req).userId, p.id, kind, body.txHash, body.recipientOverride);
        // Not deep enough yet is 202: accepted, nothing settled (and not stored under the key).
        res.status(r.kind === 'awaiting_confirmations' ? 202 : 200).json({ success: true, message: r.message, data: paymentView(r.payment) });
      }),
    );
  }
  router.delete(
    '/:id/prepared',
    objectIdOnly,
    admin,
    endpoint({ params }, async ({ params: p }, req) => ok(await deps.escrow.cancelPrepared(principalOf(req).userId, p.id))),
  );
  return router;
}

import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../appContext.js';
import { principalOf, requireAdmin, requireAuth } from '../auth/authMiddleware.js';
import { AppError } from '../common/errors.js';
import { endpoint, ok } from '../common/http.js';
import { isObjectId } from '../common/ids.js';
import { objectIdSchema, txHashSchema } from '../common/schemas.js';
import { payerProofSchema } from '../decentralized/decentralizedSchemas.js';
import { refutedClaim } from '../decentralized/refutedClaim.js';
import { visiblePayment } from '../payments/paymentAccess.js';
import { paymentView } from '../payments/paymentView.js';
import { SETTLED } from '../payments/transitions.js';

export const cleanupBody = z.strictObject({ olderThanMinutes: z.number().int().min(1).max(365 * 24 * 60).optional() });
export const autoFetchBody = z.strictObject({ limit: z.number().int().min(1).max(50).optional() });
export const callbackBody = z.strictObject({
  paymentId: objectIdSchema,
  transactionHash: txHashSchema.optional(),
  status: z.string().max(32).optional(),
  data: z.object({ reference: z.string().max(128).optional(), paymentRef: z.string().max(128).optional() }).optional(),
});
export const verifyBody = z.strictObject({ paymentId: objectIdSchema, transactionHash: txHashSchema.optional(), payerProof: payerProofSchema.optional() });

/**
 * The legacy endpoints, kept for older clients. Their callers' statuses are claims: a tx hash may
 * be recorded, but only chain verification moves a payment.
 */
export function paymentRoutes(ctx: AppContext): Router {
  const router = Router();
  const objectIdOnly: RequestHandler = (req, _res, next) => next(isObjectId(req.params.id) ? undefined : 'route');

  router.post('/payments/cleanup-pending', requireAdmin(ctx.tokens), endpoint({ body: cleanupBody }, async ({ body }) => {
    const minutes = body.olderThanMinutes ?? ctx.config.legacy.cleanupAfterMinutes;
    const cutoff = new Date(ctx.clock.now().getTime() - minutes * 60_000);
    // SHKeeper invoices (with a pay address) are kept: their addresses stay watched forever, and
    // late money must still find its payment. So is anything with a claim, a credit or a proven wallet.
    const deletedCount = await ctx.coordinator.purgeAbandoned(cutoff);
    return { success: true, deletedCount, message: `deleted ${deletedCount} pending payments older than ${minutes} minutes without a transaction` };
  }));

  router.post('/payments/:id/fetch-tx', objectIdOnly, requireAuth(ctx.tokens), endpoint({}, async (_i, req) => {
    const p = await visiblePayment(ctx.store, principalOf(req), String(req.params.id));
    const r = await ctx.backfill.fetch(p);
    return { success: true, ...r, message: r.source === 'recorded' ? 'the payment already had its transaction hash' : 'transaction hash found and recorded' };
  }));

  // A batch across every user's payments: admin only (the spec says only "JWT").
  router.post('/payments/auto-fetch-missing', requireAdmin(ctx.tokens), endpoint({ body: autoFetchBody }, async ({ body }) => {
    const limit = body.limit ?? 10;
    const missing = await ctx.store.payments.find(
      { status: { $in: [...SETTLED] }, transactionHash: null },
      { sort: { updatedAt: -1 }, limit },
    );
    const results = [];
    for (const p of missing) {
      try {
        const r = await ctx.backfill.fetch(p);
        results.push({ paymentId: p.id, transactionHash: r.transactionHash, source: r.source });
      } catch (err) {
        results.push({ paymentId: p.id, transactionHash: null, error: (err as AppError).code ?? 'error' });
      }
    }
    return { success: true, processed: results.length, found: results.filter((r) => r.transactionHash).length, results };
  }));

  router.post('/callback', endpoint({ body: callbackBody }, async ({ body }) => {
    const p = await ctx.store.payments.findById(body.paymentId);
    const ref = body.data?.reference ?? body.data?.paymentRef;
    // Without the payment's own reference the caller learns nothing, not even that it exists.
    if (!p || p.provider !== 'decentralized' || !ref || ref !== p.externalId) {
      throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    }
    const result = await claimAndVerify(ctx, p.id, body.transactionHash, 'legacy_callback');
    if (result.outcome === 'mismatch') throw refutedClaim(result.reason ?? undefined);
    return ok(result);
  }));

  router.post('/verify', requireAuth(ctx.tokens), endpoint({ body: verifyBody }, async ({ body }, req, res) => {
    const p = await visiblePayment(ctx.store, principalOf(req), body.paymentId);
    if (p.provider !== 'decentralized') throw new AppError('invalid_state', 'only Web3 payments are verified here', { code: 'wrong_provider' });
    if (body.payerProof) await ctx.web3.prove(p.id, body.payerProof);
    const result = await claimAndVerify(ctx, p.id, body.transactionHash, 'web3_verify');
    if (result.outcome === 'no_hash') throw new AppError('conflict', 'no transaction hash is known for this payment', { code: 'no_transaction_hash' });
    // A failed or cancelled payment will never complete: a refusal, not "202, keep waiting".
    if (result.outcome === 'closed') throw new AppError('conflict', `the payment is ${result.payment.status}`, { code: 'payment_closed', details: { status: result.payment.status } });
    if (result.outcome === 'mismatch') throw refutedClaim(result.reason ?? undefined);
    res.status(result.outcome === 'confirmed' ? 200 : 202).json(ok(result));
  }));
  return router;
}

/**
 * Lets the chain decide about a hash the caller names (or the payment's own claim): the hash is a
 * claim only, reserving nothing; a refuted one is dropped (see Web3Verifier).
 */
async function claimAndVerify(ctx: AppContext, paymentId: string, hash: string | undefined, source: string) {
  // Kept as the payment's claim first (when it has none), so an RPC failure loses nothing; a refuted one is dropped again.
  if (hash) await ctx.web3.keepClaim(paymentId, hash, source);
  const v = await ctx.web3Verifier.verify(paymentId, source, hash);
  return { payment: paymentView(v.payment), outcome: v.outcome, confirmations: v.confirmations ?? null, reason: v.reason ?? null };
}

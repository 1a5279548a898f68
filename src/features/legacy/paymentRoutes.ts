import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { Web3Verifier } from '../../core/payments/web3Verifier.js';
import type { EventRelay } from '../../core/events/eventRelay.js';
import type { Store } from '../../core/store/store.js';
import type { PayerProofInput } from '../shared/payerProofSchema.js';
import type { TransactionBackfill } from './transactionBackfill.js';
import { principalOf, requireAdmin, requireAuth } from '../../platform/auth/authMiddleware.js';
import { AppError, fail } from '../../platform/errors.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { isObjectId } from '../../platform/ids.js';
import { objectIdSchema, txHashSchema } from '../../platform/schemas.js';
import { payerProofSchema } from '../shared/payerProofSchema.js';
import { refutedClaim } from '../../core/payments/refutedClaim.js';
import { visiblePayment } from '../../core/payments/paymentAccess.js';
import { paymentView } from '../../core/payments/paymentView.js';
import { SETTLED } from '../../core/payments/transitions.js';

export const cleanupBody = z.strictObject({
  olderThanMinutes: z
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 60)
    .optional(),
});
export const autoFetchBody = z.strictObject({ limit: z.number().int().min(1).max(50).optional() });
export const callbackBody = z.strictObject({
  paymentId: objectIdSchema,
  transactionHash: txHashSchema.optional(),
  status: z.string().max(32).optional(),
  data: z.object({ reference: z.string().max(128).optional(), paymentRef: z.string().max(128).optional() }).optional(),
});
export const verifyBody = z.strictObject({ paymentId: objectIdSchema, transactionHash: txHashSchema.optional(), payerProof: payerProofSchema.optional() });

/**
 * The two Web3 steps the legacy routes share with the decentralized router, which owns them:
 * keeping a caller's hash as a claim, and checking a wallet's payer proof.
 */
export interface Web3Claims {
  keepClaim(paymentId: string, hash: string, source: string): Promise<unknown>;
  prove(paymentId: string, proof: PayerProofInput): Promise<unknown>;
}

/** What the legacy routes use. */
export interface LegacyRouteDeps {
  config: Pick<Config, 'legacy'>;
  store: Store;
  clock: Clock;
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  backfill: TransactionBackfill;
  web3: Web3Claims;
  web3Verifier: Web3Verifier;
  /** The cleanup waits for the relay to record the cancellations before it deletes. */
  eventRelay: Pick<EventRelay, 'drain'>;
}

/**
 * The legacy endpoints, kept for older clients. Their callers' statuses are claims: a tx hash may
 * be recorded, but only chain verification moves a payment.
 */
export function paymentRoutes(deps: LegacyRouteDeps): Router {
  const router = Router();
  const objectIdOnly: RequestHandler = (req, _res, next) => next(isObjectId(req.params.id) ? undefined : 'route');

  router.post(
    '/payments/cleanup-pending',
    requireAdmin(deps.tokens),
    endpoint({ body: cleanupBody }, async ({ body }, req) => {
      const minutes = body.olderThanMinutes ?? deps.config.legacy.cleanupAfterMinutes;
      const cutoff = new Date(deps.clock.now().getTime() - minutes * 60_000);
      // SHKeeper invoices (with a pay address) are kept: their addresses stay watched forever, and
      // late money must still find its payment. So is anything with a claim, a credit or a proven wallet.
      // Ended through the coordinator (announced as payment.cancelled), then deleted once announced.
      const ended = await deps.coordinator.cancelAbandoned(cutoff, principalOf(req).userId);
      await deps.eventRelay.drain();
      const deletedCount = await deps.coordinator.deleteEnded(ended);
      return { success: true, deletedCount, message: `deleted ${deletedCount} pending payments older than ${minutes} minutes without a transaction` };
    }),
  );

  router.post(
    '/payments/:id/fetch-tx',
    objectIdOnly,
    requireAuth(deps.tokens),
    endpoint({}, async (_i, req) => {
      const p = await visiblePayment(deps.store, principalOf(req), String(req.params.id));
      const r = await deps.backfill.fetch(p);
      return { success: true, ...r, message: r.source === 'recorded' ? 'the payment already had its transaction hash' : 'transaction hash found and recorded' };
    }),
  );

  // A batch across every user's payments: admin only (the spec says only "JWT").
  router.post(
    '/payments/auto-fetch-missing',
    requireAdmin(deps.tokens),
    endpoint({ body: autoFetchBody }, async ({ body }) => {
      const limit = body.limit ?? 10;
      const missing = await deps.store.payments.find({ status: { $in: [...SETTLED] }, transactionHash: null }, { sort: { updatedAt: -1 }, limit });
      const results = [];
      for (const p of missing) {
        try {
          const r = await deps.backfill.fetch(p);
          results.push({ paymentId: p.id, transactionHash: r.transactionHash, source: r.source });
        } catch (err) {
          results.push({ paymentId: p.id, transactionHash: null, error: (err as AppError).code ?? 'error' });
        }
      }
      return { success: true, processed: results.length, found: results.filter((r) => r.transactionHash).length, results };
    }),
  );

  router.post(
    '/callback',
    endpoint({ body: callbackBody }, async ({ body }) => {
      const p = await deps.store.payments.findById(body.paymentId);
      const ref = body.data?.reference ?? body.data?.paymentRef;
      // Without the payment's own reference the caller learns nothing, not even that it exists.
      if (!p || p.provider !== 'decentralized' || !ref || ref !== p.externalId) {
        throw fail('payment_not_found');
      }
      const result = await claimAndVerify(deps, p.id, body.transactionHash, 'legacy_callback');
      if (result.outcome === 'mismatch') throw refutedClaim(result.reason ?? undefined);
      return ok(result);
    }),
  );

  router.post(
    '/verify',
    requireAuth(deps.tokens),
    endpoint({ body: verifyBody }, async ({ body }, req, res) => {
      const p = await visiblePayment(deps.store, principalOf(req), body.paymentId);
      if (p.provider !== 'decentralized') throw fail('wrong_provider');
      if (body.payerProof) await deps.web3.prove(p.id, body.payerProof);
      const result = await claimAndVerify(deps, p.id, body.transactionHash, 'web3_verify');
      if (result.outcome === 'no_hash') throw fail('no_transaction_hash');
      // A failed or cancelled payment will never complete: a refusal, not "202, keep waiting".
      if (result.outcome === 'closed') {
        throw fail('payment_closed', { message: `the payment is ${result.payment.status}`, details: { status: result.payment.status } });
      }
      if (result.outcome === 'mismatch') throw refutedClaim(result.reason ?? undefined);
      res.status(result.outcome === 'confirmed' ? 200 : 202).json(ok(result));
    }),
  );
  return router;
}

/**
 * Lets the chain decide about a hash the caller names (or the payment's own claim): the hash is a
 * claim only, reserving nothing; a refuted one is dropped (see Web3Verifier).
 */
async function claimAndVerify(deps: LegacyRouteDeps, paymentId: string, hash: string | undefined, source: string) {
  // Kept as the payment's claim first (when it has none), so an RPC failure loses nothing; a refuted one is dropped again.
  if (hash) await deps.web3.keepClaim(paymentId, hash, source);
  const v = await deps.web3Verifier.verify(paymentId, source, hash);
  return { payment: paymentView(v.payment), outcome: v.outcome, confirmations: v.confirmations ?? null, reason: v.reason ?? null };
}

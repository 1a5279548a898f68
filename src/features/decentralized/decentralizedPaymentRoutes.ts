import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import { Router, type RequestHandler } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { Web3Verifier } from '../../core/payments/web3Verifier.js';
import type { AdminPayoutService } from './adminPayoutService.js';
import type { Web3PaymentService } from './web3PaymentService.js';
import { optionalAuth, principalOf, requireAdmin, requireAuth } from '../../platform/auth/authMiddleware.js';
import { fail } from '../../platform/errors.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { paymentView, publicPaymentView } from '../../core/payments/paymentView.js';
import type { PaymentRecord } from '../../core/store/records.js';
import { refutedClaim } from '../../core/payments/refutedClaim.js';
import {
  adminPayoutBody,
  challengeBody,
  paymentIdParams,
  proveBody,
  receiverQuery,
  saveBody,
  updateBody,
  userIdParams,
  verifyBody,
} from './decentralizedSchemas.js';

/** What the decentralized routes use; `idempotent` is the app's Idempotency-Key middleware. */
export interface DecentralizedRouteDeps {
  config: Pick<Config, 'bsc' | 'escrow' | 'cronSecret'>;
  networks: ChainNetworks;
  tokens: TokenService;
  idempotent: RequestHandler;
  web3: Web3PaymentService;
  web3Verifier: Web3Verifier;
  adminPayouts: AdminPayoutService;
}

/**
 * DePay / Web3 payments under /decentralized. Several routes take no token (the checkout calls
 * them before login; a cron calls verify-all-pending), so none of them lets a caller's word move
 * money state: statuses change only through chain verification (see Web3Verifier).
 */
export function decentralizedPaymentRoutes(deps: DecentralizedRouteDeps): Router {
  const router = Router();
  const web3 = deps.web3;

  router.post(
    '/save',
    endpoint({ body: saveBody }, async ({ body }) => {
      const { payment, verification } = await web3.save(body);
      return { success: true, data: publicPaymentView(payment), verification };
    }),
  );

  // The payer's wallet proof (README: "Web3 payer proof"): the message to sign, then the signature.
  router.post(
    '/payer-proof/challenge',
    endpoint({ body: challengeBody }, async ({ body }) => ok(await web3.challenge(body))),
  );
  router.post(
    '/payer-proof',
    endpoint({ body: proveBody }, async ({ body }) => ok(publicPaymentView(await web3.prove(body.paymentId, body.payerProof)))),
  );

  router.get(
    '/status/:paymentId',
    endpoint({ params: paymentIdParams }, async ({ params }) => ok(statusView(await web3.status(params.paymentId)))),
  );

  router.put(
    '/update',
    optionalAuth(deps.tokens),
    endpoint({ body: updateBody }, async ({ body }, req) => ok(statusView(await web3.update(req.principal, body)))),
  );

  // The default network's receiver and tokens (`?network=` another enabled one): where a Web3 payment goes.
  router.get(
    '/receiver',
    endpoint({ query: receiverQuery }, ({ query }) => {
      const id = query.network ?? deps.networks.defaultNetwork?.id ?? 'bsc';
      const accepts = deps.networks.accepts().filter((a) => a.network.id === id);
      if (accepts.length === 0) {
        if (query.network && !deps.networks.network(query.network))
          throw fail('unsupported_network', { message: `${query.network} is not an enabled network here` });
        throw fail('not_configured', { message: 'ESCROW_RECEIVER_ADDRESS is not configured' });
      }
      const { network, receiver } = accepts[0]!;
      const tokens = accepts.map((a) => ({ symbol: a.token.symbol, address: a.token.contract, decimals: a.token.decimals! }));
      return ok({ address: receiver, network: network.id, chainId: network.chainId, confirmations: network.confirmations, tokens });
    }),
  );

  // Deliberately stricter than the spec's "no auth": a history reveals a user's payments.
  router.get(
    '/history/:userId',
    requireAuth(deps.tokens),
    endpoint({ params: userIdParams }, async ({ params }, req) => ok((await web3.history(principalOf(req), params.userId)).map(paymentView))),
  );

  router.post(
    '/verify/:paymentId',
    endpoint({ params: paymentIdParams, body: verifyBody.optional() }, async ({ params, body }) => {
      if (body?.payerProof) await web3.prove(params.paymentId, body.payerProof);
      const v = await deps.web3Verifier.verify(params.paymentId, 'decentralized_verify', body?.transactionHash);
      if (v.outcome === 'mismatch') throw refutedClaim(v.reason);
      return ok({
        ...statusView(v.payment),
        outcome: v.outcome,
        confirmations: v.confirmations ?? null,
        required: v.required ?? null,
        reason: v.reason ?? null,
      });
    }),
  );

  router.post(
    '/verify-all-pending',
    cronSecret(deps.config.cronSecret),
    endpoint({}, async () => ok(await web3.verifyAllPending())),
  );

  router.post(
    '/admin-payout',
    requireAdmin(deps.tokens),
    deps.idempotent,
    endpoint({ body: adminPayoutBody }, async ({ body }, req, res) => {
      const { kind, success, message, data } = await deps.adminPayouts.pay(principalOf(req), body);
      // A reverted transfer is the chain refusing it: 502, with the spec's body all the same.
      res.status(kind === 'failed' ? 502 : 200).json({ success, message, data });
    }),
  );
  return router;
}

function statusView(p: PaymentRecord) {
  return {
    paymentId: p.id,
    status: p.status,
    escrowState: p.escrowState,
    transactionHash: p.transactionHash ?? p.claim?.txHash ?? null,
    confirmations: (p.providerData.confirmations as number | undefined) ?? null,
    amount: p.amount,
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** When CRON_SECRET is set, the caller must send it in `X-Cron-Secret` (compared in constant time). */
function cronSecret(secret: string | undefined): RequestHandler {
  const expected = secret ? createHash('sha256').update(secret).digest() : undefined;
  return (req, _res, next) => {
    if (!expected) return next();
    const given = createHash('sha256')
      .update(req.get('X-Cron-Secret') ?? '')
      .digest();
    if (!timingSafeEqual(given, expected)) throw fail('invalid_cron_secret');
    next();
  };
}

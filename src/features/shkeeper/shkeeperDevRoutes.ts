import { Wallet } from 'ethers';
import { Router } from 'express';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { Store } from '../../core/store/store.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import { requireAdmin } from '../../platform/auth/authMiddleware.js';
import { AppError, fail } from '../../platform/errors.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { newObjectId } from '../../platform/ids.js';
import { hmacHex } from '../../adapters/shkeeper/webhookSignature.js';
import { createTestPaymentBody, triggerWebhookBody } from './shkeeperSchemas.js';

const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'x-shkeeper-api-key', 'x-shkeeper-signature']);

/** Sorted keys, compact separators: the bytes SHKeeper itself signs and sends (spec §5.1). */
function compactSorted(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(compactSorted).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${compactSorted((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What the dev routes use (they are mounted only when `config.enableDevRoutes`). */
export interface ShkeeperDevRouteDeps {
  config: Config;
  store: Store;
  clock: Clock;
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  shkeeper?: ShkeeperClient;
}

/**
 * Tools for wiring SHKeeper up in development. Mounted only when ENABLE_DEV_ROUTES is on (never
 * by default in production), so in production these paths are 404.
 */
export function shkeeperDevRoutes(deps: ShkeeperDevRouteDeps): Router {
  const router = Router();

  router.post(
    '/test',
    endpoint({}, async () => {
      const client = deps.shkeeper;
      if (!client) throw fail('not_configured', { message: 'SHKEEPER_API_URL is not configured' });
      const attempt = async (fn: () => Promise<unknown>) => {
        try {
          return { ok: true, result: await fn() };
        } catch (err) {
          return { ok: false, error: (err as AppError).code ?? 'error' };
        }
      };
      return ok({
        cryptoList: await attempt(async () => (await client.listCryptos()).map((c) => c.name)),
        authenticatedCall: await attempt(async () => (await client.getInvoices('shkeeper-connectivity-check')).length),
      });
    }),
  );

  const echo = endpoint({}, (_input, req) =>
    ok({
      method: req.method,
      query: req.query,
      body: req.body ?? null,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HIDDEN_HEADERS.has(k))),
      receivedAt: deps.clock.now().toISOString(),
    }),
  );
  router.post('/callback-test', echo);
  router.get('/callback-test', echo);

  router.post(
    '/create-test-payment',
    endpoint(
      { body: createTestPaymentBody },
      async ({ body }) => {
        const now = deps.clock.now();
        const amount = body.amount ?? '10';
        const requestId = newObjectId(now);
        const offerId = newObjectId(now);
        const buyerId = body.buyerId ?? 'test-buyer';
        const sellerId = body.sellerId ?? 'test-seller';
        await deps.store.purchaseRequests.insertOne({
          id: requestId,
          buyerId,
          title: 'test payment',
          buyerWalletAddress: null,
          status: 'open',
          createdAt: now,
          updatedAt: now,
        });
        await deps.store.sellerOffers.insertOne({
          id: offerId,
          purchaseRequestId: requestId,
          sellerId,
          amount,
          currency: 'USDT',
          walletAddress: null,
          status: 'pending',
          createdAt: now,
          updatedAt: now,
        });
        const id = newObjectId(now);
        const payment = await deps.coordinator.create(
          {
            id,
            provider: 'shkeeper',
            direction: 'in',
            status: 'pending',
            escrowState: 'unfunded',
            purchaseRequestId: requestId,
            sellerOfferId: offerId,
            buyerId,
            sellerId,
            amount: { amount, currency: 'USDT' },
            blockchain: { network: 'bsc', token: 'USDT' },
            externalId: `AMN_TEST_${id}`,
            // A test invoice address of its own, as SHKeeper would hand out: callbacks are bound to it.
            payAddress: Wallet.createRandom().address,
            liveOfferKey: offerId,
            providerData: { test: true, shkeeper: { crypto: 'BNB-USDT' } },
            metadata: {},
          },
          'dev_test_payment',
          'system',
        );
        return ok({ paymentId: payment.id, externalId: payment.externalId, purchaseRequestId: requestId, sellerOfferId: offerId });
      },
      { status: 201 },
    ),
  );

  router.post(
    '/trigger-webhook',
    // Admin only: a signed PAID delivery completes a payment, even in development.
    requireAdmin(deps.tokens),
    endpoint({ body: triggerWebhookBody }, async ({ body }, req) => {
      const payment = await deps.store.payments.findById(body.paymentId);
      if (!payment || !payment.externalId) {
        throw fail('payment_not_found');
      }
      const secret = deps.config.shkeeper.webhookSecret;
      if (!secret) throw fail('not_configured', { message: 'SHKEEPER_WEBHOOK_SECRET is not configured' });
      const txid = body.txid ?? `0x${newObjectId()}${newObjectId()}${'0'.repeat(16)}`;
      const amount = payment.amount.amount;
      const payload = {
        external_id: payment.externalId,
        crypto: 'BNB-USDT',
        addr: payment.payAddress ?? '0x0',
        fiat: 'USD',
        balance_fiat: amount,
        balance_crypto: amount,
        paid: body.status !== 'PARTIAL',
        status: body.status,
        fee_fixed: '0',
        fee_percent: '0',
        fee_policy: 'NO_FEE',
        overpaid_fiat: '0.00',
        transactions: [
          { txid, date: now(), amount_crypto: amount, amount_fiat: amount, amount_fiat_without_fee: amount, fee_fiat: '0', trigger: true, crypto: 'BNB-USDT' },
        ],
      };
      const raw = compactSorted(payload);
      const ts = String(Math.floor(deps.clock.now().getTime() / 1000));
      // Back to this server over the socket the request came in on — never to the client-chosen
      // Host header, which would send a validly signed callback wherever the caller points it.
      const local = req.socket.localAddress ?? '127.0.0.1';
      const self = `http://${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
      const res = await fetch(`${self}/api/payment/shkeeper/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': hmacHex(secret, `${ts}.`, raw) },
        body: raw,
      });
      return ok({ webhookStatus: res.status, webhookResponse: await res.json().catch(() => null), payload });
    }),
  );
  return router;
}

const now = () => new Date().toISOString().replace('T', ' ').slice(0, 19);

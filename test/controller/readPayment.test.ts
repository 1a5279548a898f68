import { describe, expect, it } from 'vitest';
import type { Monitor } from '../../src/platform/monitors/monitorRegistry.js';
import { appWithPayment, expectError, TX_A, UNKNOWN_ID } from '../helpers/controllerKit.js';

describe('GET /api/payment/:id', () => {
  it.each([
    ['the buyer', 'buyer-1', false],
    ['the seller', 'seller-1', false],
    ['an admin', 'ops', true],
  ])('shows the payment to %s', async (_label, who, admin) => {
    // A pending payment's hash is a claim (issue 10): the view's transactionHash shows it.
    const claimedAt = new Date(Date.now() - 1000);
    const t = await appWithPayment({
      metadata: { note: 'x' },
      claim: { txHash: TX_A, from: null, nonce: null, source: 'api', actor: 'buyer-1', at: claimedAt },
    });
    const res = await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', t.bearer(who, { admin }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: {
        id: t.payment.id,
        provider: 'manual',
        direction: 'in',
        status: 'pending',
        escrowState: 'unfunded',
        purchaseRequestId: t.payment.purchaseRequestId,
        sellerOfferId: t.payment.sellerOfferId,
        buyerId: 'buyer-1',
        sellerId: 'seller-1',
        amount: { amount: '25.5', currency: 'USDT' },
        blockchain: { network: 'bsc', token: 'USDT' },
        transactionHash: TX_A,
        // The escrow ledger fields the view gained with issue 10.
        claim: { transactionHash: TX_A, at: claimedAt.toISOString() },
        escrow: {
          received: '0',
          excess: '0',
          shortfall: null,
          available: '0',
          disbursed: '0',
          payer: null,
          provenWallets: [],
          credits: [],
          inFlight: null,
          disbursements: [],
        },
        escrowPaymentId: null,
        externalId: null,
        paymentUrl: null,
        payAddress: null,
        expiresAt: null,
        providerTaskId: null,
        releaseTxHash: null,
        refundTxHash: null,
        metadata: { note: 'x' },
        createdAt: t.payment.createdAt.toISOString(),
        updatedAt: t.payment.updatedAt.toISOString(),
      },
    });
  });

  it('answers a user who is not a party with the same 404 as for an unknown id', async () => {
    const t = await appWithPayment();
    const hidden = await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', t.bearer('stranger'));
    const unknown = await t.http().get(`/api/payment/${UNKNOWN_ID}`).set('Authorization', t.bearer('stranger'));
    expectError(hidden, 404, 'payment_not_found');
    expect(hidden.body).toEqual(unknown.body);
  });

  it('answers an admin 404 for an unknown id', async () => {
    const t = await appWithPayment();
    expectError(
      await t
        .http()
        .get(`/api/payment/${UNKNOWN_ID}`)
        .set('Authorization', t.bearer('ops', { admin: true })),
      404,
      'payment_not_found',
    );
  });

  it('does not expose provider data or history', async () => {
    const t = await appWithPayment({ providerData: { secret: 'quote' } });
    const res = await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', t.bearer('buyer-1'));
    expect(res.body.data).not.toHaveProperty('providerData');
    expect(res.body.data).not.toHaveProperty('history');
  });
});

describe('GET /api/payment/:id/debug', () => {
  it('gives an admin the raw payment with history, blockchain facts and monitor status', async () => {
    const t = await appWithPayment({ transactionHash: TX_A, providerData: { quote: '1' }, payAddress: '0xabc' });
    const monitor: Monitor = {
      name: 'wallet',
      status: () => ({ running: true, intervalMs: 1000, lastRunAt: null, lastError: null }),
      start: () => undefined,
      stop: async () => undefined,
    };
    t.ctx.monitors.register(monitor);
    await t
      .http()
      .put(`/api/payment/${t.payment.id}`)
      .set('Authorization', t.bearer('ops', { admin: true }))
      .send({ status: 'processing' });

    const res = await t
      .http()
      .get(`/api/payment/${t.payment.id}/debug`)
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data.payment).toMatchObject({ id: t.payment.id, status: 'processing', providerData: { quote: '1' } });
    expect(res.body.data.payment.history).toEqual([
      expect.objectContaining({ fromStatus: 'pending', toStatus: 'processing', source: 'api', actor: 'ops', at: expect.any(String) }),
    ]);
    expect(res.body.data.blockchain).toEqual({
      network: 'bsc',
      token: 'USDT',
      transactionHash: TX_A,
      payAddress: '0xabc',
      chainId: t.config.bsc.chainId,
      confirmationsRequired: t.config.bsc.confirmations,
    });
    expect(res.body.data.monitors).toMatchObject({
      wallet: { running: true, intervalMs: 1000, lastRunAt: null, lastError: null },
      walletMonitor: { running: false },
      autoWebhook: { running: false },
    });
  });

  it('reports null network and token for a payment without blockchain details', async () => {
    const t = await appWithPayment({ blockchain: null });
    const res = await t
      .http()
      .get(`/api/payment/${t.payment.id}/debug`)
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(res.body.data.blockchain).toMatchObject({ network: null, token: null });
  });

  it.each(['buyer-1', 'seller-1', 'stranger'])('refuses the non-admin %s with 403 admin_required', async (who) => {
    const t = await appWithPayment();
    expectError(await t.http().get(`/api/payment/${t.payment.id}/debug`).set('Authorization', t.bearer(who)), 403, 'admin_required');
  });

  it('answers a non-admin 403 for an unknown id too, so it reveals nothing', async () => {
    const t = await appWithPayment();
    expectError(await t.http().get(`/api/payment/${UNKNOWN_ID}/debug`).set('Authorization', t.bearer('stranger')), 403, 'admin_required');
  });

  it('answers an admin 404 for an unknown id', async () => {
    const t = await appWithPayment();
    expectError(
      await t
        .http()
        .get(`/api/payment/${UNKNOWN_ID}/debug`)
        .set('Authorization', t.bearer('ops', { admin: true })),
      404,
      'payment_not_found',
    );
  });
});

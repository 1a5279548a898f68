import { describe, expect, it } from 'vitest';
import { callbackHeaders, compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import {
  createPayout,
  expectNothingChanged,
  outbound,
  payoutBody,
  PAYOUT_TARGETS,
  payoutEvents,
  payoutOf,
  payoutStatus,
  reconciler,
  seed,
  usePayoutHarness,
} from './payoutKit.js';

/**
 * POST /api/payment/shkeeper/payout/webhook: SHKeeper's payout callback (§6.5) — a flat object,
 * signed with X-Shkeeper-Timestamp/-Signature and no API-key header — answered 202, applied once
 * (→ completed, payout-completed), deduplicated. Refusals answer { success:false, message,
 * data:null } and change nothing.
 */

const h = usePayoutHarness({ payoutCallbacks: true });

const WEBHOOK = '/shkeeper/payout/webhook';
const txidOf = (n: number) => `0x${n.toString(16).padStart(2, '0').repeat(32)}`;
const completedEvents = (payoutId: string) => payoutEvents(h, payoutId).filter((e) => e.event === 'payout-completed');

async function newPayout() {
  const m = await seed(h);
  const r = await createPayout(h, payoutBody(m));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data as { payoutId: string; taskId: string };
}

/** A payout callback as SHKeeper sends it, for our external id. */
function callbackBody(externalId: string, txid: string, over: Record<string, unknown> = {}) {
  return {
    payout_id: 7,
    external_id: externalId,
    tx_hash: txid,
    status: 'SUCCESS',
    amount: '25.5000000000',
    crypto: 'BNB-USDT',
    amount_fiat: '25.50000000000',
    currency_fiat: 'USD',
    timestamp: '2026-01-01T10:00:00',
    ...over,
  };
}

/** Posts a payout callback; resolves with the answer once the inbox has applied what it recorded. */
async function postCallback(raw: string, opts: { badSignature?: boolean; legacy?: boolean; timestampOffsetSec?: number; signedBody?: string } = {}) {
  const headers = callbackHeaders(opts.signedBody ?? raw, {
    apiKey: h.fake.apiKey,
    withApiKeyHeader: opts.legacy === true,
    legacy: opts.legacy,
    badSignature: opts.badSignature,
    timestamp: Math.floor(Date.now() / 1000) + (opts.timestampOffsetSec ?? 0),
  });
  const answer = await h.anonymous.post(WEBHOOK).set(headers).send(raw);
  await h.settle();
  return answer;
}

describe('the payout callback from the fake SHKeeper', () => {
  it('completes the payout, acknowledged 202, announced once; duplicates change nothing', async () => {
    const { payoutId, taskId } = await newPayout();
    const txid = txidOf(1);
    h.fake.completePayoutTask(taskId, { txids: [txid], callback: { duplicates: 3 } });
    await h.fake.callbacksSettled();
    const deliveries = h.fake.deliveries.filter((d) => d.externalId === `PAYOUT_${payoutId}`);
    expect(deliveries.map((d) => [d.status, d.duplicate])).toEqual([
      [202, false],
      [202, true],
      [202, true],
      [202, true],
    ]);
    for (const d of deliveries) {
      expect(Object.keys(d.headers).map((k) => k.toLowerCase())).not.toContain('x-shkeeper-api-key');
      expect(JSON.parse(d.body)).toMatchObject({ external_id: `PAYOUT_${payoutId}`, tx_hash: txid, status: 'SUCCESS' });
    }
    const p = await payoutOf(h, payoutId);
    expect(p).toMatchObject({ status: 'completed', transactionHash: txid });
    expect(p.history.filter((e) => e.toStatus === 'completed')).toEqual([expect.objectContaining({ source: 'shkeeper_payout_webhook' })]);
    expect(completedEvents(payoutId)).toEqual([
      { targets: PAYOUT_TARGETS, event: 'payout-completed', payload: expect.objectContaining({ payoutId, status: 'completed', transactionHash: txid }) },
    ]);
    // Polling and reconciling afterwards add nothing.
    expect((await payoutStatus(h, taskId)).body.data.payoutStatus).toBe('completed');
    await reconciler(h).tick();
    expect(completedEvents(payoutId)).toHaveLength(1);
  });

  it('a callback with a bad signature is refused every time and changes nothing', async () => {
    const { payoutId, taskId } = await newPayout();
    const before = await payoutOf(h, payoutId);
    h.fake.completePayoutTask(taskId, { txids: [txidOf(2)], callback: { badSignature: true } });
    await h.fake.callbacksSettled();
    const deliveries = h.fake.deliveries.filter((d) => d.externalId === `PAYOUT_${payoutId}`);
    expect(deliveries.length).toBe(7);
    expect(new Set(deliveries.map((d) => d.status))).toEqual(new Set([401]));
    expect(await payoutOf(h, payoutId)).toEqual(before);
    expect(completedEvents(payoutId)).toEqual([]);
  });
});

describe('hand-made payout callbacks', () => {
  it('a signed callback → 202 { success, message, data }', async () => {
    const { payoutId } = await newPayout();
    const r = await postCallback(compactSortedJson(callbackBody(`PAYOUT_${payoutId}`, txidOf(3))));
    expect(r.status).toBe(202);
    // Recorded, then applied by the inbox: the answer names the delivery, the payout moved once applied.
    expect(r.body).toEqual({ success: true, message: 'payout callback recorded', data: { deliveryId: expect.stringMatching(/^[0-9a-f]{24}$/) } });
    const row = (await h.store.webhookDeliveries.findById(r.body.data.deliveryId))!;
    expect(row).toMatchObject({ kind: 'payout', outcome: 'applied', paymentId: payoutId, job: { state: null, attempts: 1 } });
    expect((await payoutOf(h, payoutId)).status).toBe('completed');
    expect(completedEvents(payoutId)).toHaveLength(1);
    const again = await expectNothingChanged(h, () => postCallback(compactSortedJson(callbackBody(`PAYOUT_${payoutId}`, txidOf(3)))));
    expect(again.status).toBe(202);
    expect(again.body.success).toBe(true);
  });

  it('401 for a bad, missing, stale or API-key-only signature; nothing changes', async () => {
    const { payoutId } = await newPayout();
    const raw = compactSortedJson(callbackBody(`PAYOUT_${payoutId}`, txidOf(4)));
    for (const [what, send] of [
      ['bad signature', () => postCallback(raw, { badSignature: true })],
      ['stale timestamp', () => postCallback(raw, { timestampOffsetSec: -3600 })],
      ['API key header only', () => postCallback(raw, { legacy: true })],
      ['nothing', () => h.anonymous.post(WEBHOOK).set({ 'content-type': 'application/json' }).send(raw)],
      ['signature of another body', () => postCallback(raw, { signedBody: raw.replace('25.5000000000', '99.5000000000') })],
    ] as const) {
      const r = await expectNothingChanged(h, send);
      expect(r.status, what).toBe(401);
      expect(r.body).toEqual({ success: false, message: expect.any(String), data: null, error: { code: 'invalid_signature', message: expect.any(String) } });
    }
    expect((await payoutOf(h, payoutId)).status).toBe('processing');
    expect(completedEvents(payoutId)).toEqual([]);
  });

  it('400 for a signed body that is not a payout callback; nothing changes', async () => {
    const { payoutId } = await newPayout();
    const ext = `PAYOUT_${payoutId}`;
    const good = callbackBody(ext, txidOf(5));
    for (const raw of [
      'not json',
      '',
      '[]',
      compactSortedJson({ payouts: [good] }),
      compactSortedJson({ ...good, tx_hash: undefined }),
      compactSortedJson({ ...good, external_id: undefined }),
      compactSortedJson({ ...good, amount: 'lots' }),
      compactSortedJson({ ...good, status: '' }),
    ]) {
      const r = await expectNothingChanged(h, () => postCallback(raw));
      expect(r.status, raw).toBe(400);
      expect(r.body).toEqual({ success: false, message: expect.any(String), data: null, error: { code: 'validation_error', message: expect.any(String) } });
    }
    expect((await payoutOf(h, payoutId)).status).toBe('processing');
  });

  it('a callback for an unknown external id is acknowledged and changes nothing', async () => {
    const r = await expectNothingChanged(h, () => postCallback(compactSortedJson(callbackBody('PAYOUT_000000000000000000000000', txidOf(6)))));
    expect(r.status).toBe(202);
    expect(r.body.success).toBe(true);
  });

  it('settles a payout whose creation answer was lost (still pending) once SHKeeper calls back', async () => {
    const m = await seed(h);
    h.fake.fail('reset_after_processing', { times: 1, endpoint: 'payout' });
    const r = await createPayout(h, payoutBody(m));
    expect(r.status).toBeGreaterThanOrEqual(502);
    const [p] = await outbound(h, m.offer.id);
    expect(p!.status).toBe('pending');
    const taskId = h.fake.taskIds.at(-1)!;
    h.fake.completePayoutTask(taskId, { txids: [txidOf(7)] });
    await h.fake.callbacksSettled();
    expect(await payoutOf(h, p!.id)).toMatchObject({ status: 'completed', transactionHash: txidOf(7) });
    await reconciler(h).tick();
    expect(completedEvents(p!.id)).toHaveLength(1);
  });

  it('a success callback for a payout already failed is acknowledged, kept for an admin, and does not reopen it', async () => {
    // The answer was lost and SHKeeper said it knew nothing, so the reconciler failed it; then SHKeeper pays after all.
    const m = await seed(h);
    h.fake.fail('hang', { times: 1, endpoint: 'payout' });
    expect((await createPayout(h, payoutBody(m))).status).toBeGreaterThanOrEqual(502);
    await reconciler(h).tick();
    const [p] = await outbound(h, m.offer.id);
    expect(p!.status).toBe('failed');
    const r = await postCallback(compactSortedJson(callbackBody(p!.externalId!, txidOf(8))));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.success).toBe(true);
    const after = await payoutOf(h, p!.id);
    expect(after.status).toBe('failed');
    expect(after.providerData.lateSuccess).toMatchObject({ txid: txidOf(8) });
    expect(completedEvents(p!.id)).toEqual([]);
  });
});
